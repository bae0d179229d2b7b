import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPatch, parsePatch } from 'diff';
import { WardenError } from '../../src/errors.js';
import {
  diffPacks,
  formatDiffForTerminal,
  MAX_DATA_DEPTH,
  MAX_FILE_EDITS,
  MAX_REPORTED_PATHS,
  MAX_UNIFIED_BYTES,
} from '../../src/pack-diff/diff.js';
import { MANIFEST_PATH } from '../../src/pack/manifest.js';
import { readPack, type PackFiles } from '../../src/pack/reader.js';
import { writeTarGz } from '../../src/pack/tar-writer.js';

const APP = 'package app\n\ndefault allow := false\n\nallow if input.user == "admin"\n\nallow if input.level >= 3\n';
const DATA = { authz: { roles: { viewer: ['read'], editor: ['read', 'write'] }, limit: 10 } };

interface Version {
  readonly revision?: string;
  readonly sequence?: number;
  readonly entrypoints?: string[];
}

// A pack's files: the given texts (objects become JSON) plus a .manifest in the shape `warden pack build` writes.
function pack(files: Record<string, string | object>, v: Version = {}): PackFiles {
  const manifest = {
    revision: v.revision ?? 'v1',
    roots: [''],
    wasm: (v.entrypoints ?? ['app/allow']).map((entrypoint) => ({ entrypoint, module: '/policy.wasm' })),
    metadata: { warden: { format: 1, pack: 'app', sequence: v.sequence ?? 1, created_at: '2025-01-01T00:00:00.000Z' } },
  };
  const map = new Map<string, Buffer>([[MANIFEST_PATH, Buffer.from(JSON.stringify(manifest))]]);
  for (const [path, content] of Object.entries(files))
    map.set(path, Buffer.from(typeof content === 'string' ? content : JSON.stringify(content)));
  return map;
}

// n numbered lines with a prefix, each ending in a newline.
function lines(n: number, prefix: string): string {
  return Array.from({ length: n }, (_, i) => `${prefix} ${i}\n`).join('');
}

