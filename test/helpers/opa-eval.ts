/**
 * The real `opa eval` on many inputs in one run, answers kept as OPA wrote them
 * (numbers exact), for differential tests against Warden.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { locateOpa } from '../../src/opa/locate.js';
import { canonicalMembers } from './canonical-json.js';
import { tempDir } from './fs.js';

/**
 * What `opa eval -b bundle` answers for `path` (an entrypoint like `a/b`) on each input, given as
 * JSON text: canonical text (canonical-json.ts), or undefined where the rule is undefined. With
 * `sortKeys: false` objects keep OPA's key order (orderedJson), for comparing the order too.
 */
export function opaAnswers(
  bundle: string,
  path: string,
  inputs: readonly string[],
  opts: { sortKeys?: boolean } = {},
): Array<string | undefined> {
  const file = join(tempDir(), 'cases.json');
  // Concatenated, not stringified: the inputs' numbers reach opa exactly as written.
  writeFileSync(file, `{"cases":[${inputs.join(',')}]}`);
  const rule = `data.${path.replaceAll('/', '.')}`;
  const query = `{sprintf("%d", [i]): r | some i, c in input.cases; r := ${rule} with input as c}`;
  const res = spawnSync(locateOpa().path, ['eval', '-f', 'raw', '-b', bundle, '-i', file, query], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(res.status, 0, res.stderr);
  const members = canonicalMembers(res.stdout, opts);
  return inputs.map((_, i) => members.get(String(i)));
}
