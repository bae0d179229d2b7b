import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { writeTarGz } from '../../src/pack/tar-writer.js';
import { parseState } from '../../src/store/state-file.js';
import { PackStore } from '../../src/store/store.js';
import type { CommitInput, StoredVersion } from '../../src/store/types.js';
import { TEMP_PREFIX } from '../../src/util/atomic-write.js';
import { sha256Digest } from '../../src/verify/digest.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { rejectsCode } from '../helpers/errors.js';

const PACK = 'governance';
const STORE_URL = pathToFileURL(join(import.meta.dirname, '../../src/store/store.ts')).href;

// A fixture pack: arbitrary bytes (the store never parses them) with its version.
function fixture(seq: number, signed = true): CommitInput & { digest: string } {
  const pack = Buffer.from(`pack ${seq} ${'x'.repeat(seq % 7)}`);
  const digest = sha256Digest(pack);
  const version = { digest, revision: `r${seq}`, sequence: seq, signer: 'key:test', origin: 'test' };
  return { pack, digest, version, ...(signed ? { signature: Buffer.from(`{"sig":${seq}}`) } : {}) };
}

// Opens a store, runs `work`, and always closes it.
async function withStore<T>(dir: string, work: (s: PackStore) => Promise<T>, historyLimit = 10): Promise<T> {
  const store = await PackStore.open(dir, { historyLimit });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

const blobsDir = (dir: string, pack = PACK): string => join(dir, 'packs', pack, 'blobs');
const blobFile = (dir: string, digest: string, ext = 'tar.gz'): string =>
  join(blobsDir(dir), `${digest.slice(7)}.${ext}`);
const digests = (versions: readonly StoredVersion[]): string[] => versions.map((v) => v.digest);

// Every file below dir, as paths relative to it.
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('PackStore commit and activation', () => {
  it('makes the previous active the last-known-good when a new version is activated', async () => {
    const [a, b, c] = [fixture(1), fixture(2), fixture(3)];
    await withStore(tempDir(), async (s) => {
      assert.deepEqual(await s.state(PACK), {
        active: undefined,
        lastKnownGood: undefined,
        versions: [],
        pinned: undefined,
        rollbacks: [],
        nextNumber: 1,
      });
      let st = await s.commit(PACK, a, true);
      assert.equal(st.active, a.digest);
      assert.equal(st.lastKnownGood, undefined);
      st = await s.commit(PACK, b, true);
      assert.deepEqual([st.active, st.lastKnownGood], [b.digest, a.digest]);
      st = await s.commit(PACK, c, false);
      assert.deepEqual([st.active, st.lastKnownGood], [b.digest, a.digest], 'a stored-only version changes neither');
      assert.deepEqual(digests(st.versions), [c.digest, b.digest, a.digest]);
      assert.ok(st.versions[1]?.activatedAt !== undefined && st.versions[0]?.activatedAt === undefined);
      assert.deepEqual(await s.state(PACK), st);
    });
  });

  it('keeps one version per digest, refreshed and moved to the front', async (t) => {
    const [a, b] = [fixture(1), fixture(2)];
    await withStore(tempDir(), async (s) => {
      // A mocked Date: the second activation is 5 ms later without waiting for it.
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const first = await s.commit(PACK, a, true);
      await s.commit(PACK, b, true);
      t.mock.timers.tick(5);
      const st = await s.commit(PACK, a, true);
      t.mock.timers.reset();
      assert.deepEqual(digests(st.versions), [a.digest, b.digest]);
      assert.deepEqual([st.active, st.lastKnownGood], [a.digest, b.digest]);
      assert.equal(st.versions[0]?.storedAt, first.versions[0]?.storedAt, 'first storage time is kept');
      assert.notEqual(st.versions[0]?.activatedAt, first.versions[0]?.activatedAt);
    });
  });

  it('bounds the history, evicting the oldest but never the active or lkg, and deletes evicted blobs', async () => {
    const dir = tempDir();
    const [a, b, c, d, e] = [fixture(1), fixture(2), fixture(3), fixture(4), fixture(5)];
    await withStore(
      dir,
      async (s) => {
        await s.commit(PACK, a, true);
        await s.commit(PACK, b, true);
        for (const f of [c, d, e]) await s.commit(PACK, f, false);
        const st = await s.state(PACK);
        assert.deepEqual(digests(st.versions), [e.digest, b.digest, a.digest]);
        assert.deepEqual([st.active, st.lastKnownGood], [b.digest, a.digest]);
      },
      3,
    );
    for (const kept of [a, b, e])
      assert.ok(existsSync(blobFile(dir, kept.digest)) && existsSync(blobFile(dir, kept.digest, 'sigstore.json')));
    for (const gone of [c, d])
      assert.ok(!existsSync(blobFile(dir, gone.digest)) && !existsSync(blobFile(dir, gone.digest, 'sigstore.json')));
  });

  it('rolls back to a stored version with markActive, the previous active becoming lkg', async () => {
    const [a, b, c] = [fixture(1), fixture(2), fixture(3)];
    await withStore(tempDir(), async (s) => {
      for (const f of [a, b, c]) await s.commit(PACK, f, true);
      const st = await s.markActive(PACK, a.digest);
      assert.deepEqual([st.active, st.lastKnownGood], [a.digest, c.digest]);
      assert.deepEqual(digests(st.versions), [c.digest, b.digest, a.digest], 'history order is kept');
      await rejectsCode(s.markActive(PACK, fixture(9).digest), 'USAGE');
    });
  });

  it('loads a stored version with its signature, and an unsigned one without', async () => {
    const [a, b] = [fixture(1), fixture(2, false)];
    await withStore(tempDir(), async (s) => {
      await s.commit(PACK, a, true);
      await s.commit(PACK, b, true);
      const la = await s.load(PACK, a.digest);
      assert.ok(la.pack.equals(a.pack) && la.signature?.equals(a.signature ?? Buffer.alloc(0)));
      assert.equal(la.version.revision, 'r1');
      assert.equal((await s.load(PACK, b.digest)).signature, undefined);
      await rejectsCode(s.load(PACK, fixture(9).digest), 'USAGE');
    });
  });

  it('refuses a commit whose bytes do not hash to the digest', async () => {
    const a = fixture(1);
    await withStore(tempDir(), async (s) => {
      await rejectsCode(s.commit(PACK, { ...a, pack: Buffer.from('other') }, true), 'DIGEST_MISMATCH');
      assert.deepEqual((await s.state(PACK)).versions, []);
    });
  });

  it('runs concurrent commits on one pack one at a time, in call order', async () => {
    const packs = Array.from({ length: 12 }, (_, i) => fixture(i + 1));
    await withStore(
      tempDir(),
      async (s) => {
        const results = await Promise.all(packs.map((p) => s.commit(PACK, p, true)));
        results.forEach((st, i) => assert.equal(st.active, packs[i]?.digest));
        const st = await s.state(PACK);
        assert.deepEqual(digests(st.versions), packs.map((p) => p.digest).reverse());
        assert.equal(st.lastKnownGood, packs[10]?.digest);
      },
      20,
    );
  });

  it('refuses pack names that are not plain folder names, and calls after close', async () => {
    const s = await PackStore.open(tempDir(), { historyLimit: 3 });
    for (const bad of ['..', '../x', 'a/b', '', '.hidden']) await rejectsCode(s.state(bad), 'USAGE');
    await s.close();
    await rejectsCode(s.state(PACK), 'USAGE');
    await rejectsCode(PackStore.open(tempDir(), { historyLimit: 0 }), 'USAGE');
  });
});

describe('PackStore on disk', () => {
  it('keeps the state across close and reopen, and removes LOCK on close', async () => {
    const dir = tempDir();
    const [a, b] = [fixture(1), fixture(2)];
    const before = await withStore(dir, async (s) => {
      await s.commit(PACK, a, true);
      return s.commit(PACK, b, true);
    });
    assert.ok(!existsSync(join(dir, 'LOCK')));
    await withStore(dir, async (s) => {
      assert.deepEqual(await s.state(PACK), before);
      assert.ok((await s.load(PACK, b.digest)).pack.equals(b.pack));
    });
  });

  it('removes stale temp files and orphan blobs at open', async () => {
    const dir = tempDir();
    const [a, orphan] = [fixture(1), fixture(2)];
    await withStore(dir, (s) => s.commit(PACK, a, true));
    const temps = [
      `${TEMP_PREFIX}LOCK.1`,
      `packs/${TEMP_PREFIX}x`,
      `packs/${PACK}/${TEMP_PREFIX}state.json.abc`,
      `packs/${PACK}/blobs/${TEMP_PREFIX}0a.tar.gz.abc`,
    ];
    const orphans = [
      `${orphan.digest.slice(7)}.tar.gz`,
      `${orphan.digest.slice(7)}.sigstore.json`,
      `${'e'.repeat(64)}.sigstore.json`,
    ];
    await writeTree(
      dir,
      Object.fromEntries([...temps, ...orphans.map((n) => `packs/${PACK}/blobs/${n}`)].map((p) => [p, 'leftover'])),
    );
    await writeTree(dir, { 'packs/uncommitted/blobs/keep.tar.gz': 'no state.json: kept for recover()' });
    await withStore(dir, async (s) => {
      assert.equal(s.openReport.tempFiles.length, temps.length);
      assert.deepEqual(s.openReport.orphans.map((p) => p.slice(blobsDir(dir).length + 1)).sort(), [...orphans].sort());
      assert.deepEqual((await s.state(PACK)).active, a.digest);
    });
    const files = await walk(dir);
    assert.deepEqual(
      files.filter((f) => f.includes(TEMP_PREFIX)),
      [],
    );
    assert.deepEqual(
      files.sort(),
      [
        `packs/${PACK}/blobs/${a.digest.slice(7)}.sigstore.json`,
        `packs/${PACK}/blobs/${a.digest.slice(7)}.tar.gz`,
        `packs/${PACK}/state.json`,
        'packs/uncommitted/blobs/keep.tar.gz',
      ].sort(),
    );
  });

  it('reports STORE_CORRUPT for a state.json that does not parse, and recover() rebuilds it from the blobs', async () => {
    const dir = tempDir();
    const [a, b, c] = [fixture(1), fixture(2), fixture(3)];
    await withStore(dir, async (s) => {
      for (const f of [c, a, b]) await s.commit(PACK, f, true);
    });
    const statePath = join(dir, 'packs', PACK, 'state.json');
    await writeFile(statePath, '{"format":1,"active":"sha256:tor');
    await writeFile(blobFile(dir, sha256Digest(Buffer.from('lost'))), 'bytes that do not hash to their name');
    const seqs = new Map([a, b, c].map((f) => [f.digest, f.version.sequence]));
    await withStore(dir, async (s) => {
      assert.deepEqual(s.openReport.corrupt, [PACK]);
      await rejectsCode(s.state(PACK), 'STORE_CORRUPT');
      const rec = await s.recover(PACK, ({ digest }) => ({
        revision: 'rec',
        sequence: seqs.get(digest) ?? 0,
        signer: 'unknown',
        origin: 'store',
      }));
      assert.deepEqual(digests(rec.versions), [c.digest, b.digest, a.digest], 'newest sequence first');
      assert.deepEqual([rec.active, rec.lastKnownGood], [c.digest, b.digest]);
      assert.deepEqual(
        rec.skipped.map((x) => x.error.code),
        ['STORE_CORRUPT'],
      );
      const { skipped: _skipped, ...recovered } = rec;
      assert.deepEqual(await s.state(PACK), recovered);
      assert.deepEqual(
        rec.versions.map((v) => v.number),
        [3, 2, 1],
        'recovered versions are numbered oldest first',
      );
      assert.ok((await s.load(PACK, c.digest)).pack.equals(c.pack));
    });
    assert.equal(await readFile(`${statePath}.corrupt`, 'utf8'), '{"format":1,"active":"sha256:tor');
  });

  it('recover() reads each pack marker by default and skips blobs that are not packs', async () => {
    const dir = tempDir();
    const real = (seq: number, pack = PACK): CommitInput => {
      const manifest = {
        revision: `rev-${seq}`,
        roots: [''],
        wasm: [{ entrypoint: 'g/allow', module: '/policy.wasm' }],
        metadata: { warden: { format: 1, pack, sequence: seq, created_at: '2026-01-01T00:00:00Z' } },
      };
      const bytes = writeTarGz([{ path: '.manifest', data: Buffer.from(JSON.stringify(manifest)) }]);
      return {
        pack: bytes,
        version: { digest: sha256Digest(bytes), revision: 'x', sequence: 0, signer: 's', origin: 'o' },
      };
    };
    const [p7, p9, other, junk] = [real(7), real(9), real(11, 'another'), fixture(1)];
    await withStore(dir, async (s) => {
      for (const f of [p9, p7, other, junk]) await s.commit(PACK, f, true);
      await unlink(join(dir, 'packs', PACK, 'state.json'));
      const rec = await s.recover(PACK);
      assert.deepEqual(digests(rec.versions), [p9.version.digest, p7.version.digest]);
      assert.deepEqual(
        rec.versions.map((v) => [v.revision, v.sequence]),
        [
          ['rev-9', 9],
          ['rev-7', 7],
        ],
      );
      assert.deepEqual(rec.skipped.map((x) => x.error.code).sort(), ['PACK_MALFORMED', 'PACK_NAME_MISMATCH']);
    });
  });

  it('refuses a blob whose bytes were altered on disk, or that is missing, with STORE_CORRUPT', async () => {
    const dir = tempDir();
    const [a, b] = [fixture(1), fixture(2)];
    await withStore(dir, async (s) => {
      await s.commit(PACK, a, true);
      await s.commit(PACK, b, true);
      const bytes = await readFile(blobFile(dir, a.digest));
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      await writeFile(blobFile(dir, a.digest), bytes);
      const e = await rejectsCode(s.load(PACK, a.digest), 'STORE_CORRUPT');
      assert.equal(e.details.digest, a.digest);
      await unlink(blobFile(dir, b.digest));
      await rejectsCode(s.load(PACK, b.digest), 'STORE_CORRUPT');
      await s.commit(PACK, a, false); // the same digest again rewrites the damaged blob
      assert.ok((await s.load(PACK, a.digest)).pack.equals(a.pack));
    });
  });
});

// The child for the crash test: commits packs of random sizes forever, sometimes
// re-committing or rolling back, and prints each digest once its commit resolved.
const CRASH_CHILD = `
const { PackStore } = await import(process.env.STORE_URL);
const { createHash, randomBytes } = await import('node:crypto');
const store = await PackStore.open(process.env.DATA_DIR, { historyLimit: 4 });
process.stdout.write('ready\\n');
let seq = Number(process.env.SEQ);
let last;
for (;;) {
  const r = Math.random();
  if (r < 0.1) {
    const st = await store.state('crash');
    const old = st.versions.at(-1);
    if (old) { await store.markActive('crash', old.digest); process.stdout.write('committed ' + old.digest + ' active\\n'); }
    continue;
  }
  const pack = r < 0.2 && last ? last : randomBytes(1024 + Math.floor(Math.random() * 256 * 1024));
  const digest = 'sha256:' + createHash('sha256').update(pack).digest('hex');
  const signature = seq % 3 === 0 ? undefined : Buffer.from(JSON.stringify({ seq }));
  const activate = Math.random() < 0.7;
  await store.commit('crash', { pack, signature, version: { digest, revision: 'r' + seq, sequence: seq++, signer: 'test', origin: 'crash' } }, activate);
  last = pack;
  process.stdout.write('committed ' + digest + (activate ? ' active' : '') + '\\n');
}
`;

// Runs the crash child, kills it with SIGKILL `delayMs` after it is ready; resolves with the commits it reported done.
function runAndKill(dir: string, seq: number, delayMs: number): Promise<Array<{ digest: string; activated: boolean }>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CRASH_CHILD], {
      env: { ...process.env, STORE_URL, DATA_DIR: dir, SEQ: String(seq) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      const wasReady = out.includes('ready\n');
      out += d.toString();
      if (!wasReady && out.includes('ready\n')) setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`crash child exited ${code}: ${err}`));
      resolve(
        [...out.matchAll(/^committed (sha256:[0-9a-f]{64})( active)?$/gm)].map((m) => ({
          digest: m[1] ?? '',
          activated: m[2] !== undefined,
        })),
      );
    });
  });
}

