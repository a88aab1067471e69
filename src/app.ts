// createApp wires middleware, routers and error pages; it never listens (server.ts does, tests use supertest).
import path from 'node:path';
import express from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { csrfSync } from 'csrf-sync';
import crypto from 'node:crypto';
import { APP_ROOT, NOTIFY_DELIVERY, type Config } from './config.ts';
import type { Db } from './lib/db.ts';
import type { Logger } from './lib/logger.ts';
import type { Services } from './services/context.ts';
import type { NotificationWorker } from './services/notify/index.ts';
import { PrismaSessionStore } from './web/session-store.ts';
import { configurePassport } from './web/auth/passport.ts';
import { LoginThrottle, type ThrottleOptions } from './web/auth/throttle.ts';
import { bearerToken, ctxOf, requireLogin } from './web/middleware/auth.ts';
import { takeFlash } from './web/middleware/flash.ts';
import { smallBodies } from './web/middleware/body.ts';
import { loginCsrf } from './web/login-csrf.ts';
import { errorHandler, notFoundHandler } from './web/middleware/errors.ts';
import { viewHelpers } from './web/view-helpers.ts';
import { i18nInstance, i18nMiddleware, LOCALE_NAMES, LOCALES, messagesVersion } from './web/i18n.ts';
import { langRouter } from './web/routes/lang.ts';
import { authRouter } from './web/routes/auth.ts';
import { homeRouter } from './web/routes/home.ts';
import { accountRouter } from './web/routes/account.ts';
import { oplogRouter } from './web/routes/oplog.ts';
import { projectsPagesRouter } from './web/routes/projects.ts';
import { jobsPagesRouter } from './web/routes/jobs.ts';
import { diffPagesRouter } from './web/routes/diff.ts';
import { adminRouter } from './web/routes/admin/index.ts';
import { apiRouter } from './web/routes/api/index.ts';
import { countDecidable, type JobRunner } from './services/jobs/index.ts';

export interface AppDeps {
  config: Config;
  db: Db;
  logger: Logger;
  throttle?: ThrottleOptions;
  /** The job runner (release engine); without it the job routes are absent (configuration-only tests). */
  jobs?: JobRunner;
  /** The notification worker; "Send test" uses its settings (without it, those of `config`). */
  notifier?: NotificationWorker;
}

const root = APP_ROOT;
const vendor = (pkg: string) => path.join(root, 'node_modules', pkg);

