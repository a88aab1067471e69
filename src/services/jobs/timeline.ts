// Where each host spent its time: the phase changes the recorder sees, kept as JobHost.timeline (JSON
// [{ "phase": "uploading", "at": epoch ms }, ...]) and shown after the job as one row per host on a shared time axis.
import { PROGRESS_LIMITS } from '../../config.ts';
import { isActiveStatus } from './status.ts';

export interface TimelineEntry {
  phase: string;
  at: number;
}

/** The timeline word for a host event: the phase while it runs, `done` or `failed` (or the status) once it ends. */
export function timelinePhase(status: string, phase: string): string {
  if (status === 'succeeded') return 'done';
  if (status === 'failed') return 'failed';
  return isActiveStatus(status) ? phase : status;
}

const ENDS = new Set(['done', 'failed', 'skipped']);

/**
 * Adds a phase change to a host's timeline; false when nothing changed (the same phase again, or the list is full).
 * A full list keeps its last place for the end, so a host that loops through phases still shows when it finished.
 */
export function addPhase(timeline: TimelineEntry[], phase: string, at: number, cap: number = PROGRESS_LIMITS.timelineEntries): boolean {
  const last = timeline.at(-1);
  if (last?.phase === phase || (last && ENDS.has(last.phase))) return false;
  if (timeline.length >= cap - (ENDS.has(phase) ? 0 : 1)) return false;
  timeline.push({ phase, at: Math.max(at, last?.at ?? at) });
  return true;
}

/** A stored timeline, or [] for none or an unreadable one (it is a view, never a reason to fail a page). */
export function parseTimeline(json: string): TimelineEntry[] {
  if (!json) return [];
  try {
    const value: unknown = JSON.parse(json);
    if (!Array.isArray(value)) return [];
    return value.filter((e): e is TimelineEntry => typeof e?.phase === 'string' && Number.isFinite(e?.at)).slice(0, PROGRESS_LIMITS.timelineEntries);
  } catch {
    return [];
  }
}