describe('PackStore crash safety', () => {
  it('serves a verified pack after kill -9 at 20 random moments of committing', async () => {
    const dir = tempDir();
    let acknowledged = 0;
    let activated = 0;
    for (let round = 0; round < 20; round++) {
      const done = await runAndKill(dir, round * 10_000, Math.floor(Math.random() * 200));
      acknowledged += done.length;
      activated += done.filter((d) => d.activated).length;
      await withStore(dir, async (s) => {
        const st = await s.state('crash');
        const last = done.at(-1)?.digest;
        if (last !== undefined)
          assert.ok(digests(st.versions).includes(last), `round ${round}: acknowledged ${last} is stored`);
        // Commits may store without activating; once any acknowledged commit activated, something stays active.
        if (activated > 0) assert.ok(st.active !== undefined, `round ${round}: a version is active`);
        for (const v of st.versions) assert.equal(sha256Digest((await s.load('crash', v.digest)).pack), v.digest);
        const files = await walk(dir);
        assert.deepEqual(
          files.filter((f) => f.includes(TEMP_PREFIX)),
          [],
          `round ${round}: no temp files after open`,
        );
        const blobs = files
          .filter((f) => f.startsWith('packs/crash/blobs/'))
          .map((f) => `sha256:${f.slice('packs/crash/blobs/'.length, -'.tar.gz'.length)}`);
        const referenced = new Set(digests(st.versions));
        // Before the first state.json exists, blobs are kept on purpose for recover() (sweep.ts).
        if (files.includes('packs/crash/state.json')) {
          assert.deepEqual(
            blobs.filter((f) => f.length === 71 && !referenced.has(f)),
            [],
            `round ${round}: no orphan blobs after open`,
          );
        }
      });
    }
    assert.ok(acknowledged >= 20, `only ${acknowledged} commits completed across the rounds`);
  });
});

