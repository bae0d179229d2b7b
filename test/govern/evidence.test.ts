import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { writeBootEvidence, type BootEvidenceInput, type EvidencePolicy } from '../../src/govern/verdict/evidence.js';
import { WARDEN_VERSION } from '../../src/project.js';
import { rejectsCode } from '../helpers/errors.js';
import { tempDir } from '../helpers/fs.js';

const HEX = 'ab'.repeat(32);
const GOVERNANCE: EvidencePolicy = {
  pack: 'governance',
  digest: `sha256:${HEX}`,
  revision: 'r12',
  sequence: 12,
  number: 3,
};
const AUTHZ: EvidencePolicy = { pack: 'authz', digest: `sha256:${'cd'.repeat(32)}`, revision: '7', sequence: 7 };
const CONFIG = 'listen: 127.0.0.1:8181\ngovernance:\n  pack: governance\n';

// An input writing under a fresh evidence root at a fixed time.
function input(over: Partial<BootEvidenceInput> = {}): BootEvidenceInput {
  return {
    dir: join(tempDir(), 'artifacts', 'governance', 'runtime'),
    policy: GOVERNANCE,
    packs: [GOVERNANCE, AUTHZ],
    configDigest: `sha256:${createHash('sha256').update(CONFIG, 'utf8').digest('hex')}`,
    environment: 'production',
    mode: 'strict',
    now: () => new Date('2025-03-04T05:06:07.089Z'),
    ...over,
  };
}

// Every file name under dir, recursively, relative to it (empty if dir is missing).
async function listAll(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true })).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

