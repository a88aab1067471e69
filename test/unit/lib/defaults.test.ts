// The operational defaults live in src/config.ts (DEFAULTS); the database schema repeats some as @default values,
// which Prisma cannot import. This keeps the two from disagreeing again.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../../src/config.ts';

const schema = readFileSync(new URL('../../../prisma/schema.prisma', import.meta.url), 'utf8');

/** The @default(...) of `field` in `model`, as written. */
function schemaDefault(model: string, field: string): string | undefined {
  const body = new RegExp(`^model ${model} \\{([\\s\\S]*?)^\\}`, 'm').exec(schema)?.[1] ?? '';
  return new RegExp(`^\\s*${field}\\s+\\S+\\s+@default\\(([^)]*)\\)`, 'm').exec(body)?.[1];
}

describe('DEFAULTS', () => {
  it('match the database schema', () => {
    expect(schemaDefault('Project', 'keepSnapshots')).toBe(String(DEFAULTS.keepSnapshots));
    expect(schemaDefault('Project', 'concurrency')).toBe(String(DEFAULTS.concurrency));
    expect(schemaDefault('Project', 'approvalHours')).toBe(String(DEFAULTS.approvalHours));
    expect(schemaDefault('Hook', 'timeoutSec')).toBe(String(DEFAULTS.hookTimeoutSec));
    expect(schemaDefault('Host', 'port')).toBe(String(DEFAULTS.sshPort));
  });
});