describe('diffPacks', () => {
  it('reports identical packs as identical, with nothing listed and an empty unified diff', () => {
    const files = { 'app.rego': APP, 'data.json': DATA };
    const diff = diffPacks(pack(files), pack(files));
    assert.equal(diff.identical, true);
    assert.deepEqual(diff.modules, { added: [], removed: [], changed: [] });
    assert.deepEqual(diff.data, { added: [], removed: [], changed: [] });
    assert.equal(diff.unified, '');
  });

  it('shows a changed module as @@ hunks holding only the changed lines and their context', () => {
    const changed = APP.replace('input.level >= 3', 'input.level >= 5');
    const diff = diffPacks(pack({ 'app.rego': APP }), pack({ 'app.rego': changed }, { revision: 'v2', sequence: 2 }), {
      from: 'v1',
      to: 'v2',
    });
    assert.deepEqual(diff.modules.changed, ['app.rego']);
    assert.equal(diff.identical, false);
    const expected = [
      '--- v1/app.rego',
      '+++ v2/app.rego',
      '@@ -4,4 +4,4 @@',
      ' ',
      ' allow if input.user == "admin"',
      ' ',
      '-allow if input.level >= 3',
      '+allow if input.level >= 5',
      '',
    ].join('\n');
    assert.equal(diff.unified, expected);
  });

  it('lists added and removed modules and diffs them against /dev/null', () => {
    const diff = diffPacks(
      pack({ 'app.rego': APP, 'old.rego': 'package old\n' }),
      pack({ 'app.rego': APP, 'lib/new.rego': 'package lib.new\n\nx := 1' }),
    );
    assert.deepEqual(diff.modules, { added: ['lib/new.rego'], removed: ['old.rego'], changed: [] });
    assert.match(
      diff.unified,
      /^--- \/dev\/null\n\+\+\+ b\/lib\/new\.rego\n@@ -0,0 \+1,3 @@\n\+package lib\.new\n\+\n\+x := 1\n\\ No newline at end of file\n/,
    );
    assert.match(diff.unified, /--- a\/old\.rego\n\+\+\+ \/dev\/null\n@@ -1,1 \+0,0 @@\n-package old\n$/);
  });

  it('names the deepest differing data paths, with array elements by index', () => {
    const to = { authz: { roles: { viewer: ['read', 'list'], admin: ['*'] }, limit: 20, audit: { on: true } } };
    const diff = diffPacks(pack({ 'data.json': DATA }), pack({ 'data.json': to }));
    assert.deepEqual(diff.data, {
      added: ['authz.audit', 'authz.roles.admin', 'authz.roles.viewer[1]'],
      removed: ['authz.roles.editor'],
      changed: ['authz.limit'],
    });
    assert.match(diff.unified, /^--- a\/data\.json\n\+\+\+ b\/data\.json\n@@ /);
    assert.ok(diff.unified.includes('\n-    "limit": 10,\n'));
    assert.ok(diff.unified.includes('\n+    "limit": 20,\n'));
    const retyped = diffPacks(
      pack({ 'data.json': { a: { b: 1 }, list: [1, 2, 3] } }),
      pack({ 'data.json': { a: [1], list: [1] } }),
    );
    assert.deepEqual(retyped.data, { added: [], removed: ['list[1]', 'list[2]'], changed: ['a'] });
  });

  it('quotes data keys that hold dots, and mounts data files at their folder path', () => {
    const from = pack({ 'data.json': { hosts: { 'a.example': 1 } }, 'team/x/data.json': { owner: 'ann' } });
    const to = pack({ 'data.json': { hosts: { 'a.example': 2 } }, 'team/x/data.json': { owner: 'bob' } });
    assert.deepEqual(diffPacks(from, to).data.changed, ['hosts."a.example"', 'team.x.owner']);
  });

  it('prints the data document with sorted keys, so key order alone is no difference', () => {
    const diff = diffPacks(
      pack({ 'data.json': '{"b":1,"a":{"y":2,"x":1}}' }),
      pack({ 'data.json': '{"a":{"x":1,"y":2},"b":1}' }),
    );
    assert.equal(diff.identical, true);
    assert.equal(diff.unified, '');
  });

  it('reports revision, sequence and entrypoint changes, and counts them as differences', () => {
    const files = { 'app.rego': APP };
    const diff = diffPacks(
      pack(files, { entrypoints: ['app/allow', 'app/old'] }),
      pack(files, { revision: 'v2', sequence: 7, entrypoints: ['app/allow', 'app/tier'] }),
    );
    assert.deepEqual(diff.manifest, {
      revisionFrom: 'v1',
      revisionTo: 'v2',
      sequenceFrom: 1,
      sequenceTo: 7,
      entrypointsAdded: ['app/tier'],
      entrypointsRemoved: ['app/old'],
    });
    assert.equal(diff.identical, false);
    assert.equal(diffPacks(pack(files), pack(files, { revision: 'v2' })).identical, false);
  });

  it('cuts the unified diff at the byte limit, on a line boundary, and says it was truncated', () => {
    const big = lines(40_000, 'x := "0123456789012345678901234567890123456789"');
    const diff = diffPacks(pack({}), pack({ 'a.rego': big, 'b.rego': big }));
    assert.deepEqual(diff.modules.added, ['a.rego', 'b.rego']);
    assert.ok(Buffer.byteLength(diff.unified) <= MAX_UNIFIED_BYTES + 100);
    assert.match(diff.unified, /\n… truncated: the unified diff is longer than \d+ bytes\n$/);
    assert.ok(!diff.unified.includes('b.rego'), 'the second file is past the limit');
    const lastLine = diff.unified.split('\n').at(-3) ?? '';
    assert.match(lastLine, /^\+x := "\d+" \d+$/, 'the last diff line is whole');
  });

  it('shows files too different to diff line by line as a whole replacement', () => {
    const n = MAX_FILE_EDITS;
    const diff = diffPacks(pack({ 'a.rego': lines(n, 'old') }), pack({ 'a.rego': lines(n, 'new') }));
    const hunks = diff.unified.split('\n').filter((l) => l.startsWith('@@'));
    assert.deepEqual(hunks, [`@@ -1,${n} +1,${n} @@`]);
    assert.match(diff.unified, /\n-old 1999\n\+new 0\n/);
  });

  it('produces patches that turn each old file into the new one, including long files and whole replacements', () => {
    const long = lines(20_000, 'same');
    const unrelated = lines(MAX_FILE_EDITS, 'old');
    const cases: Array<[string, string]> = [
      [long, long.replace('same 10000\n', 'changed\n')],
      [long, `${long}tail\n`],
      [`top\n${long}`, long],
      [unrelated, lines(MAX_FILE_EDITS, 'new')],
      [
        `${lines(50, 'head')}${unrelated}${lines(50, 'foot')}`,
        `${lines(50, 'head')}${lines(MAX_FILE_EDITS, 'new')}${lines(50, 'foot')}`,
      ],
      ['a\nb', 'a\nc'],
      ['a\n', 'a'],
      ['', 'a\n'],
    ];
    for (const [i, [before, after]] of cases.entries()) {
      const diff = diffPacks(pack({ 'a.rego': before }), pack({ 'a.rego': after }));
      const [patch, ...rest] = parsePatch(diff.unified);
      assert.equal(rest.length, 0, `case ${i}`);
      assert.equal(patch === undefined ? undefined : applyPatch(before, patch), after, `case ${i}`);
    }
    const middle = diffPacks(pack({ 'a.rego': long }), pack({ 'a.rego': long.replace('same 10000\n', 'changed\n') }));
    assert.match(middle.unified, /\n@@ -9998,7 \+9998,7 @@\n/, 'line numbers count the lines skipped before the diff');
  });

  it('reports at most MAX_REPORTED_PATHS data paths per list, then "… and N more"', () => {
    const keys = (n: number): Record<string, number> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    const diff = diffPacks(pack({ 'data.json': {} }), pack({ 'data.json': keys(MAX_REPORTED_PATHS + 25) }));
    assert.equal(diff.data.added.length, MAX_REPORTED_PATHS + 1);
    assert.equal(diff.data.added.at(-1), '… and 25 more');
  });

  it('refuses a pack without a manifest, or data nested past the depth limit, with coded errors', () => {
    const deep = (leaf: number): string =>
      '{"a":'.repeat(MAX_DATA_DEPTH + 5) + String(leaf) + '}'.repeat(MAX_DATA_DEPTH + 5);
    const code = (c: string) => (e: unknown) => e instanceof WardenError && e.code === c;
    assert.throws(() => diffPacks(new Map(), pack({})), code('PACK_MANIFEST_INVALID'));
    assert.throws(
      () => diffPacks(pack({ 'data.json': deep(1) }), pack({ 'data.json': deep(2) })),
      code('PACK_DATA_INVALID'),
    );
  });

  it('compares packs read back from .tar.gz bytes', async () => {
    const bytes = (p: PackFiles): Buffer => writeTarGz([...p].map(([path, data]) => ({ path, data })));
    const from = await readPack(bytes(pack({ 'app.rego': APP, 'data.json': DATA })));
    const to = await readPack(bytes(pack({ 'app.rego': `${APP}\nextra := 1\n`, 'data.json': DATA }, { sequence: 2 })));
    const diff = diffPacks(from, to);
    assert.deepEqual(diff.modules.changed, ['app.rego']);
    assert.match(diff.unified, /\n\+extra := 1\n$/);
  });
});

