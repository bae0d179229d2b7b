import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signPack } from '../../src/sign/sign.js';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import {
  WardenProcess,
  agentMetric as metric,
  startAgentProcess,
  startPackServerProcess,
} from '../helpers/processes.js';
import { publish, variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();
const rogue = p256();

// Writes an agent config pointing at the pack server and the trusted key.
async function agentConfig(dir: string, serverUrl: string, dataDir = join(dir, 'data')): Promise<string> {
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  const path = join(dir, 'agent.yaml');
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      `data_dir: ${dataDir}`,
      'log_level: info',
      'packs:',
      '  - name: app',
      '    source:',
      '      http:',
      `        url: ${serverUrl}/v1/policy/packs/app`,
      '        poll_min_seconds: 0.05',
      '        poll_max_seconds: 0.1',
      '        timeout_seconds: 2',
      '        backoff_max_seconds: 0.5',
      '    verify:',
      '      public_keys: [policy.pub]',
    ].join('\n'),
  );
  return path;
}

// Asks the agent for app/version; returns the version number the active pack answers.
async function version(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/data/app/version`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { result: number }).result;
}

describe('agent lifecycle against a real pack server', () => {
  const dir = tempDir();
  const packs = join(dir, 'packs');
  let server: { proc: WardenProcess; url: string };
  let agent: { proc: WardenProcess; url: string };

  before(async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(packs);
    await publish(packs, 'app', await variant(1), key.privateKey);
    server = await startPackServerProcess(packs);
    agent = await startAgentProcess(await agentConfig(dir, server.url));
  });

  after(() => WardenProcess.killAll());

  it('answers decisions from v1, then reloads to v2 when it is published', async () => {
    assert.equal(await version(agent.url), 1);
    await publish(packs, 'app', await variant(2), key.privateKey);
    await eventually(async () => (await version(agent.url)) === 2);
    const health = (await (await fetch(`${agent.url}/healthz`)).json()) as {
      status: string;
      packs: { app: { active: { revision: string } } };
    };
    assert.equal(health.packs.app.active.revision, 'v2');
  });

  it('refuses a v3 with a bad signature: v2 stays, /healthz names the error, the failure metric rises', async () => {
    const before = await metric(agent.url, 'policy_reload_failure_total', 'code="SIGNATURE_KEY_UNKNOWN"');
    const v3 = await variant(3);
    await publish(packs, 'app', v3, { signature: Buffer.from(JSON.stringify(await signPack(v3, rogue.privateKey))) });
    await eventually(
      async () => (await metric(agent.url, 'policy_reload_failure_total', 'code="SIGNATURE_KEY_UNKNOWN"')) > before,
    );
    assert.equal(await version(agent.url), 2);
    const res = await fetch(`${agent.url}/healthz`);
    const health = (await res.json()) as {
      status: string;
      packs: { app: { last_error: { code: string }; last_reload: { result: string } } };
    };
    assert.equal(res.status, 200);
    assert.equal(health.status, 'degraded');
    assert.equal(health.packs.app.last_error.code, 'SIGNATURE_KEY_UNKNOWN');
    assert.equal(health.packs.app.last_reload.result, 'refused');
    const line = agent.proc.logs().find((l) => l.msg === 'policy reload failed' && l.code === 'SIGNATURE_KEY_UNKNOWN');
    assert.ok(line?.correlation_id, 'the failure log line carries a correlation id');
  });

  it('refuses a validly signed v4 that is older than v2 as a downgrade', async () => {
    await publish(packs, 'app', await variant(4, { sequence: 1 }), key.privateKey);
    await eventually(async () => (await metric(agent.url, 'policy_reload_failure_total', 'code="PACK_DOWNGRADE"')) > 0);
    assert.equal(await version(agent.url), 2);
  });

  it('takes the next good pack after refusals', async () => {
    await publish(packs, 'app', await variant(5), key.privateKey);
    await eventually(async () => (await version(agent.url)) === 5);
  });

  it('keeps answering when the server stops, and reports the pack stale', async () => {
    await server.proc.stop();
    await eventually(async () => {
      const h = (await (await fetch(`${agent.url}/healthz`)).json()) as { packs: { app: { stale: boolean } } };
      return h.packs.app.stale;
    });
    assert.equal(await version(agent.url), 5);
  });

  it('restarts on the stored pack with the server still down, and reports it stale', async () => {
    await agent.proc.stop();
    agent = await startAgentProcess(join(dir, 'agent.yaml'));
    assert.equal(await version(agent.url), 5);
    const h = (await (await fetch(`${agent.url}/healthz`)).json()) as {
      packs: { app: { stale: boolean; last_error: { code: string } } };
    };
    assert.equal(h.packs.app.stale, true);
    assert.equal(h.packs.app.last_error.code, 'FETCH_FAILED');
  });

  it('refuses to start a second agent on the same data_dir', async () => {
    const second = WardenProcess.spawn(['agent', '--config', join(dir, 'agent.yaml')]);
    assert.equal(await second.exited, 1);
    assert.ok(
      second.output.some((l) => /^warden: STORE_LOCKED: /.test(l)),
      second.output.join('\n'),
    );
  });

  it('exits non-zero with BOOT_NO_VALID_PACK on an empty data_dir with the server down', async () => {
    const emptyDir = tempDir();
    const proc = WardenProcess.spawn(['agent', '--config', await agentConfig(emptyDir, server.url)]);
    assert.equal(await proc.exited, 1);
    assert.ok(
      proc.output.some((l) => /^warden: BOOT_NO_VALID_PACK: pack "app"/.test(l)),
      proc.output.join('\n'),
    );
    assert.deepEqual(
      readdirSync(join(emptyDir, 'data')).filter((f) => f.startsWith('.warden-tmp')),
      [],
    );
  });
});

describe('agent start-up', () => {
  it('exits non-zero with LISTEN_FAILED when the listen address is taken', async () => {
    const dir = tempDir();
    const pack = await variant(1);
    await writeFile(join(dir, 'app.tar.gz'), pack);
    await writeFile(join(dir, 'app.tar.gz.sigstore.json'), JSON.stringify(await signPack(pack, key.privateKey)));
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    const { createServer } = await import('node:net');
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    const path = join(dir, 'agent.yaml');
    await writeFile(
      path,
      `listen: 127.0.0.1:${port}\ndata_dir: data\npacks:\n  - name: app\n    source: { file: { path: app.tar.gz } }\n    verify: { public_keys: [policy.pub] }\n`,
    );
    const proc = WardenProcess.spawn(['agent', '--config', path]);
    try {
      assert.equal(await proc.exited, 1);
      assert.ok(
        proc.output.some((l) => new RegExp(`^warden: LISTEN_FAILED: cannot listen on 127.0.0.1:${port}`).test(l)),
        proc.output.join('\n'),
      );
    } finally {
      holder.close();
    }
  });
});

describe('agent configuration', () => {
  it('exits non-zero listing every bad key with its path', async () => {
    const dir = tempDir();
    const path = join(dir, 'bad.yaml');
    await writeFile(
      path,
      'listen: nowhere\ncolour: blue\npacks:\n  - name: App\n    source: { http: { url: ftp://x } }\n    verify: {}\n',
    );
    const proc = WardenProcess.spawn(['agent', '--config', path]);
    assert.equal(await proc.exited, 1);
    const out = proc.output.join('\n');
    assert.match(out, /^warden: CONFIG_INVALID: /m);
    for (const key of ['listen', 'colour', 'packs.0.name', 'packs.0.source.http.url', 'packs.0.verify'])
      assert.ok(out.includes(key), `${key} is listed:\n${out}`);
  });
});
