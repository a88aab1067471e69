// Per-project lanes for process jobs: at most `perProject` run at once, the others wait their turn in order, and a
// project with too many waiting is refused up front, so a burst of requests never opens a burst of SSH sessions.

export interface LaneTicket {
  /** Resolves when this job may run. */
  turn(): Promise<void>;
  /** Gives the place back (after running, or instead of running); safe to call more than once. */
  leave(): void;
}

interface Lane {
  admitted: number;
  running: number;
  waiters: (() => void)[];
}

export class ProjectLanes {
  private lanes = new Map<number, Lane>();

  constructor(private readonly perProject: number, private readonly maxWaiting: number) {}

  /** Jobs of the project admitted and not finished yet (running or waiting). */
  admitted(projectId: number): number {
    return this.lanes.get(projectId)?.admitted ?? 0;
  }

  /** Takes a place synchronously (so parallel requests cannot all pass the check), or null when the lane is full. */
  admit(projectId: number): LaneTicket | null {
    let lane = this.lanes.get(projectId);
    if (!lane) this.lanes.set(projectId, (lane = { admitted: 0, running: 0, waiters: [] }));
    if (lane.admitted >= this.perProject + this.maxWaiting) return null;
    const own = lane;
    own.admitted++;
    let state: 'admitted' | 'waiting' | 'running' | 'done' = 'admitted';
    let go: (() => void) | null = null;
    const next = () => {
      while (own.running < this.perProject && own.waiters.length) own.waiters.shift()!();
    };
    return {
      turn: () => new Promise<void>((resolve) => {
        if (state !== 'admitted') return resolve();
        state = 'waiting';
        go = () => {
          state = 'running';
          own.running++;
          resolve();
        };
        own.waiters.push(go);
        next();
      }),
      leave: () => {
        if (state === 'done') return;
        if (state === 'running') own.running--;
        if (state === 'waiting' && go) own.waiters.splice(own.waiters.indexOf(go), 1);
        state = 'done';
        own.admitted--;
        next();
        if (own.admitted === 0) this.lanes.delete(projectId);
      },
    };
  }
}
