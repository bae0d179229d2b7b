/**
 * A refused pack is not downloaded (or verified) again on every poll: a real
 * agent process against the reference pack server (which logs each request's
 * status and If-None-Match) and against a plain static server without ETags.
 */
import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPackServer, type PackServer } from '../../src/pack-server/pack-server.js';
import { signPack } from '../../src/sign/sign.js';
import { tempDir } from '../helpers/fs.js';
import { etagOf, startStaticServer, type StaticServer } from '../helpers/pack-server.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, agentMetric, startAgentProcess } from '../helpers/processes.js';
import { publish, variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();
const rogue = p256();
const TOKEN = 'refused-admin-token-0123456789';
const SKIPPED = 'policy_refused_unchanged_total';

// An agent polling `url` fast, with the admin API on.
async function agentConfig(dir: string, url: string): Promise<string> {
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  await writeFile(join(dir, 'admin.token'), `${TOKEN}\n`);
  const path = join(dir, 'agent.yaml');
  const http = [
    `        url: ${url}`,
    '        poll_min_seconds: 0.05',
    '        poll_max_seconds: 0.1',
    '        timeout_seconds: 2',
    '        backoff_max_seconds: 0.5',
  ];
  const lines = [
    'listen: 127.0.0.1:0',
    'data_dir: data',
    'log_level: info',
    'admin:',
    '  token_file: admin.token',
    'packs:',
    '  - name: app',
    '    source:',
    '      http:',
    ...http,
  ];
  await writeFile(path, [...lines, '    verify:', '      public_keys: [policy.pub]'].join('\n'));
  return path;
}

// The signature bundle of a pack by the rogue (untrusted) key.
async function rogueSignature(pack: Buffer): Promise<{ signature: Buffer }> {
  return { signature: Buffer.from(JSON.stringify(await signPack(pack, rogue.privateKey))) };
}

// Replaces only the signature beside a published pack, atomically.
async function fixSignature(dir: string, pack: Buffer): Promise<void> {
  const target = join(dir, 'app.tar.gz.sigstore.json');
  await writeFile(`${target}.tmp`, JSON.stringify(await signPack(pack, key.privateKey)));
  await rename(`${target}.tmp`, target);
}

async function version(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/data/app/version`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  return ((await res.json()) as { result: number }).result;
}

interface Health {
  status: string;
  packs: { app: { last_reload?: { result: string; error?: { code: string } }; last_error?: { code: string } } };
}
const health = async (url: string): Promise<Health> => (await (await fetch(`${url}/healthz`)).json()) as Health;
const count = (url: string, name: string, labels = 'pack="app"'): Promise<number> => agentMetric(url, name, labels);
const atLeast = (url: string, name: string, labels: string, n: number) =>
  eventually(async () => (await count(url, name, labels)) >= n);

describe('a refused pack on the reference pack server', () => {
  const dir = tempDir();
  const packs = join(dir, 'packs');
  const requests: Array<Record<string, unknown>> = [];
  let server: PackServer;
  let agent: { proc: WardenProcess; url: string };
  // The pack requests the server answered since `from` (an index into requests).
  const packRequests = (from: number) => requests.slice(from).filter((r) => r.path === '/v1/policy/packs/app');

  before(async () => {
    await mkdir(packs);
    await publish(packs, 'app', await variant(1), key.privateKey);
    server = await startPackServer({
      dir: packs,
      host: '127.0.0.1',
      port: 0,
      log: (obj) => void requests.push({ ...obj }),
    });
    agent = await startAgentProcess(await agentConfig(dir, `${server.url}/v1/policy/packs/app`));
  });
  after(async () => {
    await WardenProcess.killAll();
    await server.close();
  });

  it('downloads a badly signed pack once, then asks with its ETag and gets 304; /healthz keeps the refusal; the skips are counted', async () => {
    const from = requests.length;
    const skippedBefore = await count(agent.url, SKIPPED);
    const v2 = await variant(2);
    await publish(packs, 'app', v2, await rogueSignature(v2));
    await atLeast(agent.url, SKIPPED, 'pack="app",source="http"', skippedBefore + 3);
    const seen = packRequests(from);
    const full = seen.filter((r) => r.status === 200);
    assert.equal(full.length, 1, 'exactly one full download of the refused pack');
    const later = seen.slice(seen.indexOf(full[0] ?? {}) + 1);
    assert.ok(later.length >= 3, `${later.length} requests after the download`);
    for (const r of later) {
      assert.equal(r.status, 304);
      assert.match(String(r.if_none_match), new RegExp(etagOf(v2)), 'the refused ETag is in If-None-Match');
    }
    assert.equal(
      await count(agent.url, 'policy_reload_failure_total', 'code="SIGNATURE_KEY_UNKNOWN"'),
      1,
      'refused once, not once per poll',
    );
    const h = await health(agent.url);
    assert.equal(h.status, 'degraded');
    assert.equal(h.packs.app.last_reload?.result, 'refused');
    assert.equal(h.packs.app.last_error?.code, 'SIGNATURE_KEY_UNKNOWN');
    assert.equal(await version(agent.url), 1);
  });

  it('activates a good pack published after the refusal on the next poll', async () => {
    await publish(packs, 'app', await variant(3), key.privateKey);
    await eventually(async () => (await version(agent.url)) === 3);
    assert.equal((await health(agent.url)).packs.app.last_reload?.result, 'activated');
  });

  it('fetches a refused pack again when only its signature is fixed, and activates it', async () => {
    const v4 = await variant(4);
    const from = requests.length;
    const skippedBefore = await count(agent.url, SKIPPED);
    await publish(packs, 'app', v4, await rogueSignature(v4));
    await atLeast(agent.url, SKIPPED, 'pack="app"', skippedBefore + 2);
    assert.equal(await count(agent.url, 'policy_reload_failure_total', 'code="SIGNATURE_KEY_UNKNOWN"'), 2);
    await fixSignature(packs, v4);
    await eventually(async () => (await version(agent.url)) === 4);
    assert.equal(
      packRequests(from).filter((r) => r.status === 200).length,
      2,
      'downloaded when refused, and once more with the fixed signature',
    );
  });

  it("an operator's forced reload downloads the refused pack in full and verifies it again", async () => {
    const v5 = await variant(5);
    const skippedBefore = await count(agent.url, SKIPPED);
    await publish(packs, 'app', v5, await rogueSignature(v5));
    await atLeast(agent.url, SKIPPED, 'pack="app"', skippedBefore + 2);
    const from = requests.length;
    const res = await fetch(`${agent.url}/v1/admin/packs/app/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res.json()) as { outcome: { status: string; error?: { code: string } } };
    assert.equal(body.outcome.status, 'refused');
    assert.equal(body.outcome.error?.code, 'SIGNATURE_KEY_UNKNOWN');
    assert.equal(await count(agent.url, 'policy_reload_failure_total', 'code="SIGNATURE_KEY_UNKNOWN"'), 4);
    assert.ok(
      packRequests(from).some((r) => r.status === 200),
      'downloaded in full',
    );
    assert.equal(await version(agent.url), 4);
  });
});

