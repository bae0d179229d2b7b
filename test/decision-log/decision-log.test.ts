import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { Decision } from '../../src/decide/decider.js';
import { lineFormatter } from '../../src/decision-log/decision-log-event.js';
import {
  DecisionLog,
  decisionEvent,
  writerThreadOf,
  type DecisionLogEvent,
  type DecisionLogOptions,
} from '../../src/decision-log/decision-log.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir } from '../helpers/fs.js';
import { spyIo } from '../helpers/io-spy.js';
import { eventually } from '../helpers/wait.js';

// Event n: decision `d<n>` of pack authz at revision 7, allowed when n is even.
function ev(n: number): DecisionLogEvent {
  const decision: Decision = {
    defined: true,
    result: n % 2 === 0,
    decisionId: `d${n}`,
    pack: 'authz',
    revision: '7',
    digest: 'sha256:00',
  };
  return decisionEvent('authz/allow', { user: { name: `u${n}` }, action: 'read' }, decision);
}

/** A decision log on a fresh registry whose logger lines the test can read. */
function setup(opts: Partial<DecisionLogOptions> = {}): {
  log: DecisionLog;
  registry: Registry;
  logLines: string[];
  dir: string;
} {
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      logLines.push(chunk.toString());
      done();
    },
  });
  const registry = new Registry();
  const dir = opts.dir ?? join(tempDir(), 'decisions');
  const log = new DecisionLog({ flushIntervalMs: 60_000, ...opts, dir, registry, log: createLogger('trace', sink) });
  return { log, registry, logLines, dir };
}

// The decision ids on disk, oldest file first.
async function writtenIds(dir: string): Promise<string[]> {
  return (await readLines(dir)).map((l) => String(l.decision_id));
}

