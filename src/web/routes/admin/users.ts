// Placeholder: configuration pages for users are being written.
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';

export function usersRouter(_svc: Services) {
  return Router();
}
