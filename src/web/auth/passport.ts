// passport-local login; the session keeps only the user id, the actor is reloaded per request.
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Services } from '../../services/context.ts';
import { checkPassword, loadActor } from '../../services/users.ts';

export function configurePassport(svc: Services): passport.PassportStatic {
  const pp = new passport.Passport();
  pp.use(new LocalStrategy({ usernameField: 'username', passwordField: 'password' }, (username, password, done) => {
    checkPassword(svc, username, password).then((id) => done(null, id === null ? false : { id } as Express.User), done);
  }));
  pp.serializeUser((user, done) => done(null, user.id));
  pp.deserializeUser((id: number, done) => {
    loadActor(svc, id).then((actor) => done(null, actor ?? false), done);
  });
  return pp as unknown as passport.PassportStatic;
}
