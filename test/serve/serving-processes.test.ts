/**
 * http_processes: 2 — two real serving processes (node:cluster workers) share the agent's
 * port and answer the data API; the primary activates, logs and answers every other route.
 * Each request here opens its own connection; which process accepts it is the kernel's
 * choice, so "both processes answered" is waited for, a batch of requests at a time.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { WardenError } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import { publish, variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

// One request on a connection of its own.
function fresh(url: string, method: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// An answer's JSON body.
const json = (a: Answer): { result?: unknown; decision_id: string } =>
  JSON.parse(a.body) as { result?: unknown; decision_id: string };

// The serving process a decision id came from: its first four groups are the process's own.
const processOf = (decisionId: string): string => decisionId.slice(0, 23);

// The value of a metric sample on /metrics, 0 when absent.
async function sample(url: string, line: string): Promise<number> {
  const text = (await fresh(`${url}/metrics`, 'GET')).body;
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

/**
 * Signs and publishes pack v1 of `app` into `dir` and gives the configuration of an agent with
 * two serving processes over it, its decision log flushed every `flushMs`, its source polled
 * every `pollSeconds`.
 */
async function servedApp(
  dir: string,
  key: ReturnType<typeof p256>,
  flushMs: number,
  pollSeconds: number,
): Promise<ReturnType<typeof parseConfig>> {
  await writeFile(join(dir, 'policy.pub'), key.publicPem);
  await publish(dir, 'app', await variant(1, { minLevel: 3 }), key.privateKey);
  return parseConfig(
    [
      'listen: 127.0.0.1:0',
      'data_dir: data',
      'http_processes: 2',
      `decision_log: { dir: decisions, flush_interval_ms: ${flushMs} }`,
      'packs:',
      '  - name: app',
      `    source: { file: { path: app.tar.gz, poll_seconds: ${pollSeconds} } }`,
      '    verify: { public_keys: [policy.pub] }',
    ].join('\n'),
    join(dir, 'agent.yaml'),
  );
}

describe('serving processes (http_processes: 2)', () => {
  const key = p256();
  const dir = tempDir();
  let agent: RunningAgent;
  const allow = (level: number) => fresh(`${agent.url}/v1/data/app/allow`, 'POST', `{"input":{"level":${level}}}`);

  before(async () => {
    agent = await startAgent(await servedApp(dir, key, 20, 0.05), createLogger('silent'));
  });

  after(() => agent.close());

  // Sends batches of `batch()` until answers came from both processes; every answer goes through `check`.
  async function fromBoth(batch: () => Promise<Answer>[], check: (a: Answer, i: number) => void): Promise<Answer[]> {
    const processes = new Set<string>();
    const all: Answer[] = [];
    await eventually(
      async () => {
        const answers = await Promise.all(batch());
        answers.forEach((a, i) => {
          check(a, i);
          processes.add(processOf((JSON.parse(a.body) as { decision_id: string }).decision_id));
        });
        all.push(...answers);
        return processes.size === 2;
      },
      { what: 'answers from both serving processes', everyMs: 1 },
    );
    return all;
  }

  it('answers the data API from both processes, exactly as one process does', async () => {
    await fromBoth(
      () => Array.from({ length: 12 }, (_, i) => allow(i % 2 === 0 ? 5 : 1)),
      (a, i) => {
        assert.equal(a.status, 200, a.body);
        assert.equal((JSON.parse(a.body) as { result: boolean }).result, i % 2 === 0, `level ${i % 2 === 0 ? 5 : 1}`);
        assert.equal(a.headers['x-warden-revision'], 'v1');
      },
    );
    // Exact numbers: the input reaches the engine as text in the serving processes too.
    const big = await fresh(`${agent.url}/v1/data/app/allow`, 'POST', '{"input":{"level":12345678901234567891}}');
    assert.equal(json(big).result, true);
  });

  it('answers bad input with the same coded errors', async () => {
    const notJson = await fresh(`${agent.url}/v1/data/app/allow`, 'POST', '{bad');
    assert.equal(notJson.status, 400);
    assert.equal((JSON.parse(notJson.body) as { warden_code: string }).warden_code, 'DECISION_INPUT_INVALID');
    const deep = await fresh(
      `${agent.url}/v1/data/app/allow`,
      'POST',
      `{"input":${'['.repeat(1500)}${']'.repeat(1500)}}`,
    );
    assert.equal(deep.status, 400);
    assert.equal((JSON.parse(deep.body) as { warden_code: string }).warden_code, 'INPUT_TOO_DEEP');
    const next = await allow(5);
    assert.equal(json(next).result, true, 'the next decision is answered');
  });

  it('passes every other route to the primary: health, verdicts, metrics summed over the processes', async () => {
    const health = JSON.parse((await fresh(`${agent.url}/healthz`, 'GET')).body) as {
      status: string;
      http_processes: unknown;
    };
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.http_processes, { size: 2, ready: 2, starting: 0, down: 0 });
    const verdict = await fresh(`${agent.url}/v1/verdict`, 'POST', '{"tenant":"acme"}');
    assert.equal(verdict.status, 404);
    assert.equal((JSON.parse(verdict.body) as { code: string }).code, 'GOVERNANCE_DISABLED');
    const line = 'opa_client_latency_seconds_count{pack="app",engine="wasm"}';
    const before = await sample(agent.url, line);
    const answers = await fromBoth(
      () => Array.from({ length: 10 }, () => allow(5)),
      (a) => assert.equal(a.status, 200),
    );
    assert.equal((await sample(agent.url, line)) - before, answers.length, 'decisions of both processes are counted');
    assert.equal(await sample(agent.url, 'http_processes{state="ready"}'), 2);
  });

  it('logs the decisions of every process in the primary’s decision log', async () => {
    const answers = await fromBoth(
      () => Array.from({ length: 8 }, () => allow(4)),
      (a) => assert.equal(a.status, 200),
    );
    const ids = answers.map((a) => json(a).decision_id);
    await eventually(
      async () => {
        await agent.drainDecisionLog();
        const logDir = join(dir, 'decisions');
        const text = (await Promise.all((await readdir(logDir)).map((f) => readFile(join(logDir, f), 'utf8')))).join(
          '',
        );
        return ids.every((id) => text.includes(`"decision_id":"${id}"`));
      },
      { what: 'every decision in the log' },
    );
  });

  it('activates a new version in every process without a failed decision', async () => {
    let failed = 0;
    let running = true;
    const load = (async () => {
      let n = 0;
      while (running) {
        const a = await allow(5);
        n++;
        if (a.status !== 200) failed++;
      }
      return n;
    })();
    for (const v of [2, 3, 4]) {
      await publish(dir, 'app', await variant(v, { minLevel: 3 }), key.privateKey);
      await eventually(() => agent.packs[0]?.activator.current?.revision === `v${v}`, { what: `v${v} active` });
    }
    // Every process takes the commit right after the primary activated.
    const seen = new Map<string, string>();
    await eventually(
      async () => {
        // A batch at a time: which process accepts a connection is the kernel's choice.
        for (const a of await Promise.all(Array.from({ length: 4 }, () => allow(5))))
          seen.set(processOf(json(a).decision_id), String(a.headers['x-warden-revision']));
        return seen.size === 2 && [...seen.values()].every((r) => r === 'v4');
      },
      { what: () => `both processes on v4: ${JSON.stringify([...seen])}` },
    );
    running = false;
    assert.ok((await load) > 0);
    assert.equal(failed, 0, 'no decision failed during the activations');
    const version = await fresh(`${agent.url}/v1/data/app/version`, 'GET');
    assert.equal(json(version).result, 4);
  });

  it('keeps answering while a serving process dies, and starts another with the active packs', async () => {
    const processes = agent.servingProcesses;
    assert.ok(processes);
    await processes.killProcess(0);
    for (const a of await Promise.all(Array.from({ length: 6 }, () => allow(5)))) assert.equal(a.status, 200);
    await eventually(async () => (await sample(agent.url, 'http_process_restarts_total')) === 1, {
      what: 'the replacement counted',
      timeoutMs: 30_000,
    });
    // A new process boots, then loads the pack: slow under tsx on a busy machine.
    await eventually(() => processes.state().ready === 2, { what: 'two processes ready', timeoutMs: 30_000 });
    await fromBoth(
      () => Array.from({ length: 8 }, () => allow(5)),
      (a) => assert.equal(a.headers['x-warden-revision'], 'v4', 'the replacement answers the active version'),
    );
  });
});

