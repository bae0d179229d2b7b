/**
 * Boot never waits on a source it does not need: a verified pack in the store
 * serves at once, whatever the source does (hangs, holds a long poll), and a
 * signal ends any boot-time wait at once. Real `warden agent` processes
 * against a real pack server and a TCP server that accepts and never answers.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, startAgentProcess, startPackServerProcess } from '../helpers/processes.js';
import { publish, variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();

/** A server that accepts connections and never answers; `connected` resolves on the first one. */
interface Hanging {
  readonly url: string;
  readonly connected: Promise<void>;
  close(): void;
}

async function hangingServer(): Promise<Hanging> {
  const sockets = new Set<Socket>();
  let onConnect = (): void => undefined;
  const connected = new Promise<void>((resolve) => (onConnect = resolve));
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    onConnect();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    connected,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

// An agent config for pack "app" from `url`, with a data_dir shared across restarts.
async function agentConfig(dir: string, url: string, http: string[], extra: string[] = []): Promise<string> {
  const path = join(dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      'data_dir: data',
      'log_level: info',
      ...extra,
      'packs:',
      '  - name: app',
      '    source:',
      '      http:',
      `        url: ${url}/v1/policy/packs/app`,
      ...http.map((l) => `        ${l}`),
      '    verify: { public_keys: [policy.pub] }',
    ].join('\n'),
  );
  return path;
}

// A folder with pack "app" published and stored by one agent run, so the store holds a verified pack.
async function storedPack(): Promise<{ dir: string; packs: string }> {
  const dir = tempDir();
  const packs = join(dir, 'packs');
  await mkdir(packs);
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  await publish(packs, 'app', await variant(1), key.privateKey);
  const server = await startPackServerProcess(packs);
  const first = await startAgentProcess(await agentConfig(dir, server.url, []));
  assert.equal(await first.proc.stop(), 0);
  await server.proc.stop();
  return { dir, packs };
}

// A config whose pack "app" is in the store while its source hangs, with boot.source_wait_seconds = waitSeconds.
async function storedBehindHangingSource(waitSeconds: number): Promise<{ config: string; hanging: Hanging }> {
  const { dir } = await storedPack();
  const hanging = await hangingServer();
  const boot = [`boot: { source_wait_seconds: ${waitSeconds} }`];
  return { config: await agentConfig(dir, hanging.url, ['timeout_seconds: 600'], boot), hanging };
}

// Sends SIGTERM; the exit status, or a note if the process is still running 10 s later.
function exitOnSigterm(proc: WardenProcess): Promise<number | string> {
  proc.child.kill('SIGTERM');
  const late = new Promise<string>((resolve) => setTimeout(() => resolve('still running after 10 s'), 10_000).unref());
  return Promise.race([proc.exited, late]);
}

interface Health {
  readonly packs: { app: { stale: boolean; active?: { revision: string } } };
}
const health = async (url: string): Promise<Health> => (await (await fetch(`${url}/healthz`)).json()) as Health;

