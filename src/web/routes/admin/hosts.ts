// Placeholder: configuration pages for hosts are being written.
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';

export function hostsRouter(_svc: Services) {
  return Router();
}