describe('writeBootEvidence', () => {
  it('writes boot.json under the policy hex with every field, in order, and the config digest', async () => {
    const inp = input();
    const path = await writeBootEvidence(inp);
    assert.equal(path, join(inp.dir, HEX, 'boot.json'));
    const text = await readFile(path, 'utf8');
    const expected = {
      schema: 'warden.governance.boot/v1',
      policy: { pack: 'governance', digest: `sha256:${HEX}`, revision: 'r12', sequence: 12, number: 3 },
      policy_sha256: HEX,
      packs: [
        { pack: 'governance', digest: `sha256:${HEX}`, revision: 'r12', sequence: 12, number: 3 },
        { pack: 'authz', digest: `sha256:${'cd'.repeat(32)}`, revision: '7', sequence: 7 },
      ],
      time: '2025-03-04T05:06:07.089Z',
      mode: 'strict',
      environment: {
        name: 'production',
        hostname: hostname(),
        pid: process.pid,
        node: process.version,
        platform: process.platform,
        arch: process.arch,
        warden_version: WARDEN_VERSION,
      },
      config_digest: `sha256:${createHash('sha256').update(CONFIG, 'utf8').digest('hex')}`,
    };
    assert.equal(text, `${JSON.stringify(expected, null, 2)}\n`);
  });

  it('takes the digest parseConfig computed of the configuration text', async () => {
    const config = parseConfig(
      `${CONFIG}packs:\n  - name: governance\n    source: { file: { path: g.tar.gz } }\n    verify: { public_keys: [k.pub] }\n`,
      '/etc/warden/agent.yaml',
    );
    const path = await writeBootEvidence(input({ configDigest: config.configDigest, mode: 'standard' }));
    const doc = JSON.parse(await readFile(path, 'utf8')) as { config_digest: string; mode: string };
    assert.match(doc.config_digest, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(
      doc.config_digest,
      `sha256:${createHash('sha256').update(CONFIG, 'utf8').digest('hex')}`,
      'the whole text counts',
    );
    assert.equal(doc.mode, 'standard');
  });

  it('refuses a malformed config digest and writes nothing', async () => {
    const dir = join(tempDir(), 'runtime');
    await rejectsCode(
      writeBootEvidence(input({ dir, configDigest: 'sha256:nothex' })),
      'POLICY_INTEGRITY_CHECK_FAILED',
    );
    assert.equal(existsSync(dir), false);
  });

  it('records only the known pack fields, even if the caller passes more', async () => {
    const extra = { ...AUTHZ, secret: 'token' } as EvidencePolicy;
    const path = await writeBootEvidence(input({ packs: [extra] }));
    const doc = JSON.parse(await readFile(path, 'utf8')) as { packs: unknown[] };
    assert.deepEqual(doc.packs, [{ pack: 'authz', digest: AUTHZ.digest, revision: '7', sequence: 7 }]);
  });

  it('overwrites boot.json on a second boot of the same policy and leaves no temp files', async () => {
    const first = input();
    await writeBootEvidence(first);
    const path = await writeBootEvidence({
      ...first,
      now: () => new Date('2025-03-05T00:00:00.000Z'),
      environment: 'staging',
    });
    const doc = JSON.parse(await readFile(path, 'utf8')) as { time: string; environment: { name: string } };
    assert.equal(doc.time, '2025-03-05T00:00:00.000Z');
    assert.equal(doc.environment.name, 'staging');
    assert.deepEqual(await listAll(first.dir), [HEX, join(HEX, 'boot.json')]);
  });

  it('keeps one folder per policy digest', async () => {
    const first = input();
    await writeBootEvidence(first);
    const other: EvidencePolicy = { ...GOVERNANCE, digest: `sha256:${'ef'.repeat(32)}`, revision: 'r13', sequence: 13 };
    await writeBootEvidence({ ...first, policy: other, packs: [other] });
    assert.deepEqual(
      await listAll(first.dir),
      [HEX, join(HEX, 'boot.json'), 'ef'.repeat(32), join('ef'.repeat(32), 'boot.json')].sort(),
    );
  });

  it('rejects with EVIDENCE_WRITE_FAILED naming the path when the root is a regular file', async () => {
    const root = join(tempDir(), 'runtime');
    await writeFile(root, 'not a folder');
    const err = await rejectsCode(writeBootEvidence(input({ dir: root })), 'EVIDENCE_WRITE_FAILED');
    assert.equal(err.details.path, join(root, HEX, 'boot.json'));
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOTDIR');
    assert.equal(await readFile(root, 'utf8'), 'not a folder');
  });

  it('rejects with EVIDENCE_WRITE_FAILED and leaves no temp file when boot.json cannot be replaced', async () => {
    const inp = input();
    await writeBootEvidence(inp);
    const path = join(inp.dir, HEX, 'boot.json');
    // A non-empty folder where boot.json should be: the temp file is written and synced, then the rename fails.
    await rm(path);
    await mkdir(join(path, 'occupied'), { recursive: true });
    const err = await rejectsCode(writeBootEvidence(inp), 'EVIDENCE_WRITE_FAILED');
    assert.equal(err.details.path, path);
    assert.deepEqual(await listAll(join(inp.dir, HEX)), ['boot.json', join('boot.json', 'occupied')]);
  });

  for (const [what, digest] of [
    ['a path traversal', 'sha256:../../etc'],
    ['a traversal padded to 64 characters', `sha256:../../${'a'.repeat(58)}`],
    ['uppercase hex', `sha256:${HEX.toUpperCase()}`],
    ['a short digest', 'sha256:abcd'],
    ['another algorithm', `sha512:${HEX}`],
    ['a bare hex string', HEX],
    ['a trailing newline', `sha256:${HEX}\n`],
    ['an empty string', ''],
  ] as const) {
    it(`refuses ${what} as the policy digest with POLICY_INTEGRITY_CHECK_FAILED and writes nothing`, async () => {
      const root = tempDir();
      const policy = { ...GOVERNANCE, digest };
      await rejectsCode(
        writeBootEvidence(input({ dir: join(root, 'runtime'), policy, packs: [policy] })),
        'POLICY_INTEGRITY_CHECK_FAILED',
      );
      assert.deepEqual(await listAll(root), []);
    });
  }

  it('refuses a malformed digest among the active packs and writes nothing', async () => {
    const root = tempDir();
    const bad = { ...AUTHZ, digest: 'sha256:00' };
    await rejectsCode(
      writeBootEvidence(input({ dir: join(root, 'runtime'), packs: [GOVERNANCE, bad] })),
      'POLICY_INTEGRITY_CHECK_FAILED',
    );
    assert.deepEqual(await listAll(root), []);
  });
});
