// Login and logout.
import { Router, type Request, type Response, type NextFunction } from 'express';
import type passport from 'passport';
import type { Services } from '../../services/context.ts';
import { recordOp } from '../../services/oplog.ts';
import { FIELD_LIMITS } from '../../config.ts';
import { CONTROL } from '../../services/config/rules.ts';
import { LOCKED_MESSAGE, type LoginThrottle, type LockSubject } from '../auth/throttle.ts';
import type { LoginCsrf } from '../login-csrf.ts';

/** Only same-site relative paths may be redirect targets after login. */
// "/\\evil.com" and "//evil.com" would leave the site; control characters could smuggle either.
export const safeNext = (next: unknown): string => {
  if (typeof next !== 'string' || !/^\/(?![/\\])/.test(next) || next.includes('\\')) return '/';
  return [...next].some((c) => c.charCodeAt(0) < 0x20) ? '/' : next;
};

const lockDetail = (s: LockSubject) => (s.kind === 'user'
  ? 'logins for this user name locked after repeated failures'
  : `logins from ${s.value} locked after repeated failures`);

export function authRouter(svc: Services, pp: passport.PassportStatic, throttle: LoginThrottle, loginCsrf: LoginCsrf) {
  const router = Router();
  // Refusals during a lock are counted, not logged one by one: one row when the lock starts, one summary when it ends.
  throttle.onLockEnd = (lock) => {
    const ctx = { actor: null, ip: lock.kind === 'address' ? lock.value : '', userName: lock.kind === 'user' ? lock.value : '' };
    void recordOp(svc, ctx, { action: 'login', result: 'denied', detail: `${lock.refused} more login attempt${lock.refused === 1 ? ' was' : 's were'} refused while logins were locked` })
      .catch((err: unknown) => svc.logger.error({ err }, 'could not log the end of a login lock'));
  };

  throttle.onUnloggedFailures = (count) => {
    void recordOp(svc, { actor: null, ip: '' }, { action: 'login', result: 'failed', detail: `${count} more failed login${count === 1 ? ' was' : 's were'} not logged one by one (over the limit per minute)` })
      .catch((err: unknown) => svc.logger.error({ err }, 'could not log the failed-login summary'));
  };

  // GET /login
  router.get('/login', function getLogin(req, res) {
    if (req.user) return res.redirect('/');
    // The signed-out notice travels in the URL: a flash message would need a session for an anonymous visitor.
    if (req.query.signedOut === '1') res.locals.flash = [{ type: 'info', message: req.t('You are signed out.') }];
    res.render('pages/auth/login', { title: req.t('Sign in'), error: null, username: '', next: safeNext(req.query.next) });
  });

  // POST /login
  router.post('/login', async function postLogin(req: Request, res: Response, next: NextFunction) {
    const rawName = req.body?.username;
    const username = typeof rawName === 'string' ? rawName.trim() : '';
    const ip = req.ip ?? '';
    const renderError = (status: number, error: string, shownName = username) =>
      res.status(status).render('pages/auth/login', { title: req.t('Sign in'), error, username: shownName, next: safeNext(req.body?.next) });

    // A name no account can have is refused before anything is counted or written (a 60 KB name must not reach the log).
    // Only the length and control characters are checked here, not the character set: an account created before the
    // name rule existed (or by an older CLI) must still be able to sign in.
    if (typeof rawName !== 'string' || !username || username.length > FIELD_LIMITS.name || CONTROL.test(username)) {
      const why = typeof rawName !== 'string' || !username
        ? req.t('Enter your user name.')
        : req.t('That is not a valid user name: user names have at most {{max}} characters on one line.', { max: FIELD_LIMITS.name });
      return renderError(400, why, '');
    }
    // Counted before the password is checked, so parallel guesses cannot get past the limit.
    const verdict = await throttle.attempt(username, ip);
    if (!verdict.allowed) {
      if (verdict.lockStarted) {
        await recordOp(svc, { actor: null, ip, userName: username }, { action: 'login', result: 'denied', detail: lockDetail(verdict.lockStarted) });
      }
      return renderError(429, req.t(LOCKED_MESSAGE, { count: verdict.minutes }));
    }
    pp.authenticate('local', (err: unknown, user: Express.User | false) => {
      if (err) return next(err);
      if (!user) {
        void (async () => {
          if (throttle.failedRows.take()) await recordOp(svc, { actor: null, ip, userName: username }, { action: 'login', result: 'failed', detail: 'wrong user name or password' });
          renderError(401, req.t('Wrong user name or password.'));
        })().catch(next);
        return;
      }
      // A fresh session id on login defeats session fixation.
      req.login(user, (loginErr) => {
        if (loginErr) return next(loginErr);
        void (async () => {
          await throttle.succeeded(username, ip);
          loginCsrf.clear(res);
          await recordOp(svc, { actor: { id: user.id, name: username } as Express.User, ip }, { action: 'login', result: 'ok' });
          res.redirect(safeNext(req.body?.next));
        })().catch(next);
      });
    })(req, res, next);
  });

  // POST /logout
  router.post('/logout', function postLogout(req, res, next) {
    const actor = req.user;
    req.logout((err) => {
      if (err) return next(err);
      void (async () => {
        if (actor) await recordOp(svc, { actor, ip: req.ip ?? '' }, { action: 'logout', result: 'ok' });
        res.redirect('/login?signedOut=1');
      })().catch(next);
    });
  });

  return router;
}
