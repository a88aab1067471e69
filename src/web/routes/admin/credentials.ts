// Placeholder: configuration pages for credentials are being written.
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';

export function credentialsRouter(_svc: Services) {
  return Router();
}
