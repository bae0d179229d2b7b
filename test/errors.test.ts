import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CODES, RETIRED_CODES, WardenError, toWardenError } from '../src/errors.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^### ([A-Z][A-Z0-9_]+)$/gm)].map((m) => m[1]);

describe('error registry', () => {
  it('documents every code in docs/errors.md', () => {
    const missing = Object.keys(ERROR_CODES).filter((c) => !documented.includes(c));
    assert.deepEqual(missing, []);
  });

  it('documents no code that the registry lacks', () => {
    const extra = documented.filter((c) => c !== undefined && !(c in ERROR_CODES) && !RETIRED_CODES.includes(c));
    assert.deepEqual(extra, []);
  });

  it('never reuses a retired code', () => {
    assert.deepEqual(
      RETIRED_CODES.filter((c) => c in ERROR_CODES),
      [],
    );
  });

  it('states each code kind in its documentation', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      const section = doc.slice(doc.indexOf(`### ${code}\n`)).split('\n### ')[0] ?? '';
      assert.match(section, new RegExp(`kind \`${spec.kind}\``), `${code} should say kind \`${spec.kind}\``);
    }
  });

  it('gives every usage code a 4xx status', () => {
    const wrong = Object.entries(ERROR_CODES).filter(
      ([, spec]) => spec.kind === 'usage' && (spec.status < 400 || spec.status > 499),
    );
    assert.deepEqual(wrong, []);
  });

  it("states no HTTP status in a code's documentation that the registry does not give it", () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      const section = doc.slice(doc.indexOf(`### ${code}\n`)).split('\n### ')[0] ?? '';
      const stated = [...section.matchAll(/HTTP (\d{3})\b/g)].map((m) => Number(m[1]));
      if (stated.length > 0)
        assert.ok(
          stated.includes(spec.status),
          `${code}: docs say HTTP ${stated.join('/')}, the registry ${spec.status}`,
        );
    }
  });

  it('turns errors into data with code, message and hint', () => {
    const e = new WardenError('DIGEST_MISMATCH', 'bytes differ', { details: { want: 'a' } });
    assert.deepEqual(e.toJSON(), {
      code: 'DIGEST_MISMATCH',
      message: 'bytes differ',
      hint: ERROR_CODES.DIGEST_MISMATCH.hint,
      details: { want: 'a' },
    });
    assert.equal(e.kind, 'integrity');
  });

  it('wraps foreign errors as INTERNAL and keeps WardenErrors as they are', () => {
    const foreign = toWardenError(new TypeError('boom'));
    assert.equal(foreign.code, 'INTERNAL');
    assert.equal(foreign.message, 'boom');
    const own = new WardenError('USAGE', 'x');
    assert.equal(toWardenError(own), own);
  });
});
