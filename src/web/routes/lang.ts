// The language switch. Signed in: POST /lang saves the choice on the account (and in the ferry_lang cookie, so the
// sign-in page keeps it after signing out); '' goes back to following the browser. Signed out (the sign-in page):
// GET /lang/:lng only sets the cookie, a preference that changes nothing on the server.
import { Router, type Response } from 'express';
import type { Services } from '../../services/context.ts';
import { recordOp } from '../../services/oplog.ts';
import { badRequest } from '../../lib/errors.ts';
import { ctxOf } from '../middleware/auth.ts';
import { isLocale, LANG_COOKIE } from '../i18n.ts';
import { safeNext } from './auth.ts';

const YEAR_MS = 365 * 86_400_000;

export function langRouter(svc: Services, cookieSecure: boolean) {
  const router = Router();
  const remember = (res: Response, locale: string) => {
    if (locale) res.cookie(LANG_COOKIE, locale, { maxAge: YEAR_MS, httpOnly: true, sameSite: 'lax', secure: cookieSecure, path: '/' });
    else res.clearCookie(LANG_COOKIE, { path: '/' });
  };

  // GET /lang/:lng?next=/login
  router.get('/lang/:lng', function getLang(req, res) {
    const lng = req.params.lng;
    if (!isLocale(lng) && lng !== 'auto') throw badRequest('Unknown language.');
    remember(res, lng === 'auto' ? '' : lng);
    res.redirect(safeNext(req.query.next));
  });

  // POST /lang { locale: '' | 'en' | 'zh-CN', next }
  router.post('/lang', async function postLang(req, res) {
    if (!req.user || req.viaToken) {
      res.redirect('/login');
      return;
    }
    const locale = String(req.body?.locale ?? '');
    if (locale !== '' && !isLocale(locale)) throw badRequest('Unknown language.');
    const ctx = ctxOf(req);
    await svc.db.user.update({ where: { id: req.user.id ?? -1 }, data: { locale } });
    await recordOp(svc, ctx, { action: 'user.locale', result: 'ok', target: ctx.actor.name, detail: locale || 'browser' });
    remember(res, locale);
    res.redirect(safeNext(req.body?.next));
  });

  return router;
}
