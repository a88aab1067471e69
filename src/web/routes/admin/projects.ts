// Placeholder: configuration pages for projects are being written.
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';

export function projectsRouter(_svc: Services) {
  return Router();
}
