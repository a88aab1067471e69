import { describe, expect, it } from 'vitest';
import { API_TOKEN_LIMITS } from '../../../src/config.ts';
import { parseDuration, tokenStatus } from '../../../src/services/tokens.ts';

describe('parseDuration', () => {
  it('reads hours, days and weeks', () => {
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration(' 90D ')).toBe(90 * 86_400_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
  });

  it('refuses anything else with a message naming the accepted forms', () => {
    for (const bad of ['', '90', '90x', 'soon', '-1d', '0d', '1.5d', '1e3d', '30 days']) {
      expect(() => parseDuration(bad), bad).toThrow(/like 30d, 12h or 90d/);
    }
    expect(() => parseDuration(`${API_TOKEN_LIMITS.maxExpiryDays + 1}d`)).toThrow(`at most ${API_TOKEN_LIMITS.maxExpiryDays} days`);
  });
});

describe('tokenStatus', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('is revoked before expired, and expired from the expiry instant on', () => {
    expect(tokenStatus({ revokedAt: null, expiresAt: null }, now)).toBe('active');
    expect(tokenStatus({ revokedAt: null, expiresAt: new Date(now.getTime() + 1) }, now)).toBe('active');
    expect(tokenStatus({ revokedAt: null, expiresAt: now }, now)).toBe('expired');
    expect(tokenStatus({ revokedAt: now, expiresAt: new Date(0) }, now)).toBe('revoked');
  });
});
