import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WardenError, type ErrorCode } from '../../src/errors.js';
import { readPack } from '../../src/pack/reader.js';
import { writeTarGz, type TarEntry } from '../../src/pack/tar-writer.js';

const run = promisify(execFile);

const LONG_SPLIT = `${'a'.repeat(120)}/${'b'.repeat(90)}.rego`; // over 100 bytes: needs the ustar prefix
const LONG_PAX = `dir/${'c'.repeat(200)}.rego`; // no split fits: needs a pax header
const ENTRIES: TarEntry[] = [
  { path: 'policies/main.rego', data: Buffer.from('package main\n') },
  { path: './data.json', data: Buffer.from('{"a":1}') },
  { path: 'empty', data: new Uint8Array(0) },
  { path: 'bin/blob', data: Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256)) },
  { path: 'unicodé/ünï.rego', data: Buffer.from('package u') },
  { path: LONG_SPLIT, data: Buffer.from('split') },
  { path: LONG_PAX, data: Buffer.from('pax') },
];
const SORTED = [LONG_SPLIT, 'bin/blob', 'data.json', LONG_PAX, 'empty', 'policies/main.rego', 'unicodé/ünï.rego'];

// Asserts that writing `entries` throws a WardenError with exactly `code`.
function refuses(entries: TarEntry[], code: ErrorCode): void {
  assert.throws(
    () => writeTarGz(entries),
    (e) => {
      assert.ok(e instanceof WardenError, `expected a WardenError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      return true;
    },
  );
}

describe('writeTarGz', () => {
  let dir = '';
  let archive = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warden-writer-'));
    archive = join(dir, 'pack.tar.gz');
    await writeFile(archive, writeTarGz(ENTRIES));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('round-trips through readPack, with ./ normalised away', async () => {
    const files = await readPack(writeTarGz(ENTRIES));
    assert.deepEqual([...files.keys()].sort(), [...SORTED].sort());
    for (const { path, data } of ENTRIES)
      assert.deepEqual(files.get(path.replace(/^\.\//, '')), Buffer.from(data), path);
  });

  it('is listed by GNU tar in path order, 0644 root:root at the epoch', async () => {
    const { stdout, stderr } = await run('tar', ['--quoting-style=literal', '-tzf', archive]);
    assert.equal(stderr, '');
    assert.deepEqual(stdout.trimEnd().split('\n'), SORTED);
    const verbose = await run('tar', ['--quoting-style=literal', '--numeric-owner', '-tvzf', archive], {
      env: { ...process.env, TZ: 'UTC' },
    });
    for (const line of verbose.stdout.trimEnd().split('\n'))
      assert.match(line, /^-rw-r--r-- 0\/0 +\d+ 1970-01-01 00:00 /);
  });

  it('writes content that GNU tar extracts byte for byte', async () => {
    const { stdout } = await run('tar', ['-xzOf', archive, LONG_PAX], { encoding: 'buffer' });
    assert.equal(stdout.toString(), 'pax');
    const blob = await run('tar', ['-xzOf', archive, 'bin/blob'], { encoding: 'buffer' });
    assert.deepEqual(blob.stdout, ENTRIES[3]?.data);
  });

  it('gives the same bytes whatever the input order', () => {
    assert.deepEqual(writeTarGz([...ENTRIES].reverse()), writeTarGz(ENTRIES));
  });

  it('writes an empty archive that reads back empty', async () => {
    assert.equal((await readPack(writeTarGz([]))).size, 0);
  });

  for (const path of [
    '../x',
    'a/../../x',
    '/etc/passwd',
    'a\\b',
    'a//b',
    'a/./b',
    '',
    'dir/',
    'nul\0byte',
    'x'.repeat(257),
  ]) {
    it(`refuses the unsafe path ${JSON.stringify(path.slice(0, 20))} as the reader would`, () => {
      refuses([{ path, data: new Uint8Array(1) }], 'PACK_UNSAFE_PATH');
    });
  }

  it('refuses the same path twice, also as a and ./a, and a file used as a directory', () => {
    const one = new Uint8Array(1);
    refuses(
      [
        { path: 'a', data: one },
        { path: './a', data: one },
      ],
      'PACK_DUPLICATE_ENTRY',
    );
    refuses(
      [
        { path: 'a', data: one },
        { path: 'a/b', data: one },
      ],
      'PACK_DUPLICATE_ENTRY',
    );
  });
});