// Every line of every log file in dir, parsed, oldest file first.
async function readLines(dir: string): Promise<Array<Record<string, unknown>>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.ndjson')).sort();
  const texts = await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
  return texts.flatMap((t) =>
    t
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

// The value of one series in the registry's exposition (0 if absent).
async function metric(registry: Registry, series: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('decision log', () => {
  it('enqueues a burst of 10,000 without touching fs or net, then drain writes them in OPA shape from another thread', async () => {
    const { log, registry, logLines, dir } = setup({ batchSize: 500 });
    log.start();
    const events = Array.from({ length: 10_000 }, (_, i) => ev(i + 1));
    const spy = await spyIo();
    let during: Record<string, number>;
    let draining: Record<string, number>;
    let logged: number;
    try {
      for (const e of events) log.enqueue(e);
      during = { ...spy.calls };
      logged = logLines.length;
      await log.drain(10_000);
      draining = { ...spy.calls };
      await readdir(dir);
    } finally {
      spy.restore();
    }
    assert.deepEqual(during, {}, 'no fs or net call during the burst');
    assert.equal(logged, 0, 'no log line during the burst');
    assert.deepEqual(draining, {}, 'nor while the 20 batches are written: the writer thread writes them');
    assert.equal(spy.calls['fs.promises.readdir'], 1, 'the spy sees named imports of node:fs/promises on this thread');
    assert.notEqual(writerThreadOf(log)?.threadId, undefined);
    const lines = await readLines(dir);
    assert.equal(lines.length, 10_000);
    assert.deepEqual(
      lines.map((l) => l.decision_id),
      events.map((e) => e.decision_id),
    );
    const first = lines[0] ?? {};
    assert.deepEqual(Object.keys(first).sort(), [
      'bundles',
      'decision_id',
      'input',
      'labels',
      'path',
      'result',
      'timestamp',
    ]);
    assert.equal(first.path, 'authz/allow');
    assert.deepEqual(first.input, { user: { name: 'u1' }, action: 'read' });
    assert.equal(first.result, false);
    assert.deepEqual(first.bundles, { authz: { revision: '7' } });
    assert.match(String(first.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    const labels = first.labels as Record<string, unknown>;
    assert.match(String(labels.id), /^[0-9a-f-]{36}$/);
    assert.equal(typeof labels.version, 'string');
    assert.equal(await metric(registry, 'warden_decision_log_written_total'), 10_000);
    assert.equal(await metric(registry, 'warden_decision_log_dropped_total{reason="overflow"}'), 0);
    await log.close();
  });

  it('drops the oldest events when the queue is full, counts them, and keeps the newest', async () => {
    const { log, registry, logLines, dir } = setup({ queueLimit: 5 });
    for (let n = 1; n <= 8; n++) log.enqueue(ev(n));
    assert.equal(log.queued, 5);
    assert.equal(await metric(registry, 'warden_decision_log_dropped_total{reason="overflow"}'), 3);
    await log.drain(5_000);
    assert.deepEqual(await writtenIds(dir), ['d4', 'd5', 'd6', 'd7', 'd8']);
    assert.ok(
      logLines.some((l) => l.includes('"code":"DECISION_LOG_OVERFLOW"') && l.includes('"dropped":3')),
      'the writer reports the drops',
    );
    await log.close();
  });

  it('rotates by size and keeps only the newest maxFiles files', async () => {
    const lineBytes =
      Buffer.byteLength(
        JSON.stringify({
          ...ev(10),
          labels: { id: '00000000-0000-0000-0000-000000000000', version: '0.1.0' },
          timestamp: new Date().toISOString(),
        }),
      ) + 1;
    const maxFileBytes = lineBytes * 4 + 40;
    const { log, dir } = setup({
      batchSize: 2,
      maxFileBytes,
      maxFiles: 3,
      labels: { id: '00000000-0000-0000-0000-000000000000', version: '0.1.0' },
    });
    for (let n = 10; n < 40; n++) log.enqueue(ev(n));
    await log.drain(5_000);
    const names = (await readdir(dir)).sort();
    assert.equal(names.length, 3);
    for (const name of names) {
      assert.match(name, /^decisions-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.ndjson$/);
      assert.ok((await stat(join(dir, name))).size <= maxFileBytes, `${name} is within maxFileBytes`);
    }
    const ids = await writtenIds(dir);
    assert.ok(ids.length < 30, 'older files were removed');
    assert.deepEqual(
      ids,
      Array.from({ length: ids.length }, (_, i) => `d${40 - ids.length + i}`),
      'the kept lines are the newest, in order',
    );
    await log.close();
  });

  it('counts failed writes to an unusable folder, never throws, stays bounded, and recovers', async () => {
    const parent = tempDir();
    const blocker = join(parent, 'not-a-folder');
    await writeFile(blocker, 'x');
    const { log, registry, logLines } = setup({
      dir: join(blocker, 'decisions'),
      queueLimit: 4,
      batchSize: 2,
      flushIntervalMs: 20,
    });
    log.start();
    for (let n = 1; n <= 3; n++) log.enqueue(ev(n));
    // The timer retries every 20 ms, once the writer thread has started (a few hundred ms from the TypeScript sources).
    await eventually(async () => (await metric(registry, 'warden_decision_log_write_failure_total')) >= 2, {
      everyMs: 10,
    });
    assert.equal(
      logLines.filter((l) => l.includes('"code":"DECISION_LOG_WRITE_FAILED"') && l.includes('retrying')).length,
      1,
      'logged once per episode',
    );
    for (let n = 4; n <= 13; n++) assert.doesNotThrow(() => log.enqueue(ev(n)));
    assert.ok(log.queued <= 4, 'memory stays bounded by queueLimit');
    // Three flush ticks (20 ms) of failing retries: that they drop nothing more is what is tested, so the wait is real.
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(await metric(registry, 'warden_decision_log_dropped_total{reason="overflow"}'), 9);
    await rm(blocker);
    await log.drain(5_000);
    assert.deepEqual(await writtenIds(join(blocker, 'decisions')), ['d10', 'd11', 'd12', 'd13']);
    await log.close();
  });

  it(
    'counts a failure on a read-only folder',
    { skip: process.getuid?.() === 0 ? 'root writes to read-only folders' : false },
    async () => {
      const dir = join(tempDir(), 'ro');
      await mkdir(dir, { mode: 0o500 });
      const { log, registry } = setup({ dir, flushIntervalMs: 20 });
      log.start();
      log.enqueue(ev(1));
      // Eventually: the writer thread starts first (a few hundred ms from the TypeScript sources).
      await eventually(async () => (await metric(registry, 'warden_decision_log_write_failure_total')) >= 1, {
        timeoutMs: 10_000,
        everyMs: 10,
      });
      await log.close(100);
    },
  );

  it('writes a full batch at once and a partial one on the timer', async () => {
    const full = setup({ batchSize: 10, flushIntervalMs: 60_000 });
    full.log.start();
    for (let n = 1; n <= 10; n++) full.log.enqueue(ev(n));
    await eventually(async () => (await writtenIds(full.dir)).length === 10, {
      timeoutMs: 10_000,
      everyMs: 10,
    });
    await full.log.close();
    const timed = setup({ batchSize: 10, flushIntervalMs: 20 });
    timed.log.start();
    timed.log.enqueue(ev(1));
    await eventually(async () => (await writtenIds(timed.dir)).length === 1, {
      timeoutMs: 10_000,
      everyMs: 10,
    });
    await timed.log.close();
  });

  it('drops an event that is not JSON without losing its batch', async () => {
    const { log, registry, dir } = setup();
    log.enqueue(ev(1));
    log.enqueue({ ...ev(2), input: { n: 2n } });
    log.enqueue(ev(3));
    await log.drain(5_000);
    assert.deepEqual(await writtenIds(dir), ['d1', 'd3']);
    assert.equal(await metric(registry, 'warden_decision_log_dropped_total{reason="invalid"}'), 1);
    await log.close();
  });

  it('drains on close, then counts and ignores later events', async () => {
    const { log, registry, dir } = setup();
    log.start();
    for (let n = 1; n <= 3; n++) log.enqueue(ev(n));
    await log.close();
    assert.deepEqual(await writtenIds(dir), ['d1', 'd2', 'd3']);
    assert.doesNotThrow(() => log.enqueue(ev(4)));
    assert.equal(await metric(registry, 'warden_decision_log_dropped_total{reason="closed"}'), 1);
    assert.equal(log.queued, 0);
  });
  it('writes an event structured clone refuses as its JSON data, as before', async () => {
    const { log, registry, dir } = setup();
    log.enqueue(ev(1));
    log.enqueue({ ...ev(2), input: { user: 'u2', callback: () => 'not data' } });
    log.enqueue({ ...ev(3), input: { n: 3n, f: () => 0 } });
    await log.drain(5_000);
    const lines = await readLines(dir);
    assert.deepEqual(
      lines.map((l) => l.decision_id),
      ['d1', 'd2'],
    );
    assert.deepEqual(lines[1]?.input, { user: 'u2' }, 'the function is left out, as JSON.stringify leaves it');
    assert.equal(await metric(registry, 'warden_decision_log_dropped_total{reason="invalid"}'), 1);
    await log.close();
  });

  it('keeps accepting when its writer thread ends mid-run: counts and logs the exit, starts another, writes every event', async () => {
    const { log, registry, logLines, dir } = setup({ batchSize: 100, flushIntervalMs: 20 });
    log.start();
    const first = writerThreadOf(log);
    assert.ok(first);
    for (let n = 1; n <= 100; n++) log.enqueue(ev(n));
    await setImmediate(); // the full batch is handed over
    await first.terminate(); // as a crash would: the batch is in flight (or just written)
    for (let n = 101; n <= 250; n++) assert.doesNotThrow(() => log.enqueue(ev(n)));
    await log.drain(10_000);
    assert.equal(await metric(registry, 'warden_decision_log_writer_exit_total'), 1);
    assert.ok((await metric(registry, 'warden_decision_log_write_failure_total')) <= 1);
    const second = writerThreadOf(log);
    assert.ok(second && second.threadId !== first.threadId, 'a new writer thread');
    assert.ok(
      logLines.some((l) => l.includes('"code":"DECISION_LOG_WRITE_FAILED"') && l.includes('writer thread ended')),
      'the exit is logged',
    );
    const ids = new Set(await writtenIds(dir));
    const missing = Array.from({ length: 250 }, (_, i) => `d${i + 1}`).filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], 'nothing is lost: the batch in flight is written again (maybe twice)');
    assert.equal(await metric(registry, 'warden_decision_log_dropped_total{reason="writer_exit"}'), 0);
    await log.close();
    assert.equal(await metric(registry, 'warden_decision_log_writer_exit_total'), 1, 'close() is not an exit');
  });

  it('drops and counts a batch held by two writer threads that end in a row, then goes on', async () => {
    const { log, registry, dir } = setup({ batchSize: 50, flushIntervalMs: 20 });
    log.start();
    const first = writerThreadOf(log);
    assert.ok(first);
    for (let n = 1; n <= 50; n++) log.enqueue(ev(n));
    await setImmediate();
    await first.terminate();
    // The batch goes back in front of the queue; the next thread is started to take it (after 50–100 ms).
    let second: ReturnType<typeof writerThreadOf>;
    await eventually(
      () => {
        second = writerThreadOf(log);
        return second !== undefined && second !== first;
      },
      { everyMs: 1 },
    );
    await second?.terminate();
    await eventually(async () => (await metric(registry, 'warden_decision_log_writer_exit_total')) === 2);
    for (let n = 51; n <= 60; n++) log.enqueue(ev(n));
    await log.drain(10_000);
    const dropped = await metric(registry, 'warden_decision_log_dropped_total{reason="writer_exit"}');
    const written = await writtenIds(dir);
    assert.ok(written.includes('d51') && written.includes('d60'), 'later events are written');
    // The second thread may have written the batch before it ended: then nothing was dropped.
    assert.ok(dropped === 50 || written.includes('d1'), `the held batch is dropped (${dropped}) or was written`);
    await log.close();
  });
});

describe('decision-log lines', () => {
  it('are one JSON object per line: labels, the event without its undefined fields, and the enqueue time unless the event has one', () => {
    const format = lineFormatter({ id: 'i-1', version: '9.9.9', env: 'test' });
    const event = ev(4);
    const a = format(event, Date.UTC(2026, 10, 22, 12, 0, 0, 5));
    const b = format(event, Date.UTC(2026, 10, 22, 12, 0, 0, 6));
    assert.ok(a.endsWith('}\n') && !a.slice(0, -1).includes('\n'));
    assert.deepEqual(JSON.parse(a), {
      labels: { id: 'i-1', version: '9.9.9', env: 'test' },
      decision_id: 'd4',
      path: 'authz/allow',
      input: { user: { name: 'u4' }, action: 'read' },
      result: true,
      bundles: { authz: { revision: '7' } },
      timestamp: '2026-11-22T12:00:00.005Z',
    });
    assert.equal(
      (JSON.parse(b) as { timestamp: string }).timestamp,
      '2026-11-22T12:00:00.006Z',
      'a new millisecond, a new stamp',
    );
    const stamped = JSON.parse(format({ ...event, timestamp: '2020-01-01T00:00:00Z' }, 0)) as {
      timestamp: string;
      labels: unknown;
    };
    assert.equal(stamped.timestamp, '2020-01-01T00:00:00Z');
    assert.deepEqual(stamped.labels, { id: 'i-1', version: '9.9.9', env: 'test' });
    assert.throws(() => format({ ...event, input: { n: 1n } }, 0), TypeError);
  });
});