describe('formatDiffForTerminal', () => {
  const from = pack({ 'app.rego': APP, 'old.rego': 'package old\n', 'data.json': DATA });
  const to = pack(
    {
      'app.rego': APP.replace('>= 3', '>= 4'),
      'new.rego': 'package new\n',
      'data.json': { authz: { ...DATA.authz, limit: 11 } },
    },
    { revision: 'v2', sequence: 2 },
  );

  it('prints a summary of manifest, modules and data, then the unified diff, without colour', () => {
    const diff = diffPacks(from, to);
    const text = formatDiffForTerminal(diff);
    const summary = [
      'revision: v1 → v2',
      'sequence: 1 → 2',
      'modules: 1 added, 1 removed, 1 changed',
      '  + new.rego',
      '  - old.rego',
      '  ~ app.rego',
      'data: 0 added, 0 removed, 1 changed',
      '  ~ authz.limit',
      '',
      '--- a/app.rego',
    ].join('\n');
    assert.ok(text.startsWith(summary), text);
    assert.ok(text.endsWith(diff.unified));
    assert.ok(!text.includes('\u001b'), 'no ANSI escapes unless asked');
  });

  it('colours removed lines red and added lines green when asked', () => {
    const text = formatDiffForTerminal(diffPacks(from, to), { color: true });
    assert.ok(text.includes('\u001b[31m-allow if input.level >= 3\u001b[0m'));
    assert.ok(text.includes('\u001b[32m+allow if input.level >= 4\u001b[0m'));
    assert.ok(text.includes('\u001b[32m  + new.rego\u001b[0m'));
  });

  it('says there are no differences for identical packs', () => {
    assert.equal(formatDiffForTerminal(diffPacks(from, from)), 'no differences (revision v1, sequence 1)\n');
  });

  it('shows control and bidi characters from pack contents escaped, never raw', () => {
    const evil = 'package app\n# \u001b[2J\u202e hidden\n';
    const text = formatDiffForTerminal(diffPacks(pack({ 'app.rego': APP }), pack({ 'app.rego': evil })));
    assert.ok(!text.includes('\u001b') && !text.includes('\u202e'));
    assert.ok(text.includes('+# ^[[2J<U+202E> hidden'));
  });
});
