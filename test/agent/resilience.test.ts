import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sha256Digest } from '../../src/verify/digest.js';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import { WardenProcess, startAgentProcess, startPackServerProcess } from '../helpers/processes.js';
import { publish, variant } from '../helpers/variants.js';

const key = p256();

// An agent config polling the pack server fast.
async function config(dir: string, serverUrl: string, extra: string[] = []): Promise<string> {
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  const path = join(dir, 'agent.yaml');
  const http = [
    `        url: ${serverUrl}/v1/policy/packs/app`,
    '        poll_min_seconds: 0.02',
    '        poll_max_seconds: 0.05',
    '        timeout_seconds: 2',
    ...extra,
  ];
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      'data_dir: data',
      'log_level: warn',
      'packs:',
      '  - name: app',
      '    source:',
      '      http:',
      ...http,
      '    verify:',
      '      public_keys: [policy.pub]',
    ].join('\n'),
  );
  return path;
}

// Every file below dir (recursively) whose name marks it as a temp file.
function tempFiles(dir: string): string[] {
  // A commit may rename a temp file between the listing and the stat: gone means not left behind.
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => /(^|\/)\.warden-tmp-/.test(f) && statSync(join(dir, f), { throwIfNoEntry: false })?.isFile() === true,
  );
}

describe('agent resilience', () => {
  after(() => WardenProcess.killAll());

  it('comes up on a verified pack after kill -9 at 30 random moments during reloads, leaving no temp files', async () => {
    const dir = tempDir();
    const packs = join(dir, 'packs');
    await mkdir(packs);
    const published = new Map<string, number>();
    let n = 1;
    const publishNext = async (): Promise<void> => {
      const bytes = await variant(n);
      published.set(sha256Digest(bytes), n);
      await publish(packs, 'app', bytes, key.privateKey);
      n += 1;
    };
    await publishNext();
    const server = await startPackServerProcess(packs);
    const path = await config(dir, server.url);
    let publishing = true;
    // A new version every ~50 ms, so most kills land during a fetch, verify, store or swap.
    const publisher = (async () => {
      while (publishing) {
        await publishNext();
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    let leftByKills = 0;
    let stale: string[] = [];
    try {
      for (let round = 0; round < 30; round++) {
        const { proc, url } = await startAgentProcess(path);
        const health = (await (await fetch(`${url}/healthz`)).json()) as {
          packs: { app: { active: { digest: string } } };
        };
        const digest = health.packs.app.active.digest;
        assert.ok(published.has(digest), `round ${round}: active ${digest} is a pack that was published`);
        // No content-type, as `curl -d` would send: OPA reads any body as JSON, so does Warden.
        const res = await fetch(`${url}/v1/data/app/version`, { method: 'POST', body: '{}' });
        const answer = (await res.json()) as { result: number };
        const answeredBy = res.headers.get('x-warden-digest') ?? '';
        assert.equal(
          answer.result,
          published.get(answeredBy),
          `round ${round}: the answer comes from the pack that says it answered`,
        );
        // A commit may be in flight now; what must be gone are the temp files the last kill left.
        const current = new Set(tempFiles(join(dir, 'data')));
        assert.deepEqual(
          stale.filter((f) => current.has(f)),
          [],
          `round ${round}: the temp files of the previous kill were swept`,
        );
        // A random moment to kill at is the input of this test, not a wait for something.
        await new Promise((r) => setTimeout(r, Math.random() * 400));
        proc.child.kill('SIGKILL');
        await proc.exited;
        stale = tempFiles(join(dir, 'data'));
        if (stale.length > 0) leftByKills += 1;
      }
    } finally {
      publishing = false;
      await publisher;
    }
    // With no more publishes, a last start and a clean stop leave nothing behind.
    const last = await startAgentProcess(path);
    assert.equal(await last.proc.stop(), 0, last.proc.output.slice(-8).join('\n'));
    await server.proc.stop();
    assert.deepEqual(tempFiles(join(dir, 'data')), []);
    // Informational: how many of the 30 kills landed mid-write (temp files present at the kill).
    process.stderr.write(`# kill -9 rounds that interrupted a write: ${leftByKills}/30\n`);
  });

  it('answers every decision with 200 from a live pack while a new pack (every other one 2.5 MB of data) is published every second for 20 s', async () => {
    const dir = tempDir();
    const packs = join(dir, 'packs');
    await mkdir(packs);
    const publishedAt: Array<{ version: number; at: number }> = [];
    await publish(packs, 'app', await variant(1), key.privateKey);
    publishedAt.push({ version: 1, at: Date.now() });
    const server = await startPackServerProcess(packs);
    const { proc, url } = await startAgentProcess(await config(dir, server.url, ['        long_poll_seconds: 5']));

    let running = true;
    const results: Array<{ status: number; version: number; revision: string | null; start: number; end: number }> = [];
    const worker = async (): Promise<void> => {
      while (running) {
        const start = Date.now();
        const res = await fetch(`${url}/v1/data/app/version`, {
          method: 'POST',
          body: '{"input":{}}',
          headers: { 'content-type': 'application/json' },
        });
        const body = (await res.json()) as { result: number };
        results.push({
          status: res.status,
          version: body.result,
          revision: res.headers.get('x-warden-revision'),
          start,
          end: Date.now(),
        });
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    try {
      // The publishing pace (one a second for 20 s) is the scenario under test, so these waits are real.
      for (let v = 2; v <= 21; v++) {
        await new Promise((r) => setTimeout(r, 1000));
        // Every other version carries a large data document: its load takes each decision worker a while.
        await publish(packs, 'app', await variant(v, { ballast: v % 2 === 0 ? 25_000 : 0 }), key.privateKey);
        publishedAt.push({ version: v, at: Date.now() });
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      running = false;
      await Promise.all(workers);
      await proc.stop();
      await server.proc.stop();
    }

    assert.ok(results.length > 1000, `a steady stream: ${results.length} decisions`);
    assert.deepEqual(
      results.filter((r) => r.status !== 200),
      [],
      'every response is 200',
    );
    // Each answer comes from a pack published before the request ended, and never from one older
    // than a pack that already answered a request that ended before this one started (no going back).
    const newestBefore = (t: number): number => publishedAt.filter((p) => p.at <= t).at(-1)?.version ?? 1;
    const byEnd = [...results].sort((a, b) => a.end - b.end);
    const highest: number[] = [];
    byEnd.forEach((o, i) => highest.push(Math.max(o.version, highest[i - 1] ?? 1)));
    // The highest version answered by requests that ended before t (binary search over end times).
    const answeredBefore = (t: number): number => {
      let lo = 0;
      let hi = byEnd.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((byEnd[mid]?.end ?? 0) < t) lo = mid + 1;
        else hi = mid;
      }
      return lo === 0 ? 1 : (highest[lo - 1] ?? 1);
    };
    const stray = results.filter((r) => r.version > newestBefore(r.end) || r.version < answeredBefore(r.start));
    assert.deepEqual(stray.slice(0, 5), [], 'every answer comes from a published pack, never an older one than before');
    assert.ok(
      results.every((r) => r.revision === `v${r.version}`),
      'the answer and the revision header name the same pack',
    );
    const seen = new Set(results.map((r) => r.version));
    assert.ok(seen.has(21) && seen.size >= 18, `decisions followed the publishes (saw ${seen.size} versions)`);
  });
});
