// Rolling process control: run an action batch by batch, checking each batch's status before the next.
import type { ProcessAction } from '../../deploy/runner-types.ts';
import type { EventSink } from '../../deploy/types.ts';
import { badRequest, FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';

/** Rolling mode: `batchSize` hosts at a time, or `batchPercent` of them (at least one). */
export function batchSizeOf(input: { batchSize?: unknown; batchPercent?: unknown }, hostCount: number): number | null {
  const size = input.batchSize === undefined || input.batchSize === null || input.batchSize === '' ? null : Number(input.batchSize);
  const percent = input.batchPercent === undefined || input.batchPercent === null || input.batchPercent === '' ? null : Number(input.batchPercent);
  if (size !== null && !(Number.isInteger(size) && size >= 1)) throw badRequest('The batch size must be a whole number of hosts, at least 1.', { batchSize: 'must be >= 1' });
  if (percent !== null && !(percent > 0 && percent <= 100)) throw badRequest('The batch percentage must be between 1 and 100.', { batchPercent: 'must be 1-100' });
  if (size !== null) return Math.min(size, hostCount);
  if (percent !== null) return Math.max(1, Math.floor((hostCount * percent) / 100));
  return null;
}

/**
 * Rolling restart: each batch runs the action, then `status`; the next batch starts only if every host of this
 * one is running again. At the first failed batch the rest are skipped, and the job says which hosts were done.
 */
export async function rollingProcessAction<T extends { host: { name: string } }>(
  items: T[], batchSize: number, action: ProcessAction, emit: EventSink,
  run: (hosts: T[], action: ProcessAction, sink: EventSink) => Promise<void>,
): Promise<void> {
  const done: string[] = [];
  for (let start = 0, batch = 1; start < items.length; start += batchSize, batch++) {
    const hosts = items.slice(start, start + batchSize);
    const failed = new Set<string>();
    // The action's own "succeeded" is not the end for a host: its status check still has to pass.
    await run(hosts, action, (e) => {
      if (e.type === 'host' && e.status === 'failed') failed.add(e.host);
      if (e.type === 'host' && e.status === 'succeeded' && action !== 'status') return emit({ ...e, status: 'running', phase: 'checking status' });
      return emit(e);
    });
    const toCheck = action === 'status' ? [] : hosts.filter((h) => !failed.has(h.host.name));
    if (toCheck.length) {
      // After start/restart every process must be running again; after stop, none may be.
      const wantRunning = action !== 'stop';
      await run(toCheck, 'status', (e) => {
        if (e.type !== 'host' || (e.status !== 'failed' && e.status !== 'succeeded')) return emit(e);
        const stopped = e.status === 'failed' && /not running/.test(e.error ?? '');
        const ok = wantRunning ? e.status === 'succeeded' : stopped;
        if (ok) return emit({ ...e, status: 'succeeded', phase: 'done', error: undefined });
        failed.add(e.host);
        const why = wantRunning ? `the status check failed: ${e.error ?? ''}` : e.status === 'succeeded' ? 'it is still running' : `the status check failed: ${e.error ?? ''}`;
        return emit({ ...e, status: 'failed', phase: 'failed', error: `${action} finished but ${why}` });
      });
    }
    if (failed.size) {
      const rest = items.slice(start + batchSize);
      const reason = `skipped: batch ${batch} failed on ${[...failed].join(', ')}; hosts done before it: ${done.length ? done.join(', ') : 'none'}`;
      for (const h of rest) await emit({ type: 'host', host: h.host.name, status: 'skipped', phase: 'skipped', error: reason });
      throw new FerryError('failed', done.length ? tk('Rolling {{action}} stopped at batch {{batch}} ({{failed}} failed). Done: {{done}}.') : tk('Rolling {{action}} stopped at batch {{batch}} ({{failed}} failed). Done: no host.'), {
        params: { action, batch, failed: [...failed].join(', '), done: done.join(', ') }, keyParams: ['action'],
      });
    }
    done.push(...hosts.map((h) => h.host.name));
  }
}