describe('serving processes at close', () => {
  it('write every decision they answered to the log before the agent stops: nothing is lost', async () => {
    const dir = tempDir();
    // A long flush interval: when close() starts, the last events still wait in a process's
    // batch (sent at most every 100 ms) or in the primary's queue.
    const agent = await startAgent(await servedApp(dir, p256(), 60_000, 60), createLogger('silent'));
    let ids: string[];
    try {
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => fresh(`${agent.url}/v1/data/app/allow`, 'POST', '{"input":{"level":5}}')),
      );
      ids = answers.map((a) => json(a).decision_id);
    } finally {
      await agent.close();
    }
    const logDir = join(dir, 'decisions');
    const text = (await Promise.all((await readdir(logDir)).map((f) => readFile(join(logDir, f), 'utf8')))).join('');
    const missing = ids.filter((id) => !text.includes(`"decision_id":"${id}"`));
    assert.deepEqual(missing, [], 'decisions answered before close() and not in the log');
    assert.equal(ids.length, 30);
  });
});

describe('http_processes in the configuration', () => {
  const parse = (extra: string) =>
    parseConfig(
      `http_processes: 2\npacks:\n  - name: app\n    source: { directory: { path: rego } }\n    verify: { unsigned: true }\n${extra}`,
      join(tempDir(), 'agent.yaml'),
    );

  it('refuses engine opa and shadow rollouts beside serving processes, naming the key', () => {
    const refusal = (extra: string): WardenError => {
      try {
        parse(extra);
      } catch (err) {
        assert.ok(err instanceof WardenError);
        return err;
      }
      return assert.fail('the configuration was accepted');
    };
    const opa = refusal('    engine: opa\n');
    assert.equal(opa.code, 'CONFIG_INVALID');
    assert.match(opa.message, /packs\.0\.engine.*http_processes above 1 needs engine wasm/s);
    const shadow = refusal('    rollout: { mode: shadow }\n');
    assert.equal(shadow.code, 'CONFIG_INVALID');
    assert.match(shadow.message, /packs\.0\.rollout\.mode.*rollout\.mode direct/s);
    assert.equal(parse('').http_processes, 2);
  });
});
