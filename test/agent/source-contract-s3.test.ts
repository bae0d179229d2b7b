/**
 * The contract every remote source keeps (source-contract.test.ts runs it for `http`
 * and `oci`), run here for `s3` against a real agent process and a real MinIO. Change
 * detection (a new pack reloads; an unchanged one is confirmed without being
 * fetched in full or verified again), tampered and wrongly signed packs refused
 * with the last-known-good kept, a downgrade refused, the server down (while
 * running and at boot with a stored pack), and kill -9 during fetches. The s3
 * source adds its credentials: keys the server refuses are a coded, counted
 * failure and the active pack stays.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signPack } from '../../src/sign/sign.js';
import { sha256Digest } from '../../src/verify/digest.js';
import { tempDir } from '../helpers/fs.js';
import { MinioServer } from '../helpers/minio.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, agentMetric as metric, startAgentProcess } from '../helpers/processes.js';
import { variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();
const rogue = p256();

/** A server a source fetches from, as the contract drives it. */
interface Backend {
  readonly kind: 'http' | 's3';
  /** The `source:` entry, indented for the agent config. */
  sourceLines(): string[];
  /** Publishes a pack and its signature, the signature first. */
  publish(pack: Buffer, signature: Buffer): Promise<void>;
  /** Stops the server (the same address and content come back with up()). */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

// A MinIO bucket, reached with keys from files (as a mounted Secret).
async function s3Backend(dir: string): Promise<Backend> {
  const minio = await MinioServer.start();
  await minio.createBucket('packs');
  await minio.credentialFiles(dir);
  return {
    kind: 's3',
    sourceLines: () => [
      '      s3:',
      `        endpoint: ${minio.endpoint}`,
      '        bucket: packs',
      '        key: app.tar.gz',
      `        region: ${minio.region}`,
      '        force_path_style: true',
      '        credentials:',
      '          access_key_id_file: access_key_id',
      '          secret_access_key_file: secret_access_key',
      ...POLL,
    ],
    publish: (pack, signature) => minio.publish('packs', 'app.tar.gz', pack, signature),
    down: () => minio.stop(),
    up: () => minio.restart(),
    close: () => minio.close(),
  };
}

const POLL = [
  '        poll_min_seconds: 0.05',
  '        poll_max_seconds: 0.1',
  '        timeout_seconds: 2',
  '        backoff_max_seconds: 0.5',
];

// The agent config: one pack `app` from the backend, trusting `key`.
async function agentConfig(dir: string, backend: Backend): Promise<string> {
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  const path = join(dir, 'agent.yaml');
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      'data_dir: data',
      'log_level: info',
      'packs:',
      '  - name: app',
      '    source:',
      ...backend.sourceLines(),
      '    verify:',
      '      public_keys: [policy.pub]',
    ].join('\n'),
  );
  return path;
}

// The version the active pack answers, and the digest of the pack that answered.
async function answer(url: string): Promise<{ version: number; digest: string }> {
  const res = await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 200);
  return {
    version: ((await res.json()) as { result: number }).result,
    digest: res.headers.get('x-warden-digest') ?? '',
  };
}
const version = async (url: string): Promise<number> => (await answer(url)).version;

interface Health {
  status: string;
  packs: { app: { stale: boolean; last_error?: { code: string }; active: { digest: string } } };
}
const health = async (url: string): Promise<Health> => (await (await fetch(`${url}/healthz`)).json()) as Health;

// Temp files left below dir (a kill -9 mid-write), as the resilience test counts them.
function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => /(^|\/)\.warden-tmp-/.test(f) && statSync(join(dir, f), { throwIfNoEntry: false })?.isFile() === true,
  );
}

