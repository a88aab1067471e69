// The JSON nesting check that runs before JSON.parse on every body.
import { describe, expect, it } from 'vitest';
import { assertJsonDepth } from '../../../src/web/middleware/body.ts';

const nest = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`;

describe('assertJsonDepth', () => {
  it('accepts nesting up to the limit and refuses one level more with a 400', () => {
    expect(() => assertJsonDepth(Buffer.from(nest(64)), 64)).not.toThrow();
    expect(() => assertJsonDepth(Buffer.from(`{"a":${nest(63)}}`), 64)).not.toThrow();
    expect(() => assertJsonDepth(Buffer.from(nest(65)), 64)).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ note: '[[[[{{{{ "quoted [[[" \\ ]]]', list: ['[', '{'] });
    expect(() => assertJsonDepth(Buffer.from(text), 2)).not.toThrow();
    expect(() => assertJsonDepth(Buffer.from(JSON.stringify({ s: '\\', deep: [[1]] })), 2)).toThrow();
  });
});
