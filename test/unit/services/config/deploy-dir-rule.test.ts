// The deploy directory rule refuses every spelling of "/" and any path that is not already in its plain form.
import { describe, expect, it } from 'vitest';
import { deployDirRule, storedDeployDirProblem } from '../../../../src/services/config/rules.ts';

describe('deployDirRule', () => {
  it.each(['/', '/.', '/./', '//', '///', '/..', '/srv/./x', '/srv//x', '/srv/../etc', '/srv/x/..', '/srv/.'])('refuses %j', (dir) => {
    const result = deployDirRule.safeParse(dir);
    expect(result.success, JSON.stringify(result.data)).toBe(false);
  });

  it('accepts plain absolute paths and drops one trailing slash', () => {
    expect(deployDirRule.parse('/srv/app')).toBe('/srv/app');
    expect(deployDirRule.parse('/srv/app/')).toBe('/srv/app');
    expect(deployDirRule.parse('  /srv/my app.v2  ')).toBe('/srv/my app.v2');
    expect(deployDirRule.parse('/srv/..hidden/x')).toBe('/srv/..hidden/x');
  });

  it('names the plain form when the path can be written more simply', () => {
    const result = deployDirRule.safeParse('/srv/./x');
    expect(result.error?.issues[0].message).toContain('"/srv/x"');
  });
});

describe('storedDeployDirProblem', () => {
  it('refuses stored values an old install may hold, and values with spaces around them', () => {
    expect(storedDeployDirProblem('/')).toMatch(/must not be "\/"/);
    expect(storedDeployDirProblem('/srv/../etc')).toBeTruthy();
    expect(storedDeployDirProblem(' /srv/app')).toBeTruthy();
    expect(storedDeployDirProblem('srv/app')).toBeTruthy();
    expect(storedDeployDirProblem('/srv/app')).toBeNull();
    expect(storedDeployDirProblem('/srv/app/')).toBeNull();
  });
});