for (const make of [s3Backend]) {
  describe('source contract: s3', () => {
    const dir = tempDir();
    let backend: Backend;
    let agent: { proc: WardenProcess; url: string };
    let path: string;
    const published = new Map<string, number>();
    const signed = async (n: number, opts: { sequence?: number } = {}): Promise<void> => {
      const bytes = await variant(n, opts);
      published.set(sha256Digest(bytes), n);
      await backend.publish(bytes, Buffer.from(JSON.stringify(await signPack(bytes, key.privateKey))));
    };

    before(async () => {
      backend = await make(dir);
      await signed(1);
      path = await agentConfig(dir, backend);
      agent = await startAgentProcess(path);
    });
    after(async () => {
      await WardenProcess.killAll();
      await backend.close();
    });

    it('reloads when a new pack is published', async () => {
      assert.equal(await version(agent.url), 1);
      await signed(2);
      await eventually(async () => (await version(agent.url)) === 2, { what: 'v2 active' });
    });

    it('confirms an unchanged pack on every poll without fetching it in full or verifying it again', async () => {
      const fetched = (): number => agent.proc.logs().filter((l) => l.msg === 'policy pack fetched').length;
      const before = { fetched: fetched(), reloads: await metric(agent.url, 'policy_reload_success_total', '') };
      const unchanged = (): Promise<number> =>
        metric(agent.url, 'policy_fetch_duration_seconds_count', 'result="unchanged"');
      const start = await unchanged();
      await eventually(async () => (await unchanged()) >= start + 5, { what: 'five unchanged polls' });
      assert.equal(fetched(), before.fetched, 'no pack was downloaded and handed over');
      assert.equal(await metric(agent.url, 'policy_reload_success_total', ''), before.reloads);
    });

    it('refuses a tampered pack (DIGEST_MISMATCH) and keeps the last-known-good', async () => {
      const v3 = await variant(3);
      const other = await variant(30);
      await backend.publish(other, Buffer.from(JSON.stringify(await signPack(v3, key.privateKey))));
      await eventually(
        async () => (await metric(agent.url, 'policy_reload_failure_total', 'code="DIGEST_MISMATCH"')) > 0,
      );
      assert.equal(await version(agent.url), 2);
      assert.equal((await health(agent.url)).packs.app.last_error?.code, 'DIGEST_MISMATCH');
    });

    it('refuses a pack signed by an untrusted key (SIGNATURE_KEY_UNKNOWN) and keeps the last-known-good', async () => {
      const v4 = await variant(4);
      await backend.publish(v4, Buffer.from(JSON.stringify(await signPack(v4, rogue.privateKey))));
      await eventually(
        async () => (await metric(agent.url, 'policy_reload_failure_total', 'code="SIGNATURE_KEY_UNKNOWN"')) > 0,
      );
      assert.equal(await version(agent.url), 2);
    });

    it('refuses a validly signed pack older than the active one as a downgrade', async () => {
      await signed(5, { sequence: 1 });
      await eventually(
        async () => (await metric(agent.url, 'policy_reload_failure_total', 'code="PACK_DOWNGRADE"')) > 0,
      );
      assert.equal(await version(agent.url), 2);
      await signed(6);
      await eventually(async () => (await version(agent.url)) === 6, { what: 'the next good pack taken' });
    });

    it('keeps answering when the server goes down and reports the pack stale', async () => {
      await backend.down();
      await eventually(async () => (await health(agent.url)).packs.app.stale, { what: 'stale' });
      assert.equal(await version(agent.url), 6);
    });

    it('boots on the stored pack with the server down, stale, and fresh again once the server is back', async () => {
      await agent.proc.stop();
      agent = await startAgentProcess(path);
      assert.equal(await version(agent.url), 6);
      assert.equal((await health(agent.url)).packs.app.stale, true);
      await eventually(async () => (await health(agent.url)).packs.app.last_error?.code === 'FETCH_FAILED', {
        what: 'the failed fetch in /healthz',
      });
      await backend.up();
      await eventually(async () => !(await health(agent.url)).packs.app.stale, { what: 'fresh again' });
      assert.equal(await version(agent.url), 6);
    });

    it('comes up on a published, verified pack after kill -9 at random moments while packs are published', async () => {
      let n = 7;
      let publishing = true;
      const publisher = (async () => {
        while (publishing) {
          await signed(n);
          n += 1;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      let stale: string[] = [];
      try {
        for (let round = 0; round < 6; round++) {
          const { version: v, digest } = await answer(agent.url);
          assert.equal(published.get(digest), v, `round ${round}: the answer comes from a published pack`);
          const current = new Set(tempFiles(join(dir, 'data')));
          assert.deepEqual(
            stale.filter((f) => current.has(f)),
            [],
            `round ${round}: the temp files of the previous kill were swept`,
          );
          // A random moment to kill at is the input of this test, not a wait for something.
          await new Promise((r) => setTimeout(r, Math.random() * 400));
          await agent.proc.stop('SIGKILL');
          stale = tempFiles(join(dir, 'data'));
          agent = await startAgentProcess(path);
        }
      } finally {
        publishing = false;
        await publisher;
      }
      const last = n - 1;
      await eventually(async () => (await version(agent.url)) === last, { what: `the last pack (v${last}) active` });
    });

    if (make === s3Backend)
      it('counts keys the server refuses (FETCH_ACCESS_DENIED) and keeps the active pack; rotated keys work again', async () => {
        const secret = join(dir, 'secret_access_key');
        const good = await readFile(secret);
        const before = await metric(agent.url, 'policy_fetch_failure_total', 'code="FETCH_ACCESS_DENIED"');
        const active = await version(agent.url);
        await writeFile(secret, 'not-the-secret-at-all');
        await eventually(
          async () => (await metric(agent.url, 'policy_fetch_failure_total', 'code="FETCH_ACCESS_DENIED"')) > before,
          { what: 'a refused request counted' },
        );
        assert.equal((await health(agent.url)).packs.app.last_error?.code, 'FETCH_ACCESS_DENIED');
        assert.equal(await version(agent.url), active);
        await writeFile(secret, good);
        await signed(active + 100);
        await eventually(async () => (await version(agent.url)) === active + 100, {
          what: 'the next pack after the rotation',
        });
      });
  });
}