describe('a refused pack on a static server without ETags', () => {
  const dir = tempDir();
  const packs = join(dir, 'packs');
  let server: StaticServer;
  let agent: { proc: WardenProcess; url: string };

  before(async () => {
    await mkdir(packs);
    await publish(packs, 'app', await variant(1), key.privateKey);
    server = await startStaticServer(packs);
    agent = await startAgentProcess(await agentConfig(dir, `${server.url}/app.tar.gz`));
  });
  after(async () => {
    await WardenProcess.killAll();
    await server.close();
  });

  it('downloads the refused bytes on every poll but does not verify them again; a fixed signature is', async () => {
    const v2 = await variant(2);
    const from = server.seen.length;
    await publish(packs, 'app', v2, await rogueSignature(v2));
    await atLeast(agent.url, SKIPPED, 'pack="app",source="http"', 3);
    assert.ok(
      server.seen.slice(from).filter((r) => r.path === '/app.tar.gz' && r.status === 200).length >= 4,
      'downloaded each poll',
    );
    assert.equal(await count(agent.url, 'policy_reload_failure_total', 'code="SIGNATURE_KEY_UNKNOWN"'), 1);
    assert.equal(await count(agent.url, 'policy_validation_failure_total', 'code="SIGNATURE_KEY_UNKNOWN"'), 1);
    const logs = agent.proc.logs();
    assert.equal(
      logs.filter((l) => l.msg === 'policy reload failed').length,
      1,
      'one refusal logged, not one per poll',
    );
    assert.equal(
      logs.filter((l) => l.msg === 'event' && l.event === 'policy.validation_failed').length,
      1,
      'one validation-failed event',
    );
    assert.equal((await health(agent.url)).packs.app.last_reload?.result, 'refused');
    await fixSignature(packs, v2);
    await eventually(async () => (await version(agent.url)) === 2);
  });
});
