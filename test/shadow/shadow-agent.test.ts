/**
 * The shadow rollout end to end, with real processes: an agent (decision log,
 * decision workers, admin API, a webhook) answers the tenant pack under
 * concurrent load while a candidate that flips one rule for one tenant runs as
 * its shadow. `warden pack replay` on the agent's own decision log reports
 * exactly the affected decisions (count, direction, tenant); the live shadow
 * reaches the same figures and is refused under a deny → allow gate (event and
 * webhook, history, /healthz). Then a candidate with no behavioural change is
 * shadowed (seen in `warden status`) and promoted automatically.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { warden } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';
import { p256, signedBundle } from '../helpers/packs.js';
import { agentMetric, startAgentProcess, WardenProcess } from '../helpers/processes.js';
import { eventually } from '../helpers/wait.js';
import { BASE_ROLES, FLIPPED_ROLES, tenantInputs, tenantPack } from './tenant-packs.js';

const ROUNDS = 100; // 600 decisions: 100 of them t2 viewers
const DECISIONS = ROUNDS * 6;

const dir = tempDir('warden-shadow-agent-');
const key = p256();
const pub = join(dir, 'release.pub');
const packPath = join(dir, 'authz.tar.gz');
const candidatePath = join(dir, 'candidate.tar.gz');
const logs = join(dir, 'decisions');
const tokenFile = join(dir, 'admin.token');
const hooks: Array<{ type: string; data: Record<string, unknown> }> = [];
let hookServer: Server;

async function publish(path: string, bytes: Buffer): Promise<void> {
  await writeFile(`${path}.sigstore.json`, await signedBundle(bytes, key.privateKey));
  await writeFile(path, bytes);
}

interface Health {
  packs: {
    authz: {
      active?: { revision: string };
      shadow?: { revision: string; decisions: number; outcomes: Record<string, number>; gate: { state: string } };
      last_error?: { code: string };
    };
  };
}

async function health(url: string): Promise<Health> {
  return (await (await fetch(`${url}/healthz`)).json()) as Health;
}

// Every input asked once, 24 at a time.
async function load(url: string): Promise<void> {
  const inputs = tenantInputs(ROUNDS);
  const ask = async (input: unknown): Promise<void> => {
    const res = await fetch(`${url}/v1/data/authz/allow`, { method: 'POST', body: JSON.stringify({ input }) });
    assert.equal(res.status, 200);
    await res.text();
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 24 }, async () => {
      while (next < inputs.length) await ask(inputs[next++]);
    }),
  );
}

describe('shadow rollout with a real agent', () => {
  let config: string;

  before(async () => {
    hookServer = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push(JSON.parse(body) as { type: string; data: Record<string, unknown> });
        res.end();
      });
    });
    await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
    const hookPort = (hookServer.address() as AddressInfo).port;
    await writeFile(pub, key.publicPem);
    await writeFile(tokenFile, 'a-token-of-at-least-32-characters-long!');
    await writeFile(join(dir, 'hook.secret'), 'a-webhook-secret-of-32-characters');
    await publish(packPath, await tenantPack(1, BASE_ROLES));
    config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        'listen: 127.0.0.1:0',
        `data_dir: ${join(dir, 'data')}`,
        `admin: { token_file: ${tokenFile} }`,
        `decision_log: { dir: ${logs}, flush_interval_ms: 20 }`,
        'events:',
        '  webhooks:',
        `    - { url: "http://127.0.0.1:${hookPort}/hook", secret_file: ${join(dir, 'hook.secret')}, events: [policy.shadow_started, policy.shadow_refused, policy.shadow_promoted] }`,
        'packs:',
        '  - name: authz',
        `    source: { file: { path: ${packPath}, poll_seconds: 0.1 } }`,
        `    verify: { public_keys: [${pub}] }`,
        `    rollout: { mode: shadow, sample: 1, gate: { min_decisions: ${DECISIONS}, max_diff_rate: 1, allow_deny_to_allow: false } }`,
      ].join('\n'),
    );
  });

  after(async () => {
    await WardenProcess.killAll();
    await new Promise<void>((resolve) => hookServer.close(() => resolve()));
  });

  it('replay and the live shadow report the same flipped decisions; the shadow is refused under a deny → allow gate', async () => {
    const { proc, url } = await startAgentProcess(config);
    let refused: { type: string; data: Record<string, unknown> } | undefined;
    try {
      assert.equal((await health(url)).packs.authz.active?.revision, 'r1');
      const candidate = await tenantPack(2, FLIPPED_ROLES);
      await publish(candidatePath, candidate);
      await publish(packPath, candidate);
      await eventually(async () => (await health(url)).packs.authz.shadow?.revision === 'r2');
      await load(url);
      await eventually(() => (refused = hooks.find((h) => h.type === 'policy.shadow_refused')) !== undefined, {
        timeoutMs: 20_000,
      });
      const h = await health(url);
      assert.equal(h.packs.authz.shadow, undefined, 'the shadow ended');
      assert.equal(h.packs.authz.active?.revision, 'r1', 'the active version kept answering');
      assert.equal(h.packs.authz.last_error?.code, 'SHADOW_REFUSED');
      assert.equal(await agentMetric(url, 'policy_shadow_refused_total', 'pack="authz"'), 1);
      assert.equal(await agentMetric(url, 'policy_shadow_decisions_total', 'outcome="deny_to_allow"'), ROUNDS);
      const versions = warden(['versions', '--pack', 'authz', '--json', '--url', url, '--token-file', tokenFile]);
      assert.equal(versions.status, 0, versions.stderr);
      const listed = JSON.parse(versions.stdout) as {
        versions: Array<{ revision: string; shadow?: { result: string } }>;
      };
      const v2 = listed.versions.find((v) => v.revision === 'r2');
      assert.equal(v2?.shadow?.result, 'refused', 'the shadow is a version in history with its gate result');
    } finally {
      assert.equal(await proc.stop('SIGTERM'), 0);
    }
    // Live figures (the webhook's payload) against offline replay of the agent's own decision log.
    assert.equal(refused?.data.code, 'SHADOW_REFUSED');
    assert.equal(refused?.data.decisions, DECISIONS);
    const res = warden(['pack', 'replay', candidatePath, '--decisions', logs, '--public-key', pub, '--json']);
    assert.equal(res.status, 0, res.stderr);
    const report = JSON.parse(res.stdout) as {
      replayed: number;
      changed: number;
      outcomes: Record<string, number>;
      top_changed: Array<{ outcome: string; input: string; count: number }>;
    };
    assert.equal(report.replayed, DECISIONS);
    assert.equal(report.changed, ROUNDS);
    assert.equal(report.outcomes.deny_to_allow, ROUNDS);
    assert.deepEqual(refused?.data.outcomes, report.outcomes, 'the live shadow reached the same figures');
    const tenants = new Set(
      report.top_changed.map((g) => (JSON.parse(g.input) as { tenant: string; role: string }).tenant),
    );
    assert.deepEqual([...tenants], ['t2'], 'only tenant t2 changed');
    // The shadow log holds the same decisions, with both answers.
    const lines = (await readFile(join(dir, 'data', 'shadow', 'authz.ndjson'), 'utf8')).trim().split('\n');
    assert.equal(lines.length, ROUNDS);
    const first = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.deepEqual(first.active, { result: false });
    assert.deepEqual(first.candidate, { result: true });
    assert.equal((first.input as { tenant: string }).tenant, 't2');
  });

  it('a candidate with no behavioural change is shadowed (warden status shows it) and promoted automatically', async () => {
    const { proc, url } = await startAgentProcess(config);
    try {
      await publish(packPath, await tenantPack(3, BASE_ROLES));
      await eventually(async () => (await health(url)).packs.authz.shadow?.revision === 'r3');
      const status = warden(['status', '--url', url, '--token-file', tokenFile]);
      assert.equal(status.status, 0, status.stderr);
      assert.match(
        status.stdout,
        /shadow v\d+ r3 sha256:[0-9a-f]+: 0 decisions \(sample 100%\), 0 changed; gate collecting/,
      );
      await load(url);
      await eventually(async () => (await health(url)).packs.authz.active?.revision === 'r3', { timeoutMs: 20_000 });
      await eventually(() => hooks.some((h) => h.type === 'policy.shadow_promoted'));
      const promoted = hooks.find((h) => h.type === 'policy.shadow_promoted');
      assert.equal(promoted?.data.decisions, DECISIONS);
      assert.equal((promoted?.data.outcomes as Record<string, number>).unchanged, DECISIONS);
      assert.equal(await agentMetric(url, 'policy_shadow_promoted_total', 'pack="authz"'), 1);
      const res = await fetch(`${url}/v1/data/authz/allow`, {
        method: 'POST',
        body: JSON.stringify({ input: { tenant: 't1', role: 'admin' } }),
      });
      assert.equal(res.headers.get('x-warden-revision'), 'r3');
    } finally {
      assert.equal(await proc.stop('SIGTERM'), 0);
    }
  });
});
