// FERRY_PUBLIC_URL and the SMTP settings: validated at start-up with plain messages, and the link base's default.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-config-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
const load = (env: Record<string, string>) => loadConfig({ FERRY_DATA_DIR: dataDir, FERRY_SECRET_KEY: 'a passphrase for tests', ...env });

describe('notification settings in the configuration', () => {
  it('links to http://<host name>:<port> unless FERRY_PUBLIC_URL says otherwise (without a trailing slash)', () => {
    expect(load({ PORT: '8080' }).publicUrl).toBe(`http://${os.hostname()}:8080`);
    expect(load({ HOST: '10.0.0.5', PORT: '3000' }).publicUrl).toBe('http://10.0.0.5:3000');
    expect(load({ FERRY_PUBLIC_URL: 'https://ferry.corp.example/ferry/' }).publicUrl).toBe('https://ferry.corp.example/ferry');
  });

  it('refuses a public URL that is not http(s) and an SMTP URL without a sender', () => {
    expect(() => load({ FERRY_PUBLIC_URL: 'ferry.corp.example' })).toThrow('FERRY_PUBLIC_URL: must be an http:// or https:// address');
    expect(() => load({ FERRY_SMTP_URL: 'mail.corp.example:25' })).toThrow('FERRY_SMTP_URL: must start with smtp:// or smtps://');
    expect(() => load({ FERRY_SMTP_URL: 'smtp://mail.corp.example:25' })).toThrow('FERRY_SMTP_FROM: required when FERRY_SMTP_URL is set');
  });

  it('has no SMTP server unless one is configured', () => {
    expect(load({}).smtp).toBeNull();
    expect(load({ FERRY_SMTP_URL: 'smtp://mail.corp.example:25', FERRY_SMTP_FROM: 'Ferry <ferry@corp.example>' }).smtp)
      .toEqual({ url: 'smtp://mail.corp.example:25', from: 'Ferry <ferry@corp.example>' });
  });
});
