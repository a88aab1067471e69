// The browser (public/js/lib/status.js) and the EJS views (viewHelpers.statusBadge) colour statuses from two copies
// of one table: the server renders a job's badges, the browser recolours them live, so the two must agree.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { viewHelpers } from '../../../src/web/view-helpers.ts';

const browserModule = pathToFileURL(path.resolve(import.meta.dirname, '../../../public/js/lib/status.js')).href;

describe('status badges', () => {
  it('gives every status the same colour in the browser module as in the views', async () => {
    const { STATUS_COLORS, statusColor } = (await import(browserModule)) as {
      STATUS_COLORS: Record<string, string>; statusColor: (status: string) => string;
    };
    for (const status of [...Object.keys(STATUS_COLORS), 'something-new', 'toString']) {
      expect(viewHelpers.statusBadge(status), status).toBe(`text-bg-${statusColor(status)}`);
    }
    expect(Object.keys(STATUS_COLORS)).toEqual(expect.arrayContaining(['succeeded', 'running', 'queued', 'failed', 'partial', 'interrupted', 'ok', 'denied']));
  });
});
