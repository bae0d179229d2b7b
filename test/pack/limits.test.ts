/**
 * Pack limits are settings, not constants: the agent's `limits.*`, the CLI's `--max-*`
 * flags and the library's PackLimits options set them, and every refusal names the
 * limit, the size found and the key that raises it (message, details and hint).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMIT_FLAGS, limitsFromFlags } from '../../src/cli/limit-flags.js';
import { parseConfig } from '../../src/config/load.js';
import { packLimitsFrom } from '../../src/agent/wiring.js';
import type { WardenError } from '../../src/errors.js';
import { buildPack } from '../../src/pack/build.js';
import {
  AGENT_LIMIT_KEYS,
  CLI_LIMIT_KEYS,
  DEFAULT_PACK_LIMITS,
  OPTION_LIMIT_KEYS,
  type LimitKeys,
} from '../../src/pack/limits.js';
import { readPack } from '../../src/pack/reader.js';
import { collectSources } from '../../src/pack/sources.js';
import { rejectsCode } from '../helpers/errors.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { simplePolicy } from '../helpers/packs.js';
import { entry, manyFilesTarGz, tarGz } from '../helpers/tar-craft.js';

const MiB = 1024 * 1024;

// Asserts an error names its limit: "(<key>: <limit>)" or "(<flag> <limit>)" in the message,
// {limit, key, actual} in details, and a hint that says where to raise it.
function namesLimit(e: WardenError, key: string, limit: number, actual: number): void {
  assert.ok(e.message.includes(key) && e.message.includes(String(limit)), e.message);
  assert.equal(e.details.key, key);
  assert.equal(e.details.limit, limit);
  assert.equal(e.details.actual, actual);
  assert.ok(e.hint.includes(key), e.hint);
  assert.doesNotMatch(e.hint, /warden\.yaml/);
}

describe('pack limits: defaults', () => {
  it('let a pack with a 256 MiB data.json through: per file, inflated (with room for the wasm) and compressed', () => {
    assert.ok(DEFAULT_PACK_LIMITS.maxFileBytes >= 256 * MiB);
    assert.ok(DEFAULT_PACK_LIMITS.maxUncompressedBytes >= 256 * MiB + 32 * MiB);
    assert.ok(DEFAULT_PACK_LIMITS.maxCompressedBytes >= 256 * MiB, 'data that does not compress');
  });

  it('are the configuration defaults, and an http source takes limits.max_pack_bytes unless max_bytes is lower', () => {
    const config = parseConfig(
      [
        'limits: { max_pack_bytes: 4096 }',
        'packs:',
        '  - { name: a, source: { http: { url: "http://x/a" } }, verify: { public_keys: [k.pub] } }',
      ].join('\n'),
      '/x/agent.yaml',
    );
    assert.equal(config.limits.max_file_bytes, DEFAULT_PACK_LIMITS.maxFileBytes);
    assert.equal(config.packs[0]?.source.http?.max_bytes, undefined);
    assert.deepEqual(packLimitsFrom(config.limits), {
      maxCompressedBytes: 4096,
      maxUncompressedBytes: DEFAULT_PACK_LIMITS.maxUncompressedBytes,
      maxFiles: DEFAULT_PACK_LIMITS.maxFiles,
      maxFileBytes: DEFAULT_PACK_LIMITS.maxFileBytes,
    });
  });
});

describe('pack limits: every refusal names the limit, the size and the key', () => {
  const keysets: Array<[string, LimitKeys]> = [
    ['agent', AGENT_LIMIT_KEYS],
    ['cli', CLI_LIMIT_KEYS],
    ['library', OPTION_LIMIT_KEYS],
  ];
  for (const [who, keys] of keysets) {
    it(`readPack (${who} keys): compressed, inflated, file count and file size`, async () => {
      const names = keys.names;
      const big = tarGz(entry({ name: 'data.json' }, 'x'.repeat(5000)));
      let e = await rejectsCode(readPack(big, { maxCompressedBytes: 20 }, { limitKeys: keys }), 'PACK_TOO_LARGE');
      namesLimit(e, names.maxCompressedBytes, 20, big.length);
      assert.equal(e.details.size, big.length, 'details.size is kept');

      e = await rejectsCode(
        readPack(big, { maxUncompressedBytes: 2048 }, { limitKeys: keys }),
        'PACK_UNCOMPRESSED_TOO_LARGE',
      );
      assert.ok(e.message.includes('more than 2048 bytes'), e.message);
      namesLimit(e, names.maxUncompressedBytes, 2048, Number(e.details.actual));
      assert.ok(Number(e.details.actual) > 2048);

      e = await rejectsCode(readPack(big, { maxFileBytes: 4096 }, { limitKeys: keys }), 'PACK_FILE_TOO_LARGE');
      namesLimit(e, names.maxFileBytes, 4096, 5000);
      assert.match(e.message, /"data\.json" is 5000 bytes/);
      assert.equal(e.details.path, 'data.json');

      e = await rejectsCode(readPack(manyFilesTarGz(5), { maxFiles: 3 }, { limitKeys: keys }), 'PACK_TOO_MANY_FILES');
      namesLimit(e, names.maxFiles, 3, 4);
      assert.ok(e.message.includes('more than 3 entries'), e.message);
    });
  }

  it('config keys say "agent configuration", flags say "pass"', async () => {
    const big = tarGz(entry({ name: 'a' }, 'x'.repeat(100)));
    const agent = await rejectsCode(
      readPack(big, { maxFileBytes: 10 }, { limitKeys: AGENT_LIMIT_KEYS }),
      'PACK_FILE_TOO_LARGE',
    );
    assert.equal(agent.message, 'pack file "a" is 100 bytes, over the limit (limits.max_file_bytes: 10)');
    assert.match(agent.hint, /set limits\.max_file_bytes in the agent configuration to at least 100 \(now 10\)/);
    const cli = await rejectsCode(
      readPack(big, { maxFileBytes: 10 }, { limitKeys: CLI_LIMIT_KEYS }),
      'PACK_FILE_TOO_LARGE',
    );
    assert.equal(cli.message, 'pack file "a" is 100 bytes, over the limit (--max-file-bytes 10)');
    assert.match(cli.hint, /pass --max-file-bytes with at least 100 \(now 10\)/);
  });

  it('collectSources: a data file over maxFileBytes, too many files, too many bytes in all', async () => {
    const dir = await writeTree(tempDir(), {
      'a.rego': 'package a\n',
      'data.json': JSON.stringify({ a: { v: 'x'.repeat(2000) } }),
      'b/data.json': '{"b":1}',
    });
    const size = (await collectSources(dir)).data.get('data.json')?.length ?? 0;
    let e = await rejectsCode(
      collectSources(dir, { limits: { maxFileBytes: 1000 }, limitKeys: CLI_LIMIT_KEYS }),
      'PACK_SPEC_INVALID',
    );
    assert.equal(e.message, `data.json is ${size} bytes, over the limit (--max-file-bytes 1000)`);
    namesLimit(e, '--max-file-bytes', 1000, size);
    assert.equal(e.details.path, 'data.json');

    e = await rejectsCode(
      collectSources(dir, { limits: { maxFiles: 2 }, limitKeys: CLI_LIMIT_KEYS }),
      'PACK_SPEC_INVALID',
    );
    namesLimit(e, '--max-files', 2, 3);

    e = await rejectsCode(
      collectSources(dir, { limits: { maxUncompressedBytes: 2000 }, limitKeys: AGENT_LIMIT_KEYS }),
      'PACK_SPEC_INVALID',
    );
    namesLimit(e, 'limits.max_uncompressed_bytes', 2000, Number(e.details.actual));
  });

  it('buildPack refuses a pack a reader with the same limits would refuse (policy.wasm over maxFileBytes)', async () => {
    const dir = await writeTree(tempDir(), simplePolicy());
    const e = await rejectsCode(
      buildPack({ dir, sequence: 1, limits: { maxFileBytes: 50_000 }, limitKeys: CLI_LIMIT_KEYS }),
      'PACK_FILE_TOO_LARGE',
    );
    assert.match(e.message, /^pack file "policy\.wasm" is \d+ bytes, over the limit \(--max-file-bytes 50000\)$/);
    namesLimit(e, '--max-file-bytes', 50_000, Number(e.details.actual));
  });
});

describe('pack limits: the CLI flags', () => {
  it('are named as CLI_LIMIT_KEYS names them', () => {
    assert.deepEqual(
      Object.keys(LIMIT_FLAGS)
        .map((f) => `--${f}`)
        .sort(),
      Object.values(CLI_LIMIT_KEYS.names).sort(),
    );
    assert.deepEqual(
      limitsFromFlags({
        'max-pack-bytes': '1',
        'max-uncompressed-bytes': '2',
        'max-files': '3',
        'max-file-bytes': '4',
      }),
      { maxCompressedBytes: 1, maxUncompressedBytes: 2, maxFiles: 3, maxFileBytes: 4 },
    );
  });

  it('refuse a value that is not a positive integer, naming the flag', () => {
    for (const bad of ['0', '-1', '1.5', 'abc', '1e6', '', ' 12', '99999999999999999999']) {
      assert.throws(
        () => limitsFromFlags({ 'max-file-bytes': bad }),
        (e: WardenError) => e.code === 'USAGE' && e.message.includes('--max-file-bytes'),
        bad,
      );
    }
  });

  it("the agent's keys are keys of its configuration, and packLimitsFrom maps each to its limit", () => {
    const limits = { max_pack_bytes: 2011, max_uncompressed_bytes: 2012, max_files: 13, max_file_bytes: 14 };
    const config = parseConfig(
      `limits: ${JSON.stringify(limits)}\npacks: [{ name: a, source: { file: { path: a } }, verify: { public_keys: [k] } }]`,
      '/x/agent.yaml',
    );
    const mapped = packLimitsFrom(config.limits);
    for (const [limit, key] of Object.entries(AGENT_LIMIT_KEYS.names)) {
      const name = key.replace(/^limits\./, '') as keyof typeof limits;
      assert.equal(mapped[limit as keyof typeof mapped], limits[name], key);
    }
  });
});
