// express-session store in the Ferry database, so sessions survive a restart. Only signed-in sessions are kept.
import session from 'express-session';
import type { Db } from '../lib/db.ts';

type Callback = (err?: unknown, data?: session.SessionData | null) => void;

export class PrismaSessionStore extends session.Store {
  private sweeper: NodeJS.Timeout;

  constructor(private readonly db: Db, private readonly defaultTtlMs: number) {
    super();
    // Expired rows are harmless (get() checks expiry) but are swept hourly to keep the table small.
    this.sweeper = setInterval(() => void this.db.session.deleteMany({ where: { expiresAt: { lt: new Date() } } }).catch(() => {}), 3600_000);
    this.sweeper.unref();
  }

  private expiry(sess: session.SessionData): Date {
    const exp = sess.cookie?.expires;
    return exp ? new Date(exp) : new Date(Date.now() + this.defaultTtlMs);
  }

  override get(sid: string, cb: Callback): void {
    this.db.session.findUnique({ where: { sid } }).then((row) => {
      if (!row || row.expiresAt < new Date()) return cb(null, null);
      cb(null, JSON.parse(row.data) as session.SessionData);
    }, cb);
  }

  override set(sid: string, sess: session.SessionData, cb?: (err?: unknown) => void): void {
    // Only signed-in sessions are stored: an anonymous visitor must not be able to add rows (one per request).
    // Saving a session that lost its user (logout) removes its row.
    if (!(sess as { passport?: { user?: unknown } }).passport?.user) return this.destroy(sid, cb);
    const data = JSON.stringify(sess);
    const expiresAt = this.expiry(sess);
    this.db.session.upsert({ where: { sid }, create: { sid, data, expiresAt }, update: { data, expiresAt } })
      .then(() => cb?.(), (err) => cb?.(err));
  }

  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.db.session.deleteMany({ where: { sid } }).then(() => cb?.(), (err) => cb?.(err));
  }

  override touch(sid: string, sess: session.SessionData, cb?: (err?: unknown) => void): void {
    this.db.session.updateMany({ where: { sid }, data: { expiresAt: this.expiry(sess) } }).then(() => cb?.(), (err) => cb?.(err));
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