describe('agent boot', () => {
  after(() => WardenProcess.killAll());

  it('serves the stored pack at once while its source hangs (timeout 600 s), reporting it stale', async () => {
    const { dir } = await storedPack();
    const hanging = await hangingServer();
    try {
      const config = await agentConfig(dir, hanging.url, ['timeout_seconds: 600', 'long_poll_seconds: 20']);
      const { proc, url } = await startAgentProcess(config);
      const h = await health(url);
      assert.equal(h.packs.app.active?.revision, 'v1');
      assert.equal(h.packs.app.stale, true, 'not confirmed by its source yet');
      const res = await fetch(`${url}/readyz`);
      assert.equal(res.status, 200);
      await hanging.connected; // the source is asked, in the background
      assert.equal(await proc.stop(), 0);
    } finally {
      hanging.close();
    }
  });

  it('confirms a stored pack with a request answered at once, not a held long poll', async () => {
    const { dir, packs } = await storedPack();
    const server = await startPackServerProcess(packs);
    // Polls 60 s apart: within the waits below, only the long poll can bring anything.
    const http = ['long_poll_seconds: 20', 'timeout_seconds: 600', 'poll_min_seconds: 60', 'poll_max_seconds: 60'];
    const config = await agentConfig(dir, server.url, http);
    const { proc, url } = await startAgentProcess(config);
    // A held first request would leave the pack stale for the 20 s the server holds it.
    await eventually(async () => !(await health(url)).packs.app.stale, { timeoutMs: 8_000 });
    // And the loop goes on to long poll: a new publish arrives while requests are held.
    await publish(packs, 'app', await variant(2), key.privateKey);
    await eventually(async () => (await health(url)).packs.app.active?.revision === 'v2', {
      timeoutMs: 15_000,
      what: () => `v2 active; agent:\n${proc.output.join('\n')}\nserver:\n${server.proc.output.join('\n')}`,
    });
    await proc.stop();
    await server.proc.stop();
  });

  it('waits at most boot.source_wait_seconds for the source when asked to, then serves the store', async () => {
    const { config, hanging } = await storedBehindHangingSource(0.5);
    try {
      const { proc } = await startAgentProcess(config);
      assert.ok(
        proc
          .logs()
          .some(
            (l) =>
              l.msg === 'source did not answer within boot.source_wait_seconds; serving the stored pack' &&
              l.pack === 'app',
          ),
      );
      await proc.stop();
    } finally {
      hanging.close();
    }
  });

  it('picks up what a file or directory source got while the agent was down, though it serves the store at once', async () => {
    const dir = tempDir();
    const packs = join(dir, 'packs');
    await mkdir(packs);
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    await publish(packs, 'app', await variant(1), key.privateKey);
    await mkdir(join(dir, 'rules'));
    await writeFile(join(dir, 'rules', 'p.rego'), 'package rules\n\nanswer := 1\n');
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        'listen: 127.0.0.1:0',
        'data_dir: data',
        'packs:',
        '  - name: app',
        '    source: { file: { path: packs/app.tar.gz, poll_seconds: 3600 } }',
        '    verify: { public_keys: [policy.pub] }',
        '  - name: rules',
        '    source: { directory: { path: rules, entrypoints: [rules/answer], rescan_seconds: 3600 } }',
        '    verify: { unsigned: true }',
      ].join('\n'),
    );
    const answer = async (url: string, path: string): Promise<unknown> =>
      ((await (await fetch(`${url}/v1/data/${path}`, { method: 'POST', body: '{}' })).json()) as { result: unknown })
        .result;
    const first = await startAgentProcess(config);
    assert.equal(await answer(first.url, 'app/version'), 1);
    assert.equal(await answer(first.url, 'rules/answer'), 1);
    assert.equal(await first.proc.stop(), 0);
    // While it is down: a new pack file and a new ConfigMap content. Neither changes again after the restart.
    await publish(packs, 'app', await variant(2), key.privateKey);
    await writeFile(join(dir, 'rules', 'p.rego'), 'package rules\n\nanswer := 2\n');
    const second = await startAgentProcess(config);
    await eventually(async () => (await answer(second.url, 'app/version')) === 2, { timeoutMs: 8_000 });
    await eventually(async () => (await answer(second.url, 'rules/answer')) === 2, { timeoutMs: 8_000 });
    await second.proc.stop();
  });

  it('ends at once on SIGTERM while boot waits for a source (nothing stored): exit 0, BOOT_INTERRUPTED', async () => {
    const dir = tempDir();
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    const hanging = await hangingServer();
    try {
      const proc = WardenProcess.spawn([
        'agent',
        '--config',
        await agentConfig(dir, hanging.url, ['timeout_seconds: 600']),
      ]);
      await hanging.connected; // boot's fetch is in flight, and would wait 600 s
      assert.equal(await exitOnSigterm(proc), 0, proc.output.join('\n'));
      assert.ok(proc.logs().some((l) => l.msg === 'stopped while starting'));
    } finally {
      hanging.close();
    }
  });

  it('ends at once on SIGTERM during boot.source_wait_seconds', async () => {
    const { config, hanging } = await storedBehindHangingSource(60);
    try {
      const proc = WardenProcess.spawn(['agent', '--config', config]);
      await hanging.connected;
      await proc.waitFor(/policy loaded from store/);
      assert.equal(await exitOnSigterm(proc), 0, proc.output.join('\n'));
    } finally {
      hanging.close();
    }
  });
});
