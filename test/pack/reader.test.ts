import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WardenError, type ErrorCode } from '../../src/errors.js';
import type { PackLimits } from '../../src/pack/limits.js';
import { readPack } from '../../src/pack/reader.js';
import {
  END,
  entry,
  gzipRaw,
  gzipWithZeros,
  header,
  longNameEntry,
  manyFilesTarGz,
  paxEntry,
  tarGz,
} from '../helpers/tar-craft.js';

const run = promisify(execFile);
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

// Asserts that reading `bytes` is refused with exactly `code`.
async function refuses(bytes: Buffer, code: ErrorCode, limits?: Partial<PackLimits>): Promise<void> {
  await assert.rejects(readPack(bytes, limits), (e) => {
    assert.ok(e instanceof WardenError, `expected a WardenError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

// Runs `work`, sampling RSS as it goes; returns the peak growth in bytes.
async function peakRssGrowth(work: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss) - before;
}

// Reads a pack and returns its files as path → UTF-8 text, for easy comparison.
async function readText(bytes: Buffer): Promise<Record<string, string>> {
  return Object.fromEntries([...(await readPack(bytes))].map(([path, data]) => [path, data.toString('utf8')]));
}

describe('readPack accepts well-formed packs', () => {
  it('reads files, normalises a leading ./ and lists no directories', async () => {
    const pack = tarGz(
      entry({ name: './', type: '5' }),
      entry({ name: './src/', type: '5' }),
      entry({ name: './src/a.rego' }, 'pkg a'),
      entry({ name: 'empty' }),
    );
    assert.deepEqual(await readText(pack), { 'src/a.rego': 'pkg a', empty: '' });
  });

  it('joins the ustar prefix field to the name', async () => {
    const pack = tarGz(entry({ name: 'b.rego', prefix: 'deep/dir' }, 'x'));
    assert.deepEqual(await readText(pack), { 'deep/dir/b.rego': 'x' });
  });

  it('takes path and size from a pax header and ignores pax global headers', async () => {
    const long = `${'p'.repeat(150)}/${'q'.repeat(90)}`;
    const global = entry({ name: 'pax_global_header', type: 'g' }, '20 comment=ignored\n');
    const pack = tarGz(
      global,
      paxEntry({ path: long, size: '3', mtime: '1.5' }),
      entry({ name: 'short', size: 99 }, 'abc'),
    );
    assert.deepEqual(await readText(pack), { [long]: 'abc' });
  });

  it('reads a GNU long name', async () => {
    const long = `${'n'.repeat(120)}/file.rego`;
    assert.deepEqual(
      await readText(tarGz(longNameEntry(long), entry({ name: long.slice(0, 100), magic: 'gnu' }, 'ok'))),
      { [long]: 'ok' },
    );
  });

  it('reads a GNU base-256 size', async () => {
    const sizeField = Buffer.alloc(12);
    sizeField[0] = 0x80;
    sizeField[11] = 2;
    assert.deepEqual(await readText(tarGz(entry({ name: 'b', sizeField }, 'hi'))), { b: 'hi' });
  });

  it('allows zero padding after the end-of-archive marker', async () => {
    const pack = tarGz(entry({ name: 'a' }, '1'), Buffer.alloc(9 * 1024));
    assert.deepEqual(await readText(pack), { a: '1' });
  });

  it('reads archives made by GNU tar in its gnu and posix formats', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warden-reader-'));
    try {
      const long = `${'d'.repeat(110)}/${'f'.repeat(120)}.rego`;
      await mkdir(join(dir, 'in', 'd'.repeat(110)), { recursive: true });
      await writeFile(join(dir, 'in', long), 'long');
      await writeFile(join(dir, 'in', 'data.json'), '{}');
      for (const format of ['gnu', 'posix']) {
        const out = join(dir, `${format}.tar.gz`);
        await run('tar', [`--format=${format}`, '-C', join(dir, 'in'), '-czf', out, '.']);
        assert.deepEqual(await readText(await readFile(out)), { [long]: 'long', 'data.json': '{}' }, format);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('readPack refuses hostile entries', () => {
  for (const name of ['../x', 'a/../../x', '/etc/passwd', 'a\\b', 'a//b', 'a/./b', '.', 'a/']) {
    it(`refuses the path ${JSON.stringify(name)} with PACK_UNSAFE_PATH`, async () => {
      await refuses(tarGz(entry({ name }, 'x')), 'PACK_UNSAFE_PATH');
    });
  }

  const types = {
    '1': 'hard link',
    '2': 'symlink',
    '3': 'char device',
    '4': 'block device',
    '6': 'fifo',
    Z: 'unknown type',
  };
  for (const [type, what] of Object.entries(types)) {
    it(`refuses a ${what} with PACK_UNSAFE_ENTRY naming its path`, async () => {
      await assert.rejects(readPack(tarGz(entry({ name: 'innocent.rego', type, linkname: '/etc/passwd' }))), (e) => {
        assert.ok(e instanceof WardenError && e.code === 'PACK_UNSAFE_ENTRY', String(e));
        assert.match(e.message, /innocent\.rego/);
        return true;
      });
    });
  }

  it('refuses the same path twice, also when spelled a and ./a', async () => {
    await refuses(tarGz(entry({ name: 'a' }, '1'), entry({ name: 'a' }, '2')), 'PACK_DUPLICATE_ENTRY');
    await refuses(tarGz(entry({ name: 'a' }, '1'), entry({ name: './a' }, '2')), 'PACK_DUPLICATE_ENTRY');
  });

  it('refuses a path that is both a file and a directory', async () => {
    await refuses(tarGz(entry({ name: 'a' }, '1'), entry({ name: 'a/b' }, '2')), 'PACK_DUPLICATE_ENTRY');
    await refuses(tarGz(entry({ name: 'a/b' }, '1'), entry({ name: 'a' }, '2')), 'PACK_DUPLICATE_ENTRY');
  });

  it('refuses a path over the length limit', async () => {
    await refuses(tarGz(paxEntry({ path: 'x'.repeat(257) }), entry({ name: 'x' })), 'PACK_UNSAFE_PATH');
    await refuses(tarGz(entry({ name: 'abcdef' })), 'PACK_UNSAFE_PATH', { maxPathLength: 5 });
  });

  it('refuses a pax header that smuggles a .. path behind a safe name', async () => {
    await refuses(
      tarGz(paxEntry({ path: 'policies/../../etc/cron.d/x' }), entry({ name: 'safe.rego' }, 'x')),
      'PACK_UNSAFE_PATH',
    );
  });

  it('refuses a GNU long name with a .. segment or over the length limit', async () => {
    await refuses(
      tarGz(longNameEntry(`${'a/'.repeat(60)}../../../x`), entry({ name: 'safe', magic: 'gnu' })),
      'PACK_UNSAFE_PATH',
    );
    await refuses(tarGz(longNameEntry('l'.repeat(300)), entry({ name: 'safe', magic: 'gnu' })), 'PACK_UNSAFE_PATH');
  });

  it('refuses a negative base-256 size as malformed', async () => {
    await refuses(tarGz(header({ name: 'n', sizeField: Buffer.alloc(12, 0xff) })), 'PACK_MALFORMED');
  });
});

describe('readPack enforces the pack limits', () => {
  it('refuses compressed bytes over the limit before inflating', async () => {
    await refuses(tarGz(entry({ name: 'a' }, 'x'.repeat(1000))), 'PACK_TOO_LARGE', { maxCompressedBytes: 20 });
  });

  it('refuses a stream that inflates past the uncompressed limit', async () => {
    await refuses(tarGz(entry({ name: 'a' }, 'x'.repeat(8192))), 'PACK_UNCOMPRESSED_TOO_LARGE', {
      maxUncompressedBytes: 4096,
    });
  });

  it('refuses a file over the per-file limit at its header, before reading its body', async () => {
    await refuses(tarGz(entry({ name: 'a' }, 'x'.repeat(11))), 'PACK_FILE_TOO_LARGE', { maxFileBytes: 10 });
    await refuses(gzipRaw(header({ name: 'a', size: 11 })), 'PACK_FILE_TOO_LARGE', { maxFileBytes: 10 });
  });

  it('counts directories toward the file limit and refuses the entry past it', async () => {
    const pack = tarGz(entry({ name: 'd/', type: '5' }), entry({ name: 'd/a' }), entry({ name: 'd/b' }));
    await refuses(pack, 'PACK_TOO_MANY_FILES', { maxFiles: 2 });
    assert.equal((await readPack(pack, { maxFiles: 3 })).size, 2);
  });

  it('refuses a tar entry declaring 1 GiB (gzip bomb) at its header, in bounded memory', async () => {
    const bomb = await gzipWithZeros(header({ name: 'bomb.rego', size: GiB }), GiB + 1024);
    assert.ok((await peakRssGrowth(() => refuses(bomb, 'PACK_FILE_TOO_LARGE'))) < 200 * MiB);
  });

  it('refuses 1 GiB of gzipped zeros with no tar header past the uncompressed limit, in bounded memory', async () => {
    const bomb = await gzipWithZeros(Buffer.alloc(0), GiB);
    assert.ok((await peakRssGrowth(() => refuses(bomb, 'PACK_UNCOMPRESSED_TOO_LARGE'))) < 200 * MiB);
  });

  it('refuses 100,000 tiny files under the default limits and reads them all with maxFiles raised', async () => {
    const pack = manyFilesTarGz(100_000);
    await refuses(pack, 'PACK_TOO_MANY_FILES');
    const files = await readPack(pack, { maxFiles: 200_000 });
    assert.equal(files.size, 100_000);
    assert.equal(files.get('f/099999')?.toString(), 'x');
  });
});

describe('readPack refuses malformed bytes', () => {
  const good = tarGz(entry({ name: 'a' }, 'x'.repeat(3000)));

  it('refuses bytes that are not gzip', async () => {
    await refuses(Buffer.from('PK\x03\x04 this is a zip, not a gzip'), 'PACK_MALFORMED');
    await refuses(Buffer.alloc(0), 'PACK_MALFORMED');
  });

  it('refuses truncated gzip', async () => {
    await refuses(good.subarray(0, good.length - 10), 'PACK_MALFORMED');
  });

  it('refuses a truncated tar inside valid gzip', async () => {
    await refuses(gzipRaw(entry({ name: 'a' }, 'x'.repeat(3000)).subarray(0, 1500)), 'PACK_MALFORMED');
    await refuses(gzipRaw(entry({ name: 'a' }, 'x')), 'PACK_MALFORMED');
    await refuses(gzipRaw(Buffer.concat([entry({ name: 'a' }, 'x'), END.subarray(0, 512)])), 'PACK_MALFORMED');
  });

  it('refuses a header with a bad checksum', async () => {
    await refuses(tarGz(header({ name: 'a', checksumDelta: 1 })), 'PACK_MALFORMED');
  });

  it('refuses non-zero data after the end-of-archive marker', async () => {
    await refuses(tarGz(entry({ name: 'a' }, 'x'), END, Buffer.from('garbage')), 'PACK_MALFORMED');
    await refuses(tarGz(entry({ name: 'a' }, 'x'), END, entry({ name: 'hidden.rego' }, 'x')), 'PACK_MALFORMED');
  });

  it('refuses a pax header that is not followed by an entry', async () => {
    await refuses(tarGz(paxEntry({ path: 'a' })), 'PACK_MALFORMED');
    await refuses(tarGz(paxEntry({ mtime: '1' })), 'PACK_MALFORMED');
    await refuses(tarGz(longNameEntry('a')), 'PACK_MALFORMED');
  });
});
