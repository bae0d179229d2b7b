/**
 * governance.budget and decision spans against real engines: a pack answered by
 * real decision worker threads (the deadline is enforced: fail_closed,
 * fail_open, warn) and the same pack on this thread (a synchronous evaluation
 * cannot be preempted: always `warn`). With the real OpenTelemetry SDK: an
 * overrun is a `warden.budget_exceeded` span event (on the decision span, or
 * on a span of its own when none is recording), the warning log is bounded,
 * and decision spans are sampled (0 and 1) without the input unless configured.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Activator } from '../../src/activate/activator.js';
import type { ActivePack } from '../../src/activate/types.js';
import { DecisionBudget, type BudgetAction } from '../../src/decide/budget.js';
import { Decider, type JsonDecision } from '../../src/decide/decider.js';
import { DecisionRouter } from '../../src/decide/router.js';
import { WardenError } from '../../src/errors.js';
import { DecisionTracing } from '../../src/observe/decision-tracing.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { DecisionPool } from '../../src/workers/pool.js';
import { MemoryStore } from '../activate/memory-store.js';
import { installOtel, onlySpan, type InstalledOtel } from '../helpers/otel.js';
import { buildFrom } from '../helpers/packs.js';

// The same policy as a pack the workers answer (w) and one answered on this thread (l).
const policy = (name: string): Record<string, string> => ({
  'warden.yaml': `name: ${name}\nentrypoints: [${name}/allow, ${name}/slow, ${name}/slower]\n`,
  [`${name}.rego`]: [
    `package ${name}`,
    'import rego.v1',
    'default allow := false',
    'allow if input.user == "alice"',
    // About half a second for the n below (SLOW): well past the budget.
    'slow := count([x | some x in numbers.range(1, input.n)])',
    'slower := count([x | some x in numbers.range(1, input.n)])',
    '',
  ].join('\n'),
});

// Far below the slow evaluation (tens to hundreds of ms, however warm), far above nothing.
const BUDGET_MS = 5;
const SLOW = '{"n":150000}';

describe('decision budget', () => {
  let pool: DecisionPool;
  let router: DecisionRouter;
  let otel: InstalledOtel;
  let metrics: WardenMetrics;
  let lines: Record<string, unknown>[];
  let workers: ActivePack;

  before(async () => {
    otel = installOtel();
    metrics = new WardenMetrics({ defaultMetrics: false });
    const log = createLogger('silent');
    pool = new DecisionPool({ size: 1, metrics, log, limits: {} });
    const activators = await Promise.all(
      (['w', 'l'] as const).map(async (name) => {
        const a = new Activator({
          name,
          sourceKind: 'file',
          origin: 'test',
          trust: { kind: 'unsigned' },
          store: new MemoryStore(),
          limits: {},
          metrics,
          log,
          ...(name === 'w' ? { engines: pool.loader } : {}),
        });
        const pack = (await buildFrom(policy(name))).bytes;
        const outcome = await a.submit({
          pack,
          signature: undefined,
          etag: undefined,
          origin: 'test',
          correlationId: name,
        });
        assert.equal(outcome.status, 'activated');
        return a;
      }),
    );
    router = new DecisionRouter(activators);
    router.rebuild();
    workers = activators[0]?.current as ActivePack;
    assert.equal(workers.engine.kind, 'pooled');
  });

  after(async () => {
    await pool.close();
    await otel.uninstall();
  });

  beforeEach(() => {
    otel.exporter.reset();
    metrics.registry.resetMetrics();
  });

  // A decider held to a fresh budget; its warnings land in `lines`.
  function decider(
    action: BudgetAction,
    more: { failOpen?: Record<string, unknown>; sample?: number; input?: boolean; ms?: number } = {},
  ): Decider {
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const budget = new DecisionBudget({
      ms: more.ms ?? BUDGET_MS,
      onExceed: action,
      failOpen: more.failOpen ?? {},
      registry: metrics.registry,
      log: createLogger('info', sink),
      logIntervalMs: 60_000,
    });
    const tracing = new DecisionTracing({ sample: more.sample ?? 0, includeInput: more.input ?? false });
    return new Decider(router, metrics, { budget, tracing });
  }

  const exceeded = async (action: string, pack = 'w'): Promise<number> =>
    (await metrics.registry.getSingleMetric('governance_budget_exceeded_total')?.get())?.values.find(
      (v) => v.labels.action === action && v.labels.pack === pack,
    )?.value ?? 0;

  const rejection = (p: JsonDecision | Promise<JsonDecision>): Promise<unknown> =>
    Promise.resolve(p).then(
      () => undefined,
      (e: unknown) => e,
    );

  it('fail_closed: a worker past the deadline is answered DECISION_BUDGET_EXCEEDED at the deadline; quick ones are not touched', async () => {
    // A quick decision under a fail_closed budget it has room for is the worker's answer.
    const roomy = decider('fail_closed', { ms: 2000 });
    assert.equal((await roomy.decideJson('w/allow', '{"user":"alice"}')).resultJson, 'true');
    const d = decider('fail_closed');
    const started = performance.now();
    const err = await rejection(d.decideJson('w/slow', SLOW));
    const took = performance.now() - started;
    assert.ok(err instanceof WardenError && err.code === 'DECISION_BUDGET_EXCEEDED', String(err));
    assert.equal(err.details.budget_ms, BUDGET_MS);
    // The full answer takes far longer; the deadline answered well before it.
    const full = performance.now();
    assert.equal((await decider('warn').decideJson('w/slow', SLOW)).resultJson, '150000');
    assert.ok(took < performance.now() - full, `answered at the deadline (${took} ms)`);
    assert.equal(await exceeded('fail_closed'), 1);
  });

  it('fail_open: the configured answer for the path at the deadline; a path without one fails closed', async () => {
    const d = decider('fail_open', { failOpen: { 'w/slow': 0 } });
    const open = await d.decideJson('w/slow', SLOW);
    assert.deepEqual([open.defined, open.resultJson, open.pack, open.digest], [true, '0', 'w', workers.digest]);
    const err = await rejection(d.decideJson('w/slower', SLOW));
    assert.ok(err instanceof WardenError && err.code === 'DECISION_BUDGET_EXCEEDED', String(err));
    assert.equal(await exceeded('fail_open'), 1);
    assert.equal(await exceeded('fail_closed'), 1);
  });

  it('warn: the late answer stands, the overrun is counted and logged', async () => {
    const d = decider('warn');
    assert.equal((await d.decideJson('w/slow', SLOW)).resultJson, '150000');
    assert.equal(await exceeded('warn'), 1);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.code, 'DECISION_BUDGET_EXCEEDED');
    assert.equal(lines[0]?.action, 'warn');
    assert.equal(lines[0]?.entrypoint, 'w/slow');
  });

  it('a synchronous evaluation on this thread cannot be preempted: fail_closed still answers, counted as warn', () => {
    const d = decider('fail_closed', { ms: 1 });
    const answer = d.decideJson('l/slow', SLOW);
    assert.ok(!(answer instanceof Promise), 'answered on this thread');
    assert.equal(answer.resultJson, '150000');
    return exceeded('warn', 'l').then((n) => assert.equal(n, 1));
  });

  it('an overrun is a span event on the sampled decision span, and a back-dated span of its own when none records', async () => {
    await decider('warn', { sample: 1 }).decideJson('w/slow', SLOW);
    const traced = onlySpan(otel, 'warden.decision');
    const event = traced.events.find((e) => e.name === 'warden.budget_exceeded');
    assert.ok(event, 'the decision span has the event');
    assert.equal(event.attributes?.['warden.budget.action'], 'warn');
    assert.ok(Number(event.attributes?.['warden.budget.elapsed_ms']) > BUDGET_MS);

    otel.exporter.reset();
    assert.ok(!(decider('fail_closed', { sample: 0, ms: 1 }).decideJson('l/slow', SLOW) instanceof Promise));
    const own = onlySpan(otel, 'warden.decision');
    assert.equal(own.attributes['warden.entrypoint'], 'l/slow');
    assert.equal(own.events[0]?.name, 'warden.budget_exceeded');
    const spanMs = own.duration[0] * 1000 + own.duration[1] / 1e6;
    const took = Number(own.events[0]?.attributes?.['warden.budget.elapsed_ms']);
    assert.ok(spanMs >= took * 0.9, `back-dated to the decision's start (${spanMs} ms for ${took} ms)`);
  });

  it('logs at a bounded rate: one warning line for many overruns, each one counted and traced', () => {
    const d = decider('fail_closed', { ms: 1 });
    for (let i = 0; i < 4; i++) assert.ok(!(d.decideJson('l/slow', SLOW) instanceof Promise));
    return exceeded('warn', 'l').then((n) => {
      assert.equal(n, 4);
      assert.equal(lines.length, 1, 'one line per log interval');
      assert.equal(otel.spans('warden.decision').length, 4);
    });
  });

  it('samples decision spans: none at 0; at 1 each with pack, digest, entrypoint and a boolean result, no input unless configured', async () => {
    await decider('warn', { sample: 0, ms: 60_000 }).decideJson('w/allow', '{"user":"alice"}');
    assert.equal(otel.spans().length, 0);

    await decider('warn', { sample: 1, ms: 60_000 }).decideJson('w/allow', '{"user":"alice"}');
    const span = onlySpan(otel, 'warden.decision');
    assert.equal(span.attributes['warden.pack'], 'w');
    assert.equal(span.attributes['warden.digest'], workers.digest);
    assert.equal(span.attributes['warden.revision'], workers.revision);
    assert.equal(span.attributes['warden.entrypoint'], 'w/allow');
    assert.equal(span.attributes['warden.result'], true);
    assert.equal(typeof span.attributes['warden.decision_id'], 'string');
    assert.equal(span.attributes['warden.input'], undefined, 'no input by default');

    otel.exporter.reset();
    const async = await decider('warn', { sample: 1, input: true, ms: 60_000 }).decideAsync('l/allow', { user: 'bob' });
    assert.equal(async.result, false);
    const withInput = onlySpan(otel, 'warden.decision');
    assert.equal(withInput.attributes['warden.input'], '{"user":"bob"}');
    assert.equal(withInput.attributes['warden.result'], false);
  });
});
