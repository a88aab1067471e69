// Placeholder: web workflow pages for jobs are being written.
import { Router } from 'express';
import type { Services } from '../../services/context.ts';
import type { JobRunner } from '../../services/jobs.ts';

export function jobsPagesRouter(_svc: Services, _jobs?: JobRunner) {
  return Router();
}
