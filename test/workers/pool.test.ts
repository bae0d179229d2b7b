/**
 * The decision workers with real worker threads and real packs: decisions are
 * answered off the primary thread, a pack loads one worker at a time while the
 * others keep answering, a worker that dies mid-request is replaced and its
 * decision answered elsewhere, and refusals keep their codes across threads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PooledEngine } from '../../src/engine/engine.js';
import { WardenError } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { DecisionPool } from '../../src/workers/pool.js';
import { buildFrom } from '../helpers/packs.js';
import { eventually } from '../helpers/wait.js';

const POLICY = {
  'warden.yaml': 'name: w\nentrypoints: [w/allow, w/slow, w/echo]\n',
  'w.rego': [
    'package w',
    'import rego.v1',
    'default allow := false',
    'allow if input.user == "alice"',
    // Seconds of work for a large n: keeps a decision in flight while its worker is killed.
    'slow := count([x | some x in numbers.range(1, input.n)])',
    'echo := input',
    '',
  ].join('\n'),
};

// A pack whose data takes a worker a while to read: ~3 MB of users.
function bigPolicy(): Record<string, string> {
  const users: Record<string, { role: string; name: string }> = {};
  for (let i = 0; i < 30_000; i++) users[`u${i}`] = { role: i % 3 === 0 ? 'admin' : 'viewer', name: 'x'.repeat(60) };
  return {
    'warden.yaml': 'name: big\nentrypoints: [big/admin]\n',
    'big.rego':
      'package big\nimport rego.v1\ndefault admin := false\nadmin if data.users[input.user].role == "admin"\n',
    'users/data.json': JSON.stringify(users),
  };
}

const value = (metrics: WardenMetrics, name: string, labels: Record<string, string> = {}): Promise<number> =>
  metrics.registry
    .getSingleMetric(name)!
    .get()
    .then((m) => m.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0);

describe('decision workers', () => {
  let pool: DecisionPool;
  let metrics: WardenMetrics;
  let engine: PooledEngine;

  before(async () => {
    metrics = new WardenMetrics({ defaultMetrics: false });
    pool = new DecisionPool({ size: 2, metrics, log: createLogger('silent'), limits: {} });
    ({ engine } = await pool.load((await buildFrom(POLICY)).bytes));
  });

  after(() => pool.close());

  it('answers decisions in the workers, with the result as the engine wrote it', async () => {
    assert.deepEqual(await engine.evaluateJsonAsync('w/allow', '{"user":"alice"}').then((a) => a.resultJson), 'true');
    assert.equal(
      (await engine.evaluateJsonAsync('w/echo', '{"id":12345678901234567891}')).resultJson,
      '{"id":12345678901234567891}',
    );
    assert.equal((await engine.evaluateJsonAsync('w/echo', undefined)).resultJson, undefined, 'no input: undefined');
    assert.equal(await value(metrics, 'decision_workers', { state: 'ready' }), 2);
  });

  it('keeps answering while a pack loads: one worker loads at a time, the other answers', async () => {
    const loading = pool.load((await buildFrom(bigPolicy())).bytes);
    let settled = false;
    void loading.then(() => (settled = true));
    // Wait until a worker is busy loading, then decide while it is.
    await eventually(async () => (await value(metrics, 'decision_workers', { state: 'loading' })) === 1, {
      what: 'a worker loading the big pack',
      everyMs: 2,
    });
    let answered = 0;
    while (!settled && answered < 1000) {
      assert.equal((await engine.evaluateJsonAsync('w/allow', '{"user":"alice"}')).resultJson, 'true');
      answered++;
    }
    assert.ok(answered > 0 && !settled, `decisions were answered while the pack loaded (${answered})`);
    const big = await loading;
    assert.equal((await big.engine.evaluateJsonAsync('big/admin', '{"user":"u3"}')).resultJson, 'true');
    big.engine.release();
  });

  it("refuses a pack a worker cannot read with the reader's code, and holds it nowhere", async () => {
    const err = await pool.load(Buffer.from('not a pack')).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WardenError, String(err));
    assert.match(err.code, /^PACK_/);
  });

  it("answers INPUT_TOO_DEEP-worthy failures as the engine's RangeError, coded by the decider", async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const err = await engine.evaluateJsonAsync('w/echo', deep).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RangeError, `a RangeError crosses back: ${String(err)}`);
  });

  it('replaces a worker killed mid-request; its decision is answered by the other one', async () => {
    const restarts = await value(metrics, 'decision_worker_restarts_total');
    // Both workers busy: one with the slow decision, then kill whichever holds it.
    const slow = engine.evaluateJsonAsync('w/slow', '{"n":300000}');
    await pool.killWorker(0);
    await pool.killWorker(1).catch(() => undefined);
    const answer = await slow.then(
      (a) => a.resultJson,
      (e: unknown) => (e instanceof WardenError ? e.code : String(e)),
    );
    // Killing both at once: the decision is retried once, then answered with the 503 code; never hangs.
    assert.ok(answer === '300000' || answer === 'DECISION_WORKER_LOST', String(answer));
    await eventually(async () => (await value(metrics, 'decision_workers', { state: 'ready' })) === 2, {
      what: 'both workers replaced and loaded',
      timeoutMs: 20_000,
    });
    assert.ok((await value(metrics, 'decision_worker_restarts_total')) >= restarts + 2);
    assert.equal((await engine.evaluateJsonAsync('w/allow', '{"user":"alice"}')).resultJson, 'true');
  });

  it('answers a decision whose worker dies on the other worker', async () => {
    const retried = await value(metrics, 'decision_worker_lost_total', { outcome: 'retried' });
    const slow = engine.evaluateJsonAsync('w/slow', '{"n":300000}');
    // The pool sent it to the worker with the fewest in flight: worker 0 (both idle).
    await pool.killWorker(0);
    assert.equal((await slow).resultJson, '300000');
    assert.equal(await value(metrics, 'decision_worker_lost_total', { outcome: 'retried' }), retried + 1);
    await eventually(async () => (await value(metrics, 'decision_workers', { state: 'ready' })) === 2, {
      what: 'the worker replaced',
      timeoutMs: 20_000,
    });
  });
});
