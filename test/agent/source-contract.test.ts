/**
 * The contract every remote source keeps, run against each real server: the
 * pack server (`http`) and a CNCF distribution registry (`oci`). Change
 * detection; tamper and wrong-signature refusal with the last-known-good pack
 * kept; downgrade refused; the server down at boot with a stored pack; kill -9
 * during fetches.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signPack } from '../../src/sign/sign.js';
import { OciClient } from '../../src/source/oci/client.js';
import { pushPack } from '../../src/source/oci/push.js';
import { parseOciReference } from '../../src/source/oci/reference.js';
import { sha256Digest } from '../../src/verify/digest.js';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import {
  WardenProcess,
  agentMetric as metric,
  startAgentProcess,
  startPackServerProcess,
} from '../helpers/processes.js';
import { ociToolsPresent, startRegistry, type Registry } from '../helpers/registry.js';
import { publish, variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();
const rogue = p256();

/** One kind of remote source under test. */
interface Remote {
  /** The lines under `source:` (6-space indented). */
  sourceLines(): string[];
  publish(pack: Buffer, signature: Buffer): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const POLL = [
  '        poll_min_seconds: 0.05',
  '        poll_max_seconds: 0.1',
  '        timeout_seconds: 2',
  '        backoff_max_seconds: 0.5',
];

async function httpRemote(dir: string): Promise<Remote> {
  const packs = join(dir, 'packs');
  await mkdir(packs);
  let server: Awaited<ReturnType<typeof startPackServerProcess>> | undefined;
  let port = '127.0.0.1:0';
  const remote: Remote = {
    sourceLines: () => ['      http:', `        url: http://${port}/v1/policy/packs/app`, ...POLL],
    publish: (pack, signature) => publish(packs, 'app', pack, { signature }),
    stop: async () => void (await server?.proc.stop()),
    start: async () => {
      server = await startPackServerProcess(packs, ['--listen', port]);
      port = new URL(server.url).host;
    },
  };
  return remote;
}

function ociRemote(): Remote {
  let registry: Registry | undefined;
  return {
    sourceLines: () => [
      '      oci:',
      `        reference: ${registry?.host ?? ''}/policy/app:live`,
      '        insecure_http: true',
      ...POLL,
    ],
    publish: async (pack, signature) => {
      const client = new OciClient({
        ref: parseOciReference(`${registry?.host ?? ''}/policy/app:live`),
        credentials: { kind: 'anonymous' },
        insecureHttp: true,
        timeoutMs: 5000,
        push: true,
      });
      try {
        await pushPack(client, 'live', pack, 'app.tar.gz', signature);
      } finally {
        await client.close();
      }
    },
    stop: async () => registry?.stop(),
    start: async () => {
      if (registry === undefined) registry = await startRegistry();
      else await registry.restart();
    },
  };
}

async function agentConfig(dir: string, remote: Remote): Promise<string> {
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  const path = join(dir, 'agent.yaml');
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      `data_dir: ${join(dir, 'data')}`,
      'log_level: info',
      'packs:',
      '  - name: app',
      '    source:',
      ...remote.sourceLines(),
      '    verify:',
      '      public_keys: [policy.pub]',
    ].join('\n'),
  );
  return path;
}

async function version(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 200);
  return ((await res.json()) as { result: number }).result;
}

const signed = async (pack: Buffer, k = key.privateKey): Promise<Buffer> =>
  Buffer.from(JSON.stringify(await signPack(pack, k)));

const kinds: Array<{ name: string; make: (dir: string) => Promise<Remote>; skip: string | false }> = [
  { name: 'http', make: httpRemote, skip: false },
  {
    name: 'oci',
    make: () => Promise.resolve(ociRemote()),
    skip: ociToolsPresent() ? false : 'registry/oras missing: node scripts/install-tools.mjs registry oras',
  },
];

