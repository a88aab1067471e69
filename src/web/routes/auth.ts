// Login and logout.
import { Router, type Request, type Response, type NextFunction } from 'express';
import type passport from 'passport';
import type { Services } from '../../services/context.ts';
import { recordOp } from '../../services/oplog.ts';
import type { LoginThrottle } from '../auth/throttle.ts';
import { flash } from '../middleware/flash.ts';

/** Only same-site relative paths may be redirect targets after login. */
// "/\\evil.com" and "//evil.com" would leave the site; control characters could smuggle either.
const safeNext = (next: unknown): string => {
  if (typeof next !== 'string' || !/^\/(?![/\\])/.test(next) || next.includes('\\')) return '/';
  return [...next].some((c) => c.charCodeAt(0) < 0x20) ? '/' : next;
};

export function authRouter(svc: Services, pp: passport.PassportStatic, throttle: LoginThrottle) {
  const router = Router();

  // GET /login
  router.get('/login', function getLogin(req, res) {
    if (req.user) return res.redirect('/');
    res.render('pages/auth/login', { title: 'Sign in', error: null, username: '', next: safeNext(req.query.next) });
  });

  // POST /login
  router.post('/login', async function postLogin(req: Request, res: Response, next: NextFunction) {
    const username = String(req.body?.username ?? '').trim();
    const ip = req.ip ?? '';
    const renderError = (status: number, error: string) =>
      res.status(status).render('pages/auth/login', { title: 'Sign in', error, username, next: safeNext(req.body?.next) });

    const refusal = await throttle.refusal(username, ip);
    if (refusal) {
      await recordOp(svc, { actor: null, ip, userName: username }, { action: 'login', result: 'denied', detail: 'throttled after repeated failures' });
      return renderError(429, refusal);
    }
    pp.authenticate('local', (err: unknown, user: Express.User | false) => {
      if (err) return next(err);
      if (!user) {
        void (async () => {
          await throttle.failed(username, ip);
          await recordOp(svc, { actor: null, ip, userName: username }, { action: 'login', result: 'failed', detail: 'wrong user name or password' });
          renderError(401, 'Wrong user name or password.');
        })().catch(next);
        return;
      }
      // A fresh session id on login defeats session fixation.
      req.login(user, (loginErr) => {
        if (loginErr) return next(loginErr);
        void (async () => {
          await throttle.succeeded(username);
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
        flash(req, 'info', 'You are signed out.');
        res.redirect('/login');
      })().catch(next);
    });
  });

  return router;
}
