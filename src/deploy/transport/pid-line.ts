// Finds a command's process-group id in its stderr: every command first prints a marker line with its shell's pid,
// which a timeout or a stop uses to kill the whole group; the line is taken out before anyone sees stderr.

/**
 * First stderr line of every command: the remote shell's pid, which is also its process group (sshd calls setsid).
 * Each command's marker carries a random nonce, so a line a login shell prints by itself (`FERRYPID:1` in a .bashrc)
 * is never taken for it.
 */
export const PID_MARK = 'FERRYPID:';
/** Stderr searched for the pid line before giving up on it (a login shell may print a banner first). */
const PID_LINE_SEARCH_CHARS = 64 * 1024;

/**
 * Takes this command's FERRYPID line out of stderr (it may arrive split, or after a login-shell banner). Only a whole
 * line `FERRYPID:<nonce>:<digits>` counts; any other FERRYPID line is the host's own output and stays in stderr.
 * Each finished line is tested once and never rescanned, so the work is linear in what the host sends, whatever size
 * its packets are; stderr is held back until the line is found or PID_LINE_SEARCH_CHARS have passed without it.
 */
export class PidLineFilter {
  pid: number | null = null;
  /** Finished lines (with their newline) seen before the marker; null once the search is over. */
  private held: string[] | null = [];
  private heldChars = 0;
  /** The unfinished last line, in pieces (joined once, when its newline arrives). */
  private partial: string[] = [];
  private partialChars = 0;
  private readonly mark: string;

  constructor(nonce: string) {
    this.mark = `${PID_MARK}${nonce}:`;
  }

  push(text: string): string {
    if (this.held === null) return text;
    let start = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      const piece = text.slice(start, newline);
      const line = this.partial.length > 0 ? this.partial.join('') + piece : piece;
      this.partial = [];
      this.partialChars = 0;
      start = newline + 1;
      const pid = this.pidIn(line);
      if (pid !== null) {
        this.pid = pid;
        const before = this.held.join('');
        this.held = null;
        return before + text.slice(start);
      }
      this.held.push(`${line}\n`);
      this.heldChars += line.length + 1;
    }
    if (start < text.length) {
      this.partial.push(text.slice(start));
      this.partialChars += text.length - start;
    }
    if (this.heldChars + this.partialChars > PID_LINE_SEARCH_CHARS) return this.end();
    return '';
  }

  end(): string {
    if (this.held === null) return '';
    const rest = this.held.join('') + this.partial.join('');
    this.held = null;
    this.partial = [];
    return rest;
  }

  /** The pid when `line` is exactly this command's marker line, else null. */
  private pidIn(line: string): number | null {
    if (!line.startsWith(this.mark)) return null;
    const digits = line.slice(this.mark.length);
    return digits.length >= 1 && digits.length <= 10 && /^\d+$/.test(digits) ? Number(digits) : null;
  }
}
