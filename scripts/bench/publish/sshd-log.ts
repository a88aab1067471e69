// What a method cost each host, read from its sshd's log (LogLevel VERBOSE): logins, remote commands, SFTP sessions.
import type { SshdHandle } from '../../../test/kit/sshd.ts';

export interface SessionCounts {
  /** "Accepted publickey for ...": one per SSH connection that logged in (not the "Accepted key" probes). */
  logins: number;
  /** "Starting session: command ...": one per exec request, each a `$SHELL -c` on the host. */
  commands: number;
  /** "Starting session: subsystem 'sftp' ...". */
  sftp: number;
}

export function countSessions(log: string): SessionCounts {
  const count = (re: RegExp) => (log.match(re) ?? []).length;
  return {
    logins: count(/Accepted publickey for /g),
    commands: count(/Starting session: command /g),
    sftp: count(/Starting session: subsystem 'sftp' /g),
  };
}

/** Remembers where each sshd's log ended, so a run counts only its own lines. */
export class LogMarks {
  private readonly marks: number[];
  constructor(private readonly sshds: SshdHandle[]) {
    this.marks = sshds.map((s) => s.readLog().length);
  }

  /** Counts per sshd since the marks, in the order given to the constructor. */
  counts(): SessionCounts[] {
    return this.sshds.map((s, i) => countSessions(s.readLog().slice(this.marks[i])));
  }
}
