// Request/session augmentation shared by the web layer.
import type { Actor } from '../services/context.ts';

declare global {
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends Actor {}
    interface Request {
      /** Set for requests authenticated with an API bearer token (no cookie: CSRF does not apply). */
      viaToken?: boolean;
    }
  }
}

declare module 'express-session' {
  interface SessionData {
    flash?: { type: 'success' | 'danger' | 'warning' | 'info'; message: string }[];
    csrfToken?: string;
  }
}

export {};
