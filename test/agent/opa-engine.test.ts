/**
 * engine: opa end to end, with real processes: a Warden agent that starts and
 * supervises the pinned opa, a pack server, signed packs. A published pack is
 * verified, stored, delivered to OPA and reported active by OPA before Warden
 * answers from it; OPA refusing a pack, OPA dying and Warden dying are each
 * survived without a wrong answer.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, agentMetric, startAgentProcess, startPackServerProcess } from '../helpers/processes.js';
import { publish, variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();
const ADMIN_TOKEN = 'an-admin-token-of-32-characters!';

interface OpaHealth {
  readonly status: string;
  readonly packs: { readonly app: { readonly active?: { readonly revision: string } } };
  readonly opa: {
    readonly up: boolean;
    readonly pid?: number;
    readonly restarts: number;
    readonly bundles: Record<string, { readonly revision?: string; readonly lastError?: string }>;
  };
}

// An agent with engine: opa polling the pack server fast.
async function config(dir: string, serverUrl: string, extra: string[] = []): Promise<string> {
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  const path = join(dir, 'agent.yaml');
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      'data_dir: data',
      'log_level: warn',
      'decision_workers: 0',
      'engine: opa',
      // These tests count failed reloads, restarts and refusals, not OPA's latency: a loaded
      // machine must not turn a slow answer into a 503 (opa-timeout.test.ts covers the limit).
      'opa: { decision_timeout_ms: 5000 }',
      ...extra,
      'packs:',
      '  - name: app',
      '    source:',
      '      http:',
      `        url: ${serverUrl}/v1/policy/packs/app`,
      '        poll_min_seconds: 0.02',
      '        poll_max_seconds: 0.05',
      '        timeout_seconds: 2',
      '        long_poll_seconds: 5',
      '    verify:',
      '      public_keys: [policy.pub]',
    ].join('\n'),
  );
  return path;
}

async function health(url: string): Promise<OpaHealth> {
  return (await (await fetch(`${url}/healthz`)).json()) as OpaHealth;
}

async function version(
  url: string,
  input: unknown = {},
): Promise<{ status: number; body: unknown; revision: string | null }> {
  const res = await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: JSON.stringify({ input }) });
  return { status: res.status, body: await res.json(), revision: res.headers.get('x-warden-revision') };
}

// Whether a process with this pid is alive.
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The opa processes serving this data dir (their command line names its config file there).
function opaProcessesOf(dataDir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('opa') && cmd.includes(dataDir)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('engine: opa (a real OPA supervised by the agent)', () => {
  after(() => WardenProcess.killAll());

  it('answers from a pack only once OPA reports it active; a new version changes decisions; OPA refusing a pack keeps the previous one; rollback and pin reach OPA', async () => {
    const dir = tempDir();
    const packs = join(dir, 'packs');
    await mkdir(packs);
    await publish(packs, 'app', await variant(1), key.privateKey);
    const server = await startPackServerProcess(packs);
    await writeFile(join(dir, 'admin.token'), ADMIN_TOKEN);
    const { proc, url } = await startAgentProcess(
      await config(dir, server.url, ['admin: { token_file: admin.token }']),
    );
    try {
      const h = await health(url);
      assert.equal(h.status, 'ok');
      assert.equal(h.opa.up, true);
      assert.equal(h.opa.bundles.app?.revision, 'v1@1', 'OPA itself reports the delivered revision');
      const v1 = await version(url);
      assert.equal(v1.status, 200);
      assert.equal((v1.body as { result: number }).result, 1);
      assert.equal(v1.revision, 'v1');

      await publish(packs, 'app', await variant(2), key.privateKey);
      await eventually(async () => (await version(url)).revision === 'v2');
      const v2 = await version(url);
      assert.equal((v2.body as { result: number }).result, 2);
      assert.equal((await health(url)).opa.bundles.app?.revision, 'v2@2');

      // Signed by the trusted key, but its Rego does not compile: OPA refuses it and keeps v2.
      await publish(packs, 'app', await variant(3, { rego: 'package app\n\nversion := \n' }), key.privateKey);
      await eventually(async () => {
        const s = await health(url);
        return s.status === 'degraded';
      });
      assert.equal(
        await agentMetric(url, 'opa_engine_activation_failures_total', 'pack="app",code="OPA_BUNDLE_REFUSED"'),
        1,
      );
      const after3 = await version(url);
      assert.equal(after3.status, 200);
      assert.equal((after3.body as { result: number }).result, 2, 'OPA still answers from v2');
      assert.equal(after3.revision, 'v2');
      assert.equal((await health(url)).opa.bundles.app?.revision, 'v2@2');

      // A good v4 goes through after the refusal.
      await publish(packs, 'app', await variant(4), key.privateKey);
      await eventually(async () => (await version(url)).revision === 'v4');

      // Rollback (and its pin) reach OPA the same way: OPA reports v2 again, and v5 is held back.
      const rolled = await fetch(`${url}/v1/admin/packs/app/rollback`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'v4 misbehaves', version: 'v2' }),
      });
      assert.equal(rolled.status, 200, await rolled.clone().text());
      assert.equal(((await rolled.json()) as { active: { revision: string } }).active.revision, 'v2');
      const afterRollback = await version(url);
      assert.deepEqual([(afterRollback.body as { result: number }).result, afterRollback.revision], [2, 'v2']);
      assert.equal((await health(url)).opa.bundles.app?.revision, 'v2@2');
      await publish(packs, 'app', await variant(5), key.privateKey);
      await eventually(async () => {
        const res = await fetch(`${url}/v1/admin/packs/app/versions`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        return JSON.stringify(await res.json()).includes('"v5"');
      });
      assert.equal((await version(url)).revision, 'v2', 'pinned: v5 is stored, not activated');
    } finally {
      await proc.stop();
      await server.proc.stop();
    }
  });
  it('OPA killed -9: decisions answer 503 OPA_UNAVAILABLE or from the active pack meanwhile, never another; OPA is restarted with the same revision', async () => {
    const dir = tempDir();
    const packs = join(dir, 'packs');
    await mkdir(packs);
    await publish(packs, 'app', await variant(5), key.privateKey);
    const server = await startPackServerProcess(packs);
    const { proc, url } = await startAgentProcess(await config(dir, server.url));
    let running = true;
    const seen: Array<{ status: number; code?: string; result?: number }> = [];
    const load = (async () => {
      while (running) {
        const r = await version(url);
        const body = r.body as { result?: number; code?: string; warden_code?: string };
        seen.push({
          status: r.status,
          ...(body.result !== undefined ? { result: body.result } : {}),
          ...((body.warden_code ?? body.code) ? { code: body.warden_code ?? body.code } : {}),
        });
      }
    })();
    try {
      const before = await health(url);
      const pid = before.opa.pid;
      assert.ok(pid !== undefined && alive(pid));
      process.kill(pid, 'SIGKILL');
      await eventually(
        async () => {
          const h = await health(url);
          return h.opa.up && h.opa.restarts === 1 && h.opa.pid !== pid;
        },
        { timeoutMs: 30_000 },
      );
      const h = await health(url);
      assert.equal(h.opa.bundles.app?.revision, 'v5@5', 'the restarted OPA holds the active pack again');
      assert.equal(await agentMetric(url, 'opa_engine_restarts_total', ''), 1);
      const n = seen.length;
      await eventually(() => seen.length > n + 20);
    } finally {
      running = false;
      await load;
      await proc.stop();
      await server.proc.stop();
    }
    const wrong = seen.filter(
      (s) => !(s.status === 200 && s.result === 5) && !(s.status === 503 && s.code === 'OPA_UNAVAILABLE'),
    );
    assert.deepEqual(wrong.slice(0, 5), [], 'every answer is v5 or a clear 503');
    assert.ok(seen.filter((s) => s.status === 200).length > 20);
  });

  it('Warden killed -9 leaves its OPA behind; the next start removes it and answers from the last-known-good pack', async () => {
    const dir = tempDir();
    const packs = join(dir, 'packs');
    await mkdir(packs);
    await publish(packs, 'app', await variant(7), key.privateKey);
    const server = await startPackServerProcess(packs);
    const path = await config(dir, server.url);
    try {
      for (let round = 0; round < 3; round++) {
        const { proc, url } = await startAgentProcess(path);
        const h = await health(url);
        assert.equal(h.opa.up, true, `round ${round}`);
        assert.deepEqual(opaProcessesOf(join(dir, 'data')), [h.opa.pid], `round ${round}: one OPA for this data dir`);
        assert.equal(((await version(url)).body as { result: number }).result, 7);
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
      const last = await startAgentProcess(path);
      assert.equal(await last.proc.stop(), 0);
      await eventually(() => opaProcessesOf(join(dir, 'data')).length === 0);
    } finally {
      for (const pid of opaProcessesOf(join(dir, 'data'))) process.kill(pid, 'SIGKILL');
      await server.proc.stop();
    }
  });

  it('answers every decision with 200 from a live pack while a new pack is published every 500 ms for 10 s', async () => {
    const dir = tempDir();
    const packs = join(dir, 'packs');
    await mkdir(packs);
    await publish(packs, 'app', await variant(1), key.privateKey);
    const server = await startPackServerProcess(packs);
    const { proc, url } = await startAgentProcess(await config(dir, server.url));
    let running = true;
    const results: Array<{ status: number; version: number; revision: string | null; code?: string }> = [];
    const worker = async (): Promise<void> => {
      while (running) {
        const r = await version(url);
        const body = r.body as { result: number; warden_code?: string };
        results.push({
          status: r.status,
          version: body.result,
          revision: r.revision,
          ...(body.warden_code ? { code: body.warden_code } : {}),
        });
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    try {
      // The publishing pace is the scenario under test, so these waits are real.
      for (let v = 2; v <= 21; v++) {
        await new Promise((r) => setTimeout(r, 500));
        await publish(packs, 'app', await variant(v, { ballast: v % 2 === 0 ? 5_000 : 0 }), key.privateKey);
      }
      await eventually(async () => (await version(url)).revision === 'v21', { timeoutMs: 30_000 });
    } finally {
      running = false;
      await Promise.all(workers);
      await proc.stop();
      await server.proc.stop();
    }
    assert.ok(results.length > 500, `a steady stream: ${results.length} decisions`);
    assert.deepEqual(results.filter((r) => r.status !== 200).slice(0, 5), [], 'every response is 200');
    // Warden swaps after OPA reports the new bundle active and its golden decisions pass: in that
    // window an answer may come from the pack being activated (newer than the header names), never
    // from an older one.
    const older = results.filter((r) => r.version < Number(r.revision?.slice(1)));
    assert.deepEqual(older.slice(0, 5), [], 'no answer from a pack older than the one named');
    const windowAnswers = results.filter((r) => r.version > Number(r.revision?.slice(1))).length;
    process.stderr.write(
      `# answers from the pack being activated (acknowledgement window): ${windowAnswers}/${results.length}\n`,
    );
    const seenVersions = new Set(results.map((r) => r.version));
    assert.ok(
      seenVersions.has(21) && seenVersions.size >= 8,
      `decisions followed the publishes (${seenVersions.size} versions)`,
    );
  });
});
