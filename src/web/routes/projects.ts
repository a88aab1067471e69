// Placeholder: web workflow pages for projects are being written.
import { Router } from 'express';
import type { Services } from '../../services/context.ts';
import type { JobRunner } from '../../services/jobs.ts';

export function projectsPagesRouter(_svc: Services, _jobs?: JobRunner) {
  return Router();
}
