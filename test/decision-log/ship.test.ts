/**
 * Decision-log shipping against a real collector on 127.0.0.1 (a Node http
 * server that gunzips and parses what it is sent): OPA's upload format, the
 * cursor, failures and refusals, the backlog bound, retention, torn lines, and
 * no I/O on the request path.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { Decision } from '../../src/decide/decider.js';
import {
  DecisionLog,
  decisionEvent,
  type DecisionLogEvent,
  type DecisionLogOptions,
} from '../../src/decision-log/decision-log.js';
import { logFileName } from '../../src/decision-log/decision-log-files.js';
import { CURSOR_FILE } from '../../src/decision-log/ship-cursor.js';
import type { ShipperSettings } from '../../src/decision-log/shipper.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir } from '../helpers/fs.js';
import { spyIo } from '../helpers/io-spy.js';
import { LogCollector, duplicates } from '../helpers/log-collector.js';
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

const ids = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `d${from + i}`);

const logs: DecisionLog[] = [];
const collectors: LogCollector[] = [];
after(async () => {
  await Promise.all(logs.map((l) => l.close(1000)));
  await Promise.all(collectors.map((c) => c.down()));
});

async function collector(): Promise<LogCollector> {
  const c = await LogCollector.start();
  collectors.push(c);
  return c;
}

/** A decision log shipping to `url`, fast timers, on a fresh registry whose logger lines the test reads. */
function setup(
  url: string,
  service: Partial<ShipperSettings> = {},
  opts: Partial<DecisionLogOptions> = {},
): { log: DecisionLog; registry: Registry; logLines: string[]; dir: string } {
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      logLines.push(chunk.toString());
      done();
    },
  });
  const registry = new Registry();
  const dir = opts.dir ?? join(tempDir(), 'decisions');
  const log = new DecisionLog({
    flushIntervalMs: 20,
    ...opts,
    dir,
    registry,
    log: createLogger('trace', sink),
    labels: { id: 'instance-1', version: '0.9.0', ...opts.labels },
    service: { url, minDelayMs: 20, maxDelayMs: 40, backoffMaxMs: 100, timeoutMs: 10_000, ...service },
  });
  logs.push(log);
  return { log, registry, logLines, dir };
}

async function metric(registry: Registry, series: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

// Every line of the log files, oldest first, with its size on disk.
async function diskLines(dir: string): Promise<Array<{ id: string; bytes: number }>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.ndjson')).sort();
  const out: Array<{ id: string; bytes: number }> = [];
  for (const name of names)
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n').filter(Boolean))
      out.push({
        id: String((JSON.parse(line) as { decision_id: string }).decision_id),
        bytes: Buffer.byteLength(line) + 1,
      });
  return out;
}

// Waits until the writer has written n events (drain gives up after its timeout on a loaded machine).
async function written(dir: string, n: number): Promise<void> {
  await eventually(async () => (await diskLines(dir)).length === n, { what: `${n} events written` });
}