for (const kind of kinds) {
  describe(`source contract: ${kind.name}`, { skip: kind.skip }, () => {
    const dir = tempDir();
    let remote: Remote;
    let agent: { proc: WardenProcess; url: string };
    const failures = (code: string): Promise<number> =>
      metric(agent.url, 'policy_reload_failure_total', `code="${code}"`);

    before(async () => {
      remote = await kind.make(dir);
      await remote.start();
      const v1 = await variant(1);
      await remote.publish(v1, await signed(v1));
      agent = await startAgentProcess(await agentConfig(dir, remote));
    });

    after(async () => {
      await WardenProcess.killAll();
      await remote.stop();
    });

    it('detects a change: v1, then v2 once it is published', async () => {
      assert.equal(await version(agent.url), 1);
      const v2 = await variant(2);
      await remote.publish(v2, await signed(v2));
      await eventually(async () => (await version(agent.url)) === 2);
    });

    it('refuses tampered bytes (DIGEST_MISMATCH) and keeps v2', async () => {
      const v3 = await variant(3);
      const tampered = Buffer.from(v3);
      tampered[tampered.length - 9] = (tampered[tampered.length - 9] ?? 0) ^ 0xff;
      await remote.publish(tampered, await signed(v3));
      await eventually(async () => (await failures('DIGEST_MISMATCH')) > 0);
      assert.equal(await version(agent.url), 2);
    });

    it('refuses a pack signed by an untrusted key and keeps v2', async () => {
      const v3 = await variant(3);
      await remote.publish(v3, await signed(v3, rogue.privateKey));
      await eventually(async () => (await failures('SIGNATURE_KEY_UNKNOWN')) > 0);
      assert.equal(await version(agent.url), 2);
      const health = (await (await fetch(`${agent.url}/healthz`)).json()) as {
        packs: { app: { last_error: { code: string } } };
      };
      assert.equal(health.packs.app.last_error.code, 'SIGNATURE_KEY_UNKNOWN');
    });

    it('refuses a validly signed downgrade and keeps v2', async () => {
      const v4 = await variant(4, { sequence: 1 });
      await remote.publish(v4, await signed(v4));
      await eventually(async () => (await failures('PACK_DOWNGRADE')) > 0);
      assert.equal(await version(agent.url), 2);
    });

    it('takes the next good pack', async () => {
      const v5 = await variant(5);
      await remote.publish(v5, await signed(v5));
      await eventually(async () => (await version(agent.url)) === 5);
    });

    it('boots on the stored pack with the server down, and reports it stale', async () => {
      await remote.stop();
      await agent.proc.stop();
      agent = await startAgentProcess(join(dir, 'agent.yaml'));
      assert.equal(await version(agent.url), 5);
      const h = (await (await fetch(`${agent.url}/healthz`)).json()) as {
        packs: { app: { stale: boolean; last_error: { code: string } } };
      };
      assert.equal(h.packs.app.stale, true);
      assert.equal(h.packs.app.last_error.code, 'FETCH_FAILED');
      await remote.start();
      await agent.proc.stop();
    });

    it('comes up on a published pack after kill -9 at 8 random moments while packs are published', async () => {
      const published = new Map<string, number>([[sha256Digest(await variant(5)), 5]]);
      let n = 6;
      let publishing = true;
      const publisher = (async () => {
        while (publishing) {
          const bytes = await variant(n);
          published.set(sha256Digest(bytes), n);
          await remote.publish(bytes, await signed(bytes));
          n += 1;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      try {
        for (let round = 0; round < 8; round++) {
          const { proc, url } = await startAgentProcess(join(dir, 'agent.yaml'));
          const res = await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' });
          const answer = ((await res.json()) as { result: number }).result;
          assert.equal(answer, published.get(res.headers.get('x-warden-digest') ?? ''), `round ${round}`);
          // A random moment to kill at is the input of this test, not a wait for something.
          await new Promise((r) => setTimeout(r, Math.random() * 400));
          proc.child.kill('SIGKILL');
          await proc.exited;
        }
      } finally {
        publishing = false;
        await publisher;
      }
      const last = await startAgentProcess(join(dir, 'agent.yaml'));
      await eventually(async () => (await version(last.url)) === n - 1);
    });
  });
}
