import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyWebhookSignature } from '../../src/notify/webhooks.js';
import { signPack } from '../../src/sign/sign.js';
import { warden } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, startAgentProcess } from '../helpers/processes.js';
import { rawRequest } from '../helpers/raw-http.js';
import { variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

const key = p256();
const TOKEN = 'test-admin-token-0123456789abcdef';
const SECRET = 'webhook-secret-0123456789';

// Publishes version n into the file source's path: signature first, both atomically.
async function publishFile(dir: string, n: number): Promise<void> {
  const pack = await variant(n);
  const target = join(dir, 'app.tar.gz');
  await writeFile(`${target}.sig.tmp`, JSON.stringify(await signPack(pack, key.privateKey)));
  await rename(`${target}.sig.tmp`, `${target}.sigstore.json`);
  await writeFile(`${target}.tmp`, pack);
  await rename(`${target}.tmp`, target);
}

// Reads SSE frames until `count` event ids arrived (or 2 s passed), then closes the stream.
async function sseIds(res: Response, count: number): Promise<number[]> {
  const reader = res.body?.getReader();
  if (!reader) return [];
  let text = '';
  const deadline = Date.now() + 2000;
  const ids = (): number[] => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  while (ids().length < count && Date.now() < deadline) {
    const chunk = await Promise.race([
      reader.read(),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 200)),
    ]);
    if (chunk?.done) break;
    if (chunk?.value) text += Buffer.from(chunk.value).toString();
  }
  await reader.cancel();
  return ids();
}

