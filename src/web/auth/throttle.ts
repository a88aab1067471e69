// Login throttling: too many failures for one user name or from one address locks logins out for a while.
// Each attempt is counted *before* its password is checked, so parallel guesses cannot slip past the limit, and
// refusals during a lock are counted in memory (one summary when the lock ends), not stored one by one.
import { isIPv6 } from 'node:net';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { LOGIN_THROTTLE } from '../../config.ts';
import { tk } from '../../lib/messages.ts';

/** What the sign-in page says during a lock (a plural message: {{count}} is the minutes left). */
export const LOCKED_MESSAGE = tk('Too many failed logins. Logins are locked for {{count}} minutes; try again later or ask an administrator.');

export interface ThrottleOptions {
  perUser?: number;
  perIp?: number;
  windowSec?: number;
  blockSec?: number;
  failedRowsPerMinute?: number;
}

/** What a lock applies to: one user name (lower case) or one client address. */
export interface LockSubject {
  kind: 'user' | 'address';
  value: string;
}

type AttemptVerdict =
  | { allowed: true }
  /** `lockStarted` is set on the attempt that started the lock (log it once); later refusals only count. */
  /** message: the English text; minutes: how long logins stay locked (pages show LOCKED_MESSAGE in the user's language). */
  | { allowed: false; message: string; minutes: number; lockStarted: LockSubject | null };

interface LockEndSummary extends LockSubject {
  /** Attempts refused while the lock was on, after the one that started it. */
  refused: number;
}

export class LoginThrottle {
  private byUser: RateLimiterMemory;
  private byIp: RateLimiterMemory;
  private readonly blockMs: number;
  /** Refusals per running lock ("user:name" / "address:ip"), reported through onLockEnd. */
  private locks = new Map<string, { subject: LockSubject; refused: number; timer: NodeJS.Timeout }>();
  /** Called when a lock that refused attempts ends (e.g. to write one summary row). */
  onLockEnd: ((summary: LockEndSummary) => void) | null = null;
  /** Called when a minute ends in which more failures happened than may be logged one by one. */
  onUnloggedFailures: ((count: number) => void) | null = null;
  /** Failed logins logged one row each, per minute across all clients. */
  readonly failedRows: FailedLoginBudget;

  constructor(opts: ThrottleOptions = {}) {
    const windowSec = opts.windowSec ?? LOGIN_THROTTLE.windowSec;
    const blockSec = opts.blockSec ?? LOGIN_THROTTLE.blockSec;
    this.blockMs = blockSec * 1000;
    this.byUser = new RateLimiterMemory({ keyPrefix: 'user', points: opts.perUser ?? LOGIN_THROTTLE.perUser, duration: windowSec, blockDuration: blockSec });
    this.byIp = new RateLimiterMemory({ keyPrefix: 'ip', points: opts.perIp ?? LOGIN_THROTTLE.perIp, duration: windowSec, blockDuration: blockSec });
    this.failedRows = new FailedLoginBudget(opts.failedRowsPerMinute ?? LOGIN_THROTTLE.failedRowsPerMinute, (count) => this.onUnloggedFailures?.(count));
  }

  /**
   * Counts one login attempt against the address and the user name, before the password is checked.
   * A successful login gives the points back (succeeded()), so only failures add up to a lock.
   */
  async attempt(user: string, rawIp: string): Promise<AttemptVerdict> {
    const ip = addressKey(rawIp);
    const ipRes = await this.byIp.consume(ip).then(() => null, (r: unknown) => this.rejection(r));
    if (ipRes) return this.refuse({ kind: 'address', value: ip }, ipRes);
    const userRes = await this.byUser.consume(user.toLowerCase()).then(() => null, (r: unknown) => this.rejection(r));
    if (userRes) return this.refuse({ kind: 'user', value: user.toLowerCase() }, userRes);
    return { allowed: true };
  }

  /** The right password: the user's failures are forgotten and this attempt does not count against the address. */
  async succeeded(user: string, ip: string): Promise<void> {
    await Promise.all([this.byUser.delete(user.toLowerCase()), this.byIp.reward(addressKey(ip), 1)]);
  }

  /** Stops the lock-end timers (app shutdown, tests). */
  close(): void {
    this.failedRows.close();
    for (const lock of this.locks.values()) clearTimeout(lock.timer);
    this.locks.clear();
  }

  private rejection(r: unknown): RateLimiterRes {
    if (r instanceof RateLimiterRes) return r;
    throw r; // a real error of the limiter, not a refusal
  }

  private refuse(subject: LockSubject, res: RateLimiterRes): AttemptVerdict {
    const points = subject.kind === 'user' ? this.byUser.points : this.byIp.points;
    const minutes = Math.max(1, Math.ceil(res.msBeforeNext / 60_000));
    const message = `Too many failed logins. Logins are locked for ${minutes} minute${minutes === 1 ? '' : 's'}; try again later or ask an administrator.`;
    const key = `${subject.kind}:${subject.value}`;
    // The limiter blocks on the first attempt past the limit; that one starts the lock.
    if (res.consumedPoints === points + 1) {
      const old = this.locks.get(key);
      if (old) clearTimeout(old.timer);
      if (this.locks.size < LOGIN_THROTTLE.maxCountedLocks || old) {
        const timer = setTimeout(() => this.endLock(key), this.blockMs);
        timer.unref();
        this.locks.set(key, { subject, refused: 0, timer });
      }
      return { allowed: false, message, minutes, lockStarted: subject };
    }
    const lock = this.locks.get(key);
    if (lock) lock.refused++;
    return { allowed: false, message, minutes, lockStarted: null };
  }

  private endLock(key: string): void {
    const lock = this.locks.get(key);
    this.locks.delete(key);
    if (lock && lock.refused > 0) this.onLockEnd?.({ ...lock.subject, refused: lock.refused });
  }
}

/**
 * The address a throttle counts against: an IPv6 client is counted by its /64 (one customer network hands out a
 * whole /64, so rotating addresses inside it must not reset the count); IPv4, also IPv4-mapped, by its address.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head, tail] = ip.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Failed logins are logged one row each only up to a budget per minute across all clients; beyond it they are
 * counted and one summary row is written when the minute ends, so many addresses together cannot fill the disk.
 */
class FailedLoginBudget {
  private used = 0;
  private overflow = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly perMinute: number, private readonly onOverflow: (count: number) => void) {}

  /** True when this failure may be logged as its own row. */
  take(): boolean {
    this.timer ??= setTimeout(() => this.roll(), 60_000).unref();
    if (this.used < this.perMinute) {
      this.used++;
      return true;
    }
    this.overflow++;
    return false;
  }

  /** Ends the current minute: reports what was only counted (tests call it instead of waiting). */
  roll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const overflow = this.overflow;
    this.used = 0;
    this.overflow = 0;
    if (overflow > 0) this.onOverflow(overflow);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
