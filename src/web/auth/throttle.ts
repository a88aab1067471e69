// Login throttling: too many failures for one user name or from one address locks logins out for a while.
import { RateLimiterMemory } from 'rate-limiter-flexible';

export interface ThrottleOptions {
  perUser?: number;
  perIp?: number;
  windowSec?: number;
  blockSec?: number;
}

export class LoginThrottle {
  private byUser: RateLimiterMemory;
  private byIp: RateLimiterMemory;

  constructor(opts: ThrottleOptions = {}) {
    const windowSec = opts.windowSec ?? 15 * 60;
    const blockSec = opts.blockSec ?? 15 * 60;
    this.byUser = new RateLimiterMemory({ keyPrefix: 'user', points: opts.perUser ?? 5, duration: windowSec, blockDuration: blockSec });
    this.byIp = new RateLimiterMemory({ keyPrefix: 'ip', points: opts.perIp ?? 20, duration: windowSec, blockDuration: blockSec });
  }

  /** Returns a plain message when logins are refused for this user/address, else null. */
  async refusal(user: string, ip: string): Promise<string | null> {
    const [u, i] = await Promise.all([this.byUser.get(user.toLowerCase()), this.byIp.get(ip)]);
    const blocked = [u, i].filter((r) => r && r.remainingPoints <= 0);
    if (blocked.length === 0) return null;
    const waitMs = Math.max(...blocked.map((r) => r!.msBeforeNext));
    const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
    return `Too many failed logins. Logins are locked for ${minutes} minute${minutes === 1 ? '' : 's'}; try again later or ask an administrator.`;
  }

  async failed(user: string, ip: string): Promise<void> {
    // consume() rejects once the limit is passed; that rejection is the lockout, not an error.
    await Promise.all([
      this.byUser.consume(user.toLowerCase()).catch(() => undefined),
      this.byIp.consume(ip).catch(() => undefined),
    ]);
  }

  async succeeded(user: string): Promise<void> {
    await this.byUser.delete(user.toLowerCase());
  }
}
