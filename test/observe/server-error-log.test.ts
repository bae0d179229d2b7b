/**
 * The 5xx log: every 5xx counted, logged at most a burst then a steady rate per
 * code (an injected clock), and the next logged line says how many were not.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { ServerErrorLog } from '../../src/observe/server-error-log.js';

function setup(): {
  log: ServerErrorLog;
  lines: Array<Record<string, unknown>>;
  metrics: WardenMetrics;
  clock: { ms: number };
} {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const metrics = new WardenMetrics({ defaultMetrics: false });
  const clock = { ms: 0 };
  const log = new ServerErrorLog(createLogger('info', sink), metrics, { burst: 3, perSecond: 1 }, () => clock.ms);
  return { log, lines, metrics, clock };
}

const failure = {
  status: 500,
  code: 'DECISION_FAILED' as const,
  message: 'evaluating p/q: var assignment conflict',
  route: '/v1/data/*',
  method: 'POST',
  details: { entrypoint: 'p/q', digest: 'sha256:ab' },
};

async function value(metrics: WardenMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return m.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

describe('server error log', () => {
  it('logs a burst, then one a second per code; counts every 5xx and every suppressed line', async () => {
    const { log, lines, metrics, clock } = setup();
    for (let i = 0; i < 10; i++) log.report(failure);
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 3, 'the burst');
    assert.deepEqual(
      {
        code: lines[0]?.code,
        entrypoint: lines[0]?.entrypoint,
        digest: lines[0]?.digest,
        status: lines[0]?.status,
        err: lines[0]?.err,
        msg: lines[0]?.msg,
      },
      {
        code: 'DECISION_FAILED',
        entrypoint: 'p/q',
        digest: 'sha256:ab',
        status: 500,
        err: failure.message,
        msg: 'request failed',
      },
    );
    assert.equal(await value(metrics, 'http_server_errors_total', { code: 'DECISION_FAILED' }), 10);
    assert.equal(await value(metrics, 'http_server_error_logs_suppressed_total', { code: 'DECISION_FAILED' }), 7);

    // Another code has its own budget: a flood of one never hides the other.
    log.report({ ...failure, status: 503, code: 'KILL_SWITCH_ACTIVE', message: 'blocked' });
    clock.ms = 1000;
    log.report(failure);
    log.report(failure);
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 5);
    assert.equal(lines[3]?.msg, 'request answered 503');
    assert.equal(lines[4]?.suppressed_since_last, 7, 'the next line says how many were not logged');
    assert.equal(
      await value(metrics, 'http_server_error_logs_suppressed_total', { code: 'DECISION_FAILED' }),
      8,
      'one token a second',
    );
  });
});