describe('PackStore version numbers, rollback and pin', () => {
  it('numbers versions in order of first storage and keeps a number when a digest comes back', async () => {
    const dir = tempDir();
    await withStore(dir, async (s) => {
      const [a, b] = [fixture(101), fixture(102)];
      await s.commit(PACK, a, true);
      await s.commit(PACK, b, true);
      const st = await s.commit(PACK, a, true);
      assert.deepEqual(
        st.versions.map((v) => [v.digest, v.number]),
        [
          [a.version.digest, 1],
          [b.version.digest, 2],
        ],
      );
      assert.equal(st.nextNumber, 3);
    });
  });

  it('records a rollback with who and why, pins the pack, and keeps both across a reopen', async () => {
    const dir = tempDir();
    const [a, b] = [fixture(201), fixture(202)];
    await withStore(dir, async (s) => {
      await s.commit(PACK, a, true);
      await s.commit(PACK, b, true);
      const st = await s.rollback(PACK, a.version.digest, { actor: 'ops@acme', reason: 'v2 denies checkout' });
      assert.deepEqual([st.active, st.lastKnownGood], [a.version.digest, b.version.digest]);
      assert.equal(st.pinned?.digest, a.version.digest);
      assert.deepEqual(
        st.rollbacks.map((r) => [r.from, r.to, r.actor, r.reason]),
        [[b.version.digest, a.version.digest, 'ops@acme', 'v2 denies checkout']],
      );
      assert.equal(st.versions.find((v) => v.digest === a.version.digest)?.reason, 'v2 denies checkout');
    });
    await withStore(dir, async (s) => {
      const st = await s.state(PACK);
      assert.equal(st.pinned?.actor, 'ops@acme');
      assert.equal(st.rollbacks.length, 1);
      const cleared = await s.setPin(PACK, undefined);
      assert.equal(cleared.pinned, undefined);
      assert.equal(cleared.rollbacks.length, 1, 'unpinning keeps the rollback history');
    });
  });

  it('never evicts the pinned version from a bounded history', async () => {
    const dir = tempDir();
    await withStore(
      dir,
      async (s) => {
        const first = fixture(300);
        await s.commit(PACK, first, true);
        await s.rollback(PACK, first.version.digest, { actor: 'ops', reason: 'pin it' });
        for (let i = 1; i <= 6; i++) await s.commit(PACK, fixture(300 + i), false);
        const st = await s.state(PACK);
        assert.ok(st.versions.some((v) => v.digest === first.version.digest));
      },
      3,
    );
  });

  it('reads a format-1 state file and numbers its versions', () => {
    const v = (d: string, seq: number) => ({
      digest: `sha256:${d.repeat(64)}`,
      revision: `r${seq}`,
      sequence: seq,
      signer: 's',
      origin: 'o',
      storedAt: '2026-01-01T00:00:00.000Z',
    });
    const st = parseState(
      Buffer.from(
        JSON.stringify({
          format: 1,
          active: v('b', 2).digest,
          lastKnownGood: v('a', 1).digest,
          versions: [v('b', 2), v('a', 1)],
        }),
      ),
      'state.json',
    );
    assert.deepEqual(
      st.versions.map((x) => x.number),
      [2, 1],
    );
    assert.equal(st.nextNumber, 3);
    assert.deepEqual(st.rollbacks, []);
  });
});