describe('decision-log shipping', () => {
  it("uploads OPA's way: POST <url>/logs, a gzipped JSON array of OPA-shaped events, bearer token and headers; then stores its cursor", async () => {
    const c = await collector();
    const tokenFile = join(tempDir(), 'token');
    await writeFile(tokenFile, 'tok-1\n');
    const { log, registry, dir } = setup(c.url, { tokenFile, headers: { 'X-Tenant': 't1' } });
    log.start();
    for (let n = 1; n <= 20; n++) log.enqueue(n === 3 ? { ...ev(n), requested_by: '10.0.0.7' } : ev(n));
    await eventually(() => c.acknowledgedIds().length === 20, {
      what: () => `20 acknowledged, got ${c.acknowledgedIds().length}`,
    });
    assert.deepEqual(c.acknowledgedIds(), ids(1, 20));
    const upload = c.uploads[0];
    assert.ok(upload);
    assert.equal(upload.method, 'POST');
    assert.equal(upload.url, '/v1/logs');
    assert.equal(upload.headers['content-type'], 'application/json');
    assert.equal(upload.headers['content-encoding'], 'gzip');
    assert.equal(upload.headers.authorization, 'Bearer tok-1');
    assert.equal(upload.headers['x-tenant'], 't1');
    assert.deepEqual(upload.events[0], {
      labels: { id: 'instance-1', version: '0.9.0' },
      decision_id: 'd1',
      path: 'authz/allow',
      input: { user: { name: 'u1' }, action: 'read' },
      result: false,
      bundles: { authz: { revision: '7' } },
      timestamp: upload.events[0]?.timestamp,
    });
    assert.match(String(upload.events[0]?.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(c.events.find((e) => e.decision_id === 'd3')?.requested_by, '10.0.0.7');
    await eventually(async () => (await metric(registry, 'warden_decision_log_shipped_total')) === 20);
    await eventually(async () => (await metric(registry, 'warden_decision_log_ship_backlog_bytes')) === 0);
    const cursor = JSON.parse(await readFile(join(dir, CURSOR_FILE), 'utf8')) as { file: string; offset: number };
    const [file] = (await readdir(dir)).filter((n) => n.endsWith('.ndjson'));
    assert.equal(cursor.file, file);
    assert.equal(cursor.offset, (await readFile(join(dir, cursor.file))).length, 'acknowledged up to the end');
  });

  it('loses nothing when the collector dies mid-stream and comes back: every event arrives, repeats at most one batch', async () => {
    const c = await collector();
    const { log, registry, logLines } = setup(c.url, { batchMaxBytes: 1024 });
    log.start();
    for (let n = 1; n <= 100; n++) log.enqueue(ev(n));
    await eventually(() => c.acknowledgedIds().length >= 30);
    await c.down();
    for (let n = 101; n <= 300; n++) log.enqueue(ev(n));
    await log.drain(5000);
    await eventually(
      async () =>
        (await metric(registry, 'warden_decision_log_ship_failure_total{code="DECISION_LOG_SHIP_FAILED"}')) >= 2,
    );
    assert.equal(
      logLines.filter((l) => l.includes('"code":"DECISION_LOG_SHIP_FAILED"') && l.includes('retrying')).length,
      1,
      'logged once per episode',
    );
    await c.up();
    await eventually(() => new Set(c.acknowledgedIds()).size === 300, {
      what: () => `300 distinct acknowledged, got ${new Set(c.acknowledgedIds()).size}`,
    });
    assert.deepEqual([...new Set(c.acknowledgedIds())].sort(), ids(1, 300).sort());
    const repeated = [...duplicates(c.acknowledgedIds()).keys()];
    const biggest = Math.max(...c.uploads.map((u) => u.events.length));
    assert.ok(repeated.length <= biggest, `at most one batch repeated (${repeated.length} ≤ ${biggest})`);
    assert.ok(
      Math.max(...c.uploads.map((u) => Number(u.headers['content-length']))) <= 1024,
      'batches within batch_max_bytes',
    );
    await eventually(
      async () => (await metric(registry, 'warden_decision_log_shipped_total')) === c.acknowledgedIds().length,
    );
    assert.ok(logLines.some((l) => l.includes('decision-log shipping recovered')));
  });

  it('retries 5xx, 408 and 429; counts a 400 as a refusal and skips that batch only', async () => {
    const c = await collector();
    c.answer = (n) => [503, 429, 408, 400][n] ?? 200;
    const { log, registry, logLines, dir } = setup(c.url, { batchMaxEvents: 10 });
    for (let n = 1; n <= 40; n++) log.enqueue(ev(n));
    await log.drain(5000);
    await written(dir, 40);
    log.start();
    await eventually(() => c.acknowledgedIds().length === 30, {
      what: () => `30 acknowledged, got ${c.acknowledgedIds().length}`,
    });
    const [first, , , refused] = c.uploads.map((u) => u.events.map((e) => String(e.decision_id)));
    assert.deepEqual(first, ids(1, 10));
    assert.deepEqual(refused, first, 'the retried batch is the same batch');
    assert.deepEqual(c.acknowledgedIds(), ids(11, 40), 'the refused batch is skipped, the rest shipped in order');
    assert.equal(await metric(registry, 'warden_decision_log_ship_failure_total{code="DECISION_LOG_SHIP_FAILED"}'), 3);
    assert.equal(await metric(registry, 'warden_decision_log_ship_failure_total{code="DECISION_LOG_SHIP_REFUSED"}'), 1);
    const refusedBytes = (await diskLines(dir)).slice(0, 10).reduce((s, l) => s + l.bytes, 0);
    assert.equal(
      await metric(registry, 'warden_decision_log_ship_dropped_bytes_total{reason="refused"}'),
      refusedBytes,
    );
    assert.ok(logLines.some((l) => l.includes('"code":"DECISION_LOG_SHIP_REFUSED"') && l.includes('"status":400')));
    assert.deepEqual(
      (await diskLines(dir)).map((l) => l.id),
      ids(1, 40),
      'the local files keep every event',
    );
  });

  it('keeps the backlog within queue_max_bytes by giving up the oldest, counted in bytes; ships the rest once the collector is back', async () => {
    const c = await collector();
    await c.down();
    const { log, registry, logLines, dir } = setup(
      c.url,
      { queueMaxBytes: 4096 },
      { maxFileBytes: 8192, batchSize: 10 },
    );
    log.start();
    for (let n = 1; n <= 150; n++) log.enqueue(ev(n));
    await log.drain(5000);
    await written(dir, 150);
    assert.ok((await readdir(dir)).filter((n) => n.endsWith('.ndjson')).length >= 3, 'several files');
    const total = (await diskLines(dir)).reduce((sum, l) => sum + l.bytes, 0);
    // A look that saw every line: what it kept plus what it gave up is all of it.
    await eventually(async () => {
      const backlog = await metric(registry, 'warden_decision_log_ship_backlog_bytes');
      const dropped = await metric(registry, 'warden_decision_log_ship_dropped_bytes_total{reason="backlog"}');
      return backlog > 0 && backlog <= 4096 && dropped > 0 && backlog + dropped === total;
    });
    assert.ok(
      logLines.some((l) => l.includes('"code":"DECISION_LOG_SHIP_DROPPED"') && l.includes('"reason":"backlog"')),
    );
    await c.up();
    const lines = await diskLines(dir);
    await eventually(() => c.acknowledgedIds().at(-1) === 'd150');
    // Distinct, in order of arrival: a batch whose answer came late on a loaded machine may be sent again.
    const shipped = [...new Set(c.acknowledgedIds())];
    const k = Number(shipped[0]?.slice(1));
    assert.ok(k > 1, 'the oldest were given up');
    assert.deepEqual(
      shipped,
      ids(k, 150),
      `the newest are shipped, in order, none missing: ${c.uploads.map((u) => `${u.status}:${String(u.events[0]?.decision_id)}-${String(u.events.at(-1)?.decision_id)}`).join(' ')}`,
    );
    const droppedBytes = lines.slice(0, k - 1).reduce((s, l) => s + l.bytes, 0);
    assert.equal(
      await metric(registry, 'warden_decision_log_ship_dropped_bytes_total{reason="backlog"}'),
      droppedBytes,
    );
    assert.ok(shipped.length * 150 <= 4096 + 400, 'about queue_max_bytes were kept');
    assert.equal(lines.length, 150, 'no file was deleted: the local files keep everything');
  });

  it("counts a file the writer's retention deleted before it was shipped as dropped, and ships what is left", async () => {
    const c = await collector();
    await c.down();
    const { log, registry, logLines, dir } = setup(c.url, {}, { maxFileBytes: 2048, maxFiles: 2, batchSize: 5 });
    log.start();
    for (let n = 1; n <= 5; n++) log.enqueue(ev(n));
    await log.drain(5000);
    await written(dir, 5);
    // The shipper has looked (its cursor is on the first file) once it has failed an upload.
    await eventually(
      async () =>
        (await metric(registry, 'warden_decision_log_ship_failure_total{code="DECISION_LOG_SHIP_FAILED"}')) >= 1,
    );
    for (let n = 6; n <= 100; n++) log.enqueue(ev(n));
    await log.drain(5000);
    await eventually(
      async () => (await metric(registry, 'warden_decision_log_ship_dropped_bytes_total{reason="retention"}')) > 0,
    );
    assert.ok(
      logLines.some((l) => l.includes('"code":"DECISION_LOG_SHIP_DROPPED"') && l.includes('"reason":"retention"')),
    );
    const left = (await diskLines(dir)).map((l) => l.id);
    assert.ok(!left.includes('d1'), 'retention deleted the oldest file');
    await c.up();
    await eventually(() => c.acknowledgedIds().at(-1) === 'd100');
    const shipped = new Set(c.acknowledgedIds());
    assert.deepEqual(
      left.filter((id) => !shipped.has(id)),
      [],
      'every event still on disk is shipped',
    );
  });

  it('skips a line torn by a crash at the end of an older file, counted; ships the lines around it', async () => {
    const c = await collector();
    const dir = join(tempDir(), 'decisions');
    await mkdir(dir);
    const line = (n: number): string =>
      `${JSON.stringify({ labels: { id: 'x', version: '1' }, ...ev(n), timestamp: '2026-01-01T00:00:00Z' })}\n`;
    const torn = line(3).slice(0, 40);
    await writeFile(join(dir, logFileName(Date.UTC(2026, 0, 1))), line(1) + line(2) + torn);
    await writeFile(join(dir, logFileName(Date.UTC(2026, 0, 2))), `${line(4)}\u0000\u0000\u0000\n${line(5)}`);
    const { log, registry } = setup(c.url, {}, { dir });
    log.start();
    await eventually(() => c.acknowledgedIds().length === 4);
    assert.deepEqual(c.acknowledgedIds(), ['d1', 'd2', 'd4', 'd5']);
    assert.equal(
      await metric(registry, 'warden_decision_log_ship_dropped_bytes_total{reason="torn"}'),
      torn.length + 4,
    );
  });

  it('resumes from its cursor after a restart: nothing sent twice after a clean stop', async () => {
    const c = await collector();
    const dir = join(tempDir(), 'decisions');
    const first = setup(c.url, {}, { dir });
    first.log.start();
    for (let n = 1; n <= 30; n++) first.log.enqueue(ev(n));
    await eventually(() => c.acknowledgedIds().length === 30);
    await first.log.close();
    const second = setup(c.url, {}, { dir });
    second.log.start();
    for (let n = 31; n <= 40; n++) second.log.enqueue(ev(n));
    await eventually(() => c.acknowledgedIds().length >= 40);
    assert.deepEqual(c.acknowledgedIds(), ids(1, 40));
  });

  it('costs the request path no I/O: a burst of enqueues with shipping on touches neither fs nor net', async () => {
    const c = await collector();
    const { log } = setup(c.url, { minDelayMs: 1, maxDelayMs: 1 });
    log.start();
    const events = Array.from({ length: 5000 }, (_, i) => ev(i + 1));
    const spy = await spyIo();
    let during: Record<string, number>;
    try {
      for (const e of events) log.enqueue(e);
      during = { ...spy.calls };
    } finally {
      spy.restore();
    }
    assert.deepEqual(during, {}, 'no fs or net call during the burst');
    await eventually(() => c.acknowledgedIds().length === 5000, { timeoutMs: 20_000 });
  });
});