export function createApp(deps: AppDeps) {
  const { config, db, logger } = deps;
  const svc: Services = { db, logger, secretKey: config.secretKey };
  const app = express();
  app.set('views', path.join(root, 'views'));
  app.set('view engine', 'ejs');
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  // DataTables sends nested parameters (order[0][column], search[value]).
  app.set('query parser', 'extended');
  // Defaults so error pages render even when a request fails before the locals middleware ran.
  const t = i18nInstance().getFixedT('en');
  Object.assign(app.locals, { user: null, csrfToken: '', flash: [], path: '', ...viewHelpers, t, lang: 'en', messagesVersion: messagesVersion(), locales: LOCALES, localeNames: LOCALE_NAMES, pickedLocale: '' });

  app.use(pinoHttp({
    logger,
    genReqId: (req, res) => {
      const id = crypto.randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/static/') || (req.url ?? '').startsWith('/vendor/') },
  }));
  app.use(helmet({
    contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'], 'upgrade-insecure-requests': null } },
    strictTransportSecurity: config.cookieSecure,
  }));

  // Front-end assets come from node_modules or public/, never a CDN: Ferry runs offline.
  const statics = { maxAge: '1d', index: false } as const;
  // Page modules import public/js/lib/*.js under fixed names: revalidated on every load (a 304 when unchanged), so
  // after an upgrade a browser never runs a new page module against yesterday's cached shared module.
  app.use('/static/js', express.static(path.join(root, 'public', 'js'), { maxAge: 0, index: false }));
  app.use('/static', express.static(path.join(root, 'public'), statics));
  app.use('/vendor/bootstrap', express.static(vendor('bootstrap/dist'), statics));
  app.use('/vendor/bootstrap-icons', express.static(vendor('bootstrap-icons/font'), statics));
  app.use('/vendor/jquery', express.static(vendor('jquery/dist'), statics));
  app.use('/vendor/datatables', express.static(vendor('datatables.net/js'), statics));
  app.use('/vendor/datatables-bs5', express.static(vendor('datatables.net-bs5'), statics));
  app.use('/vendor/jstree', express.static(vendor('jstree/dist'), statics));
  app.use('/vendor/diff2html', express.static(vendor('diff2html/bundles'), statics));
  app.use('/vendor/i18next', express.static(vendor('i18next/dist/esm'), statics));

  // Small bodies only: anything is parsed before authentication. The import routes parse theirs after the admin check.
  app.use(smallBodies);

  const sessionStore = new PrismaSessionStore(db, config.sessionMaxAgeHours * 3600_000);
  app.use(session({
    name: 'ferry.sid',
    secret: config.sessionSecret,
    store: sessionStore,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: config.cookieSecure, maxAge: config.sessionMaxAgeHours * 3600_000 },
  }));
  const passport = configurePassport(svc);
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(bearerToken(svc));
  // After the user is known: their language first, then the ferry_lang cookie, then Accept-Language.
  app.use(i18nMiddleware());

  const tokenOf = (req: express.Request) => (req.body?._csrf as string | undefined) ?? req.get('x-csrf-token');
  const csrf = csrfSync({ getTokenFromRequest: tokenOf });
  // Anonymous visitors get no session (it would be a stored row per request): the login form is protected by a
  // stateless signed token instead, and the session's own token takes over once signed in.
  const preLogin = loginCsrf(config.sessionSecret, config.cookieSecure);
  // Token-authenticated API calls carry no cookie, so cross-site forgery cannot ride on them.
  // The one multipart form (bulk import) is checked by its route after multer has parsed the body.
  app.use((req, res, next) => {
    res.locals.user = req.user ?? null;
    // generateToken keeps the session's existing token, so this does not invalidate open forms.
    if (req.viaToken) res.locals.csrfToken = '';
    else if (req.user) res.locals.csrfToken = csrf.generateToken(req);
    else res.locals.csrfToken = req.path === '/login' ? preLogin.token(req, res) : '';
    res.locals.flash = takeFlash(req);
    res.locals.path = req.path;
    next();
  });
  app.use((req, res, next) => {
    if (req.viaToken || (req.method === 'POST' && req.path === '/admin/import' && req.is('multipart/form-data'))) return next();
    if (!req.user && !['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      return next(preLogin.isValid(req, tokenOf(req)) ? undefined : csrf.invalidCsrfTokenError);
    }
    csrf.csrfSynchronisedProtection(req, res, next);
  });

  const throttle = new LoginThrottle(deps.throttle);
  app.use(authRouter(svc, passport, throttle, preLogin));
  app.use(langRouter(svc, config.cookieSecure));
  app.use('/api', apiRouter(svc, deps));
  app.use(requireLogin);
  // The navigation's "To approve" badge: requests waiting for this user's decision, counted for pages only.
  app.use(async function approvalBadge(req, res, next) {
    if (req.method === 'GET' && !req.xhr && req.accepts(['html', 'json']) === 'html') res.locals.pendingApprovals = await countDecidable(svc, ctxOf(req));
    next();
  });
  app.use(homeRouter(svc));
  app.use('/account', accountRouter(svc));
  app.use('/oplog', oplogRouter(svc));
  app.use('/projects', projectsPagesRouter(svc, deps.jobs));
  app.use('/projects', diffPagesRouter(svc));
  app.use('/jobs', jobsPagesRouter(svc, deps.jobs));
  const sendSettings = deps.notifier?.options ?? { publicUrl: config.publicUrl, smtp: config.smtp, timeoutMs: NOTIFY_DELIVERY.timeoutMs, responseBytes: NOTIFY_DELIVERY.responseBytes };
  app.use('/admin', adminRouter(svc, { csrfProtection: csrf.csrfSynchronisedProtection, sendSettings }));

  app.use(notFoundHandler);
  app.use(errorHandler);
  app.locals.loginThrottle = throttle;
  app.locals.close = () => {
    sessionStore.close();
    throttle.close();
  };
  return app;
}
