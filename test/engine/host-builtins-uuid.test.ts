/**
 * uuid.rfc4122 and uuid.parse in the embedded engine (src/engine/host-builtins/uuid.ts).
 * uuid.parse is checked against the real `opa eval` row by row (every accepted form,
 * versions 1 to 8, every variant, domains, times past 2262, malformed strings);
 * uuid.rfc4122 is random, so its answers are checked for form (version 4, RFC 4122
 * variant, parsed by OPA as such) and for OPA's caching: the same key gives the same
 * UUID within one evaluation, another key or the next evaluation a new one.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  assertSameAsOpa,
  builtinTable,
  type BuiltinCases,
  type DifferentialTable,
} from '../helpers/builtin-differential.js';
import { opaAnswers } from '../helpers/opa-eval.js';

const one = (v: string): string => `[${JSON.stringify(v)}]`;

const CASES: BuiltinCases = {
  'uuid.parse': [
    ...[
      '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      '6BA7B810-9DAD-11D1-80B4-00C04FD430C8',
      '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}',
      'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      'URN:UUID:6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      '6ba7b8109dad11d180b400c04fd430c8',
      '000003e8-5a4b-21ef-9a00-325096b39f47',
      '000003e8-5a4b-21ef-9a01-325096b39f47',
      '000003e8-5a4b-21ef-9a02-325096b39f47',
      '000003e8-5a4b-21ef-9a07-335096b39f47',
      'ffffffff-ffff-1fff-bfff-ffffffffffff',
      '00000000-0000-1000-8000-000000000000',
      '00000000-0000-1000-8000-010000000000',
      '00000000-0000-1000-8000-020000000000',
      '6fa459ea-ee8a-3ca4-894e-db77e160355e',
      'f47ac10b-58cc-4372-a567-0e02b2c3d479',
      'f47ac10b-58cc-4372-0567-0e02b2c3d479',
      'f47ac10b-58cc-4372-c567-0e02b2c3d479',
      'f47ac10b-58cc-4372-e567-0e02b2c3d479',
      '886313e1-3b8a-5372-9b90-0c9aee199e5d',
      '1ef21d2f-1207-6660-8c4f-419efbd44d48',
      '017f22e2-79b0-7cc3-98c4-dc0c0c07398f',
      '00000000-0000-0000-0000-000000000000',
      '6ba7b810-9dad-11d1-80b4-00c04fd430c',
      '6ba7b810-9dad-11d1-80b4-00c04fd430c8a',
      '6ba7b810x9dad-11d1-80b4-00c04fd430c8',
      '6ba7b810-9dad-11d1-80b4-00c04fd430cg',
      '(6ba7b810-9dad-11d1-80b4-00c04fd430c8)',
      'x6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      'urn:uid:06ba7b810-9dad-11d1-80b4-00c04fd430c8',
      '6ba7b8109dad11d180b400c04fd430cz',
      '',
    ].map(one),
    '[1]',
    '[null]',
  ],
};

describe('uuid builtins, against the real opa eval', () => {
  let table: DifferentialTable;

  before(async () => {
    table = await builtinTable('uu', CASES, {
      lines: [
        'same := [a, b, c] if {',
        '  a := uuid.rfc4122(input.k)',
        '  b := uuid.rfc4122(input.k)',
        '  c := uuid.rfc4122(input.other)',
        '}',
      ],
      entrypoints: ['uu/same'],
    });
  });

  it(`uuid.parse: ${CASES['uuid.parse']?.length} rows answer as OPA's`, () => assertSameAsOpa(table, 'uuid.parse'));

  it('uuid.rfc4122: version 4, the same per key within an evaluation, new in the next', () => {
    const input = '{"k":{"b":1,"a":[2]},"other":"x"}';
    const [a, b, c] = JSON.parse(table.engine.evaluateJson('uu/same', input) ?? 'null') as string[];
    assert.match(a ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(a, b, 'one key, one UUID within the evaluation');
    assert.notEqual(a, c, 'another key, another UUID');
    const [next] = JSON.parse(table.engine.evaluateJson('uu/same', input) ?? 'null') as string[];
    assert.notEqual(next, a, 'the next evaluation draws again');
    // OPA reads what the engine made as a version-4, RFC 4122 UUID; and does the same itself.
    const parsed = opaAnswers(table.dir, 'uu/uuid_parse', [`{"args":["${a}"]}`]);
    assert.deepEqual(parsed, ['{"variant":"RFC4122","version":4}']);
    const opaSame = opaAnswers(table.dir, 'uu/same', [input]);
    const [x, y, z] = JSON.parse(opaSame[0] ?? 'null') as string[];
    assert.equal(x, y);
    assert.notEqual(x, z);
  });
});
