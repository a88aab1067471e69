import { describe, expect, it } from 'vitest';
import { addressKey } from '../../../src/web/auth/throttle.ts';

describe('the address a login throttle counts against', () => {
  it('counts an IPv6 client by its /64, however the address is written', () => {
    const forms = ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '2001:DB8:1:2::abcd%eth0'];
    expect(new Set(forms.map(addressKey))).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1')).toBe('fe80:0:0:0::/64');
  });

  it('counts IPv4 (also IPv4-mapped) by the address itself', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('')).toBe('');
  });
});