describe('admin API, history, rollback, pin and notifications', () => {
  const dir = tempDir();
  let url = '';
  let proc: WardenProcess;
  const hooks: Array<{ body: string; signature: string | undefined; type: string | undefined }> = [];
  let slow = false;
  const receiver = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push({
        body: Buffer.concat(chunks).toString(),
        signature: req.headers['x-warden-signature'] as string | undefined,
        type: req.headers['x-warden-event'] as string | undefined,
      });
      setTimeout(() => res.end('ok'), slow ? 8000 : 0);
    });
  });

  const admin = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'x-warden-actor': 'alice',
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  const version = async (): Promise<number> =>
    ((await (await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' })).json()) as { result: number })
      .result;
  const cli = (...args: string[]) => warden([...args, '--url', url, '--token-file', join(dir, 'admin.token')]);

  before(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await writeFile(join(dir, 'admin.token'), `${TOKEN}\n`);
    await writeFile(join(dir, 'hook.secret'), `${SECRET}\n`);
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    await publishFile(dir, 1);
    await writeFile(
      join(dir, 'agent.yaml'),
      [
        'listen: 127.0.0.1:0',
        'data_dir: data',
        'admin: { token_file: admin.token }',
        `events: { webhooks: [ { url: "${hookUrl}", secret_file: hook.secret, backoff_base_seconds: 0.05, backoff_max_seconds: 0.2 } ] }`,
        'packs:',
        '  - name: app',
        '    source: { file: { path: app.tar.gz, poll_seconds: 0.05 } }',
        '    verify: { public_keys: [policy.pub] }',
      ].join('\n'),
    );
    ({ proc, url } = await startAgentProcess(join(dir, 'agent.yaml')));
    for (const n of [2, 3]) {
      await publishFile(dir, n);
      await eventually(async () => (await version()) === n);
    }
  });

  after(async () => {
    await WardenProcess.killAll();
    receiver.closeAllConnections();
    receiver.close();
  });

  it('refuses admin calls without the token or with a wrong one (401), and audits them', async () => {
    assert.equal((await admin('/v1/admin/status', {}, null)).status, 401);
    const wrong = await admin('/v1/admin/status', {}, 'not-the-token-at-all');
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { code: string }).code, 'ADMIN_UNAUTHORIZED');
    // The right token and a wrong one: ambiguous, refused whatever the order (Node alone would keep the first).
    for (const pair of [
      [`Bearer ${TOKEN}`, 'Bearer not-the-token-at-all'],
      [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`],
    ]) {
      const twice = await rawRequest(`${url}/v1/admin/status`, { headers: { authorization: pair } });
      assert.equal(twice.status, 401, twice.text);
      assert.equal(twice.body.code, 'ADMIN_UNAUTHORIZED');
    }
    // The audit line travels over the agent's stdout pipe and may trail the HTTP answer.
    await eventually(() => Promise.resolve(proc.logs().some((l) => l.audit === 'admin' && l.status === 401)), {
      timeoutMs: 5000,
    });
  });

  it('lists every activated pack as a numbered version', async () => {
    const res = (await (await admin('/v1/admin/packs/app/versions')).json()) as {
      versions: Array<{ number: number; revision: string; active: boolean }>;
    };
    assert.deepEqual(
      res.versions.map((v) => [v.number, v.revision, v.active]),
      [
        [3, 'v3', true],
        [2, 'v2', false],
        [1, 'v1', false],
      ],
    );
    const listed = cli('versions');
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /^v3\tv3\t.*active/m);
  });

  it('diffs two versions: the data path that changed, with a unified diff', async () => {
    const res = (await (await admin('/v1/admin/packs/app/diff?from=1&to=3')).json()) as {
      diff: { data: { changed: string[] }; modules: { changed: string[] } };
    };
    assert.deepEqual(res.diff.data.changed, ['settings.version']);
    assert.deepEqual(res.diff.modules.changed, []);
    const text = cli('diff', '1', '3');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^-\s+"version": 1,?$/m);
    assert.match(text.stdout, /^\+\s+"version": 3,?$/m);
  });

  it('needs a reason to roll back', async () => {
    const res = await admin('/v1/admin/packs/app/rollback', { method: 'POST', body: '{}' });
    assert.equal(res.status, 400);
    const viaCli = cli('rollback');
    assert.equal(viaCli.status, 2);
    assert.match(viaCli.stderr, /^warden: USAGE: --reason is required/);
  });

  it('rolls back to the previous version with who and why, pins it, and shows the pin in /healthz and metrics', async () => {
    const rolled = cli('rollback', '--reason', 'v3 breaks checkout');
    assert.equal(rolled.status, 0, rolled.stderr);
    assert.equal(await version(), 2);
    const health = (await (await fetch(`${url}/healthz`)).json()) as {
      packs: { app: { pinned: boolean; pin: { actor: string; reason: string } } };
    };
    assert.equal(health.packs.app.pinned, true);
    assert.equal(health.packs.app.pin.reason, 'v3 breaks checkout');
    assert.match(await (await fetch(`${url}/metrics`)).text(), /^policy_pinned\{pack="app"\} 1$/m);
    const res = (await (await admin('/v1/admin/packs/app/versions')).json()) as {
      rollbacks: Array<{ reason: string; to: string }>;
    };
    assert.equal(res.rollbacks[0]?.reason, 'v3 breaks checkout');
  });

  it('records but does not activate new packs while pinned; unpin activates the newest verified one', async () => {
    await publishFile(dir, 4);
    await eventually(async () => {
      const res = (await (await admin('/v1/admin/packs/app/versions')).json()) as {
        versions: Array<{ revision: string }>;
      };
      return res.versions.some((v) => v.revision === 'v4');
    });
    assert.equal(await version(), 2, 'still on the pinned version');
    const unpinned = cli('unpin', '--reason', 'fixed upstream');
    assert.equal(unpinned.status, 0, unpinned.stderr);
    assert.equal(await version(), 4);
  });

  it('answers every decision with 200 while rolling back and forth', async () => {
    let running = true;
    const statuses: number[] = [];
    const worker = async (): Promise<void> => {
      while (running) statuses.push((await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' })).status);
    };
    const workers = [worker(), worker(), worker(), worker()];
    for (let i = 0; i < 6; i++) {
      const to = i % 2 === 0 ? 2 : 4;
      const res = await admin('/v1/admin/packs/app/rollback', {
        method: 'POST',
        body: JSON.stringify({ version: to, reason: `drill ${i}` }),
      });
      assert.equal(res.status, 200);
    }
    running = false;
    await Promise.all(workers);
    assert.ok(statuses.length > 50, `${statuses.length} decisions`);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    );
    assert.equal((await admin('/v1/admin/packs/app/unpin', { method: 'POST', body: '{}' })).status, 200);
  });

  it('delivers events to the webhook signed with HMAC-SHA256, and a slow receiver does not slow reloads or decisions', async () => {
    await eventually(() => Promise.resolve(hooks.some((h) => h.type === 'policy.rolled_back')));
    for (const h of hooks)
      assert.ok(
        verifyWebhookSignature(Buffer.from(SECRET), h.signature, h.body, Math.floor(Date.now() / 1000)),
        'signature checks out',
      );
    assert.ok(
      !verifyWebhookSignature(
        Buffer.from(SECRET),
        hooks[0]?.signature,
        `${hooks[0]?.body ?? ''} `,
        Math.floor(Date.now() / 1000),
      ),
      'a changed body does not',
    );
    slow = true;
    const updates = (): number => proc.logs().filter((l) => l.msg === 'event' && l.event === 'policy.updated').length;
    const updatesBefore = updates();
    const started = Date.now();
    await publishFile(dir, 5);
    await eventually(async () => (await version()) === 5, { timeoutMs: 5000 });
    assert.ok(Date.now() - started < 5000, 'the reload did not wait for the 8 s receiver');
    // The new version answers before its events are recorded (off the request path): wait for them, so the
    // event log the next test reads is settled.
    await eventually(() => updates() > updatesBefore, {
      timeoutMs: 5000,
      what: 'the policy.updated event of version 5',
    });
    slow = false;
  });

  it('streams events as SSE and replays the ones a client missed from Last-Event-ID', async () => {
    const ids = await sseIds(await admin('/v1/admin/events?last_event_id=0'), 3);
    assert.ok(ids.length >= 3, 'replayed events');
    const last = ids.at(-1) ?? 0;
    const missed = await sseIds(await admin('/v1/admin/events', { headers: { 'last-event-id': String(last - 2) } }), 2);
    assert.deepEqual(missed, [last - 1, last], 'exactly the events after Last-Event-ID, in order');
  });

  it('keeps history, numbers and rollbacks across a restart', async () => {
    await proc.stop();
    ({ proc, url } = await startAgentProcess(join(dir, 'agent.yaml')));
    const res = (await (await admin('/v1/admin/packs/app/versions')).json()) as {
      versions: Array<{ number: number }>;
      rollbacks: unknown[];
    };
    assert.deepEqual(
      res.versions.map((v) => v.number).sort((a, b) => a - b),
      [1, 2, 3, 4, 5],
    );
    assert.ok(res.rollbacks.length >= 7);
    assert.equal(await version(), 5);
  });
});

describe('admin API off by default', () => {
  after(() => WardenProcess.killAll());

  it('answers 404 ADMIN_DISABLED when no admin credential is configured', async () => {
    const dir = tempDir();
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    await publishFile(dir, 1);
    await writeFile(
      join(dir, 'agent.yaml'),
      'listen: 127.0.0.1:0\ndata_dir: data\npacks:\n  - name: app\n    source: { file: { path: app.tar.gz } }\n    verify: { public_keys: [policy.pub] }\n',
    );
    const { url } = await startAgentProcess(join(dir, 'agent.yaml'));
    const res = await fetch(`${url}/v1/admin/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'ADMIN_DISABLED');
  });
});
