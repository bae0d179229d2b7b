import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { WardenError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { rememberRefusal } from '../../src/source/refused.js';
import {
  remoteFetch,
  settlePair,
  type Found,
  type RemoteFetchSpec,
  type RemoteMemory,
  type SignedPair,
} from '../../src/source/remote-fetch.js';
import type { PackUpdate, SourceContext, UpdateOutcome } from '../../src/source/types.js';

// A source context whose log lines, confirmations and reported errors are kept.
function context() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write: (chunk: Buffer, _e, cb) => {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      cb();
    },
  });
  const errors: WardenError[] = [];
  const counts = { confirmed: 0 };
  const metrics = new WardenMetrics({ defaultMetrics: false });
  const ctx: SourceContext = {
    pack: 'app',
    log: createLogger('debug', sink),
    metrics,
    onConfirmed: () => void counts.confirmed++,
    onFetchError: (e) => void errors.push(e),
  };
  return { ctx, lines, errors, counts, metrics };
}

async function sample(metrics: WardenMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const values = (m?.values ?? []) as Array<{ value: number; labels: Record<string, unknown> }>;
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((a, v) => a + v.value, 0);
}

// The count and sum of policy_fetch_duration_seconds (labels as a subset).
async function durations(
  metrics: WardenMetrics,
  labels: Record<string, string>,
): Promise<{ count: number; sum: number }> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === 'policy_fetch_duration_seconds');
  const values = (m?.values ?? []) as Array<{ value: number; labels: Record<string, unknown>; metricName?: string }>;
  const of = (suffix: string): number =>
    values
      .filter((v) => v.metricName === `policy_fetch_duration_seconds_${suffix}`)
      .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
      .reduce((a, v) => a + v.value, 0);
  return { count: of('count'), sum: of('sum') };
}

const pairOf = (pack: string, etag: string): SignedPair => ({
  pack: Buffer.from(pack),
  signature: Buffer.from(`{"sig":"${pack}"}`),
  etag,
  signatureEtag: `${etag}-sig`,
});

// A spec around a scripted download; the clock advances 250 ms per reading.
function spec(download: (signal: AbortSignal, log: Logger) => Promise<Found<SignedPair>>): RemoteFetchSpec<SignedPair> {
  let t = 0;
  return {
    source: 's3',
    origin: 's3://bucket/app.tar.gz',
    now: () => (t += 250),
    download,
    unchanged: { message: 'policy pack unchanged', tagField: 'etag' },
    fetchedFields: (pair) => ({ url: 's3://bucket/app.tar.gz', etag: pair.etag }),
  };
}

const handlerAnswering = (outcome: UpdateOutcome) => {
  const updates: PackUpdate[] = [];
  return { updates, handler: (u: PackUpdate) => (updates.push(u), Promise.resolve(outcome)) };
};

const live = (): AbortSignal => new AbortController().signal;

// One fetch whose download finds `found`, answered by the handler with `outcome`.
function fetchFinding(found: Found<SignedPair>, ctx: SourceContext, memory: RemoteMemory, outcome: UpdateOutcome) {
  const { updates, handler } = handlerAnswering(outcome);
  const run = remoteFetch(
    spec(() => Promise.resolve(found)),
    ctx,
    memory,
    { handler, signal: live(), force: false },
  );
  return { run, updates };
}
const malformed = new WardenError('PACK_MALFORMED', 'not a pack');

describe('remoteFetch', () => {
  it('hands a new pair to the handler, then takes its tag as the active one and confirms it', async () => {
    const { ctx, lines, counts, metrics } = context();
    const memory: RemoteMemory = { active: '"a"', refused: undefined };
    const activated: UpdateOutcome = { status: 'activated', digest: 'sha256:x' };
    const { run, updates } = fetchFinding({ kind: 'pair', pair: pairOf('v2', '"b"') }, ctx, memory, activated);
    const fetched = await run;
    assert.deepEqual(fetched, {
      outcome: { status: 'activated', digest: 'sha256:x' },
      notModified: false,
      elapsedMs: 250,
    });
    assert.equal(updates.length, 1);
    assert.equal(updates[0]?.origin, 's3://bucket/app.tar.gz');
    assert.equal(updates[0]?.etag, '"b"');
    assert.equal(memory.active, '"b"');
    assert.equal(counts.confirmed, 1);
    const line = lines.find((l) => l.msg === 'policy pack fetched');
    assert.equal(line?.url, 's3://bucket/app.tar.gz');
    assert.equal(line?.bytes, 2);
    assert.equal(line?.correlation_id, updates[0]?.correlationId);
    assert.deepEqual(await durations(metrics, { result: 'changed', source: 's3' }), { count: 1, sum: 0.25 });
  });

  it('remembers a pair refused for its bytes, keeps the active tag and confirms nothing', async () => {
    const { ctx, counts } = context();
    const memory: RemoteMemory = { active: '"a"', refused: undefined };
    const refusal: UpdateOutcome = { status: 'refused', error: malformed };
    const fetched = await fetchFinding({ kind: 'pair', pair: pairOf('bad', '"r"') }, ctx, memory, refusal).run;
    assert.equal(fetched.outcome?.status, 'refused');
    assert.equal(memory.active, '"a"');
    assert.equal(memory.refused?.etag, '"r"');
    assert.equal(counts.confirmed, 0);
  });

  it('confirms the active pack and forgets the refused one when the active pack is still served', async () => {
    const { ctx, lines, counts } = context();
    const bad = pairOf('bad', '"r"');
    const memory: RemoteMemory = {
      active: '"a"',
      refused: rememberRefusal({ status: 'refused', error: malformed }, bad),
    };
    const fetched = await remoteFetch(
      spec(() => Promise.resolve({ kind: 'current' })),
      ctx,
      memory,
      {
        handler: () => assert.fail('nothing to hand over'),
        signal: live(),
        force: false,
      },
    );
    assert.deepEqual(fetched, { outcome: undefined, notModified: true, elapsedMs: 250 });
    assert.equal(memory.refused, undefined);
    assert.equal(counts.confirmed, 1);
    const line = lines.find((l) => l.msg === 'policy pack unchanged');
    assert.equal(line?.etag, '"a"');
    assert.equal(line?.source, 's3');
  });

  it('skips the refused pair still served: counted, its refusal reported, nothing confirmed', async () => {
    const { ctx, lines, counts, metrics } = context();
    const refused = rememberRefusal({ status: 'refused', error: malformed }, pairOf('bad', '"r"'));
    assert.ok(refused !== undefined);
    const memory: RemoteMemory = { active: '"a"', refused };
    const run = { handler: () => assert.fail('nothing to hand over'), signal: live(), force: false };
    const withHow = await remoteFetch(
      spec(() => Promise.resolve({ kind: 'refused', refused, how: 'not_modified' })),
      ctx,
      memory,
      run,
    );
    const without = await remoteFetch(
      spec(() => Promise.resolve({ kind: 'refused', refused })),
      ctx,
      memory,
      run,
    );
    assert.deepEqual(withHow.outcome, { status: 'refused', error: malformed });
    assert.equal(without.notModified, true);
    assert.equal(counts.confirmed, 0);
    assert.equal(await sample(metrics, 'policy_refused_unchanged_total', { pack: 'app', source: 's3' }), 2);
    const skipped = lines.filter((l) => l.msg === 'refused policy pack still served; skipped');
    assert.deepEqual(
      skipped.map((l) => [l.code, l.etag, l.how]),
      [
        ['PACK_MALFORMED', '"r"', 'not_modified'],
        ['PACK_MALFORMED', '"r"', undefined],
      ],
    );
  });

  it('reports a failed download once (log, metric, onFetchError) and rethrows it coded; not when stopped', async () => {
    const { ctx, lines, errors, metrics } = context();
    const memory: RemoteMemory = { active: undefined, refused: undefined };
    const fail = spec(() => Promise.reject(new Error('socket hang up')));
    const run = { handler: () => assert.fail('nothing to hand over'), signal: live(), force: false };
    await assert.rejects(remoteFetch(fail, ctx, memory, run), (e: unknown) => {
      assert.ok(e instanceof WardenError);
      assert.equal(e.code, 'FETCH_FAILED');
      return true;
    });
    assert.deepEqual(
      errors.map((e) => e.code),
      ['FETCH_FAILED'],
    );
    assert.equal(await sample(metrics, 'policy_fetch_failure_total', { source: 's3', code: 'FETCH_FAILED' }), 1);
    assert.equal(lines.filter((l) => l.msg === 'policy fetch failed').length, 1);

    const stopping = new AbortController();
    stopping.abort();
    await assert.rejects(remoteFetch(fail, ctx, memory, { ...run, signal: stopping.signal }));
    assert.equal(errors.length, 1, 'a fetch ended by stop() is not a failure to report');
  });

  it('forgets the refused pair before the download when forced', async () => {
    const { ctx } = context();
    const refused = rememberRefusal({ status: 'refused', error: malformed }, pairOf('bad', '"r"'));
    const memory: RemoteMemory = { active: '"a"', refused };
    let seen: unknown = 'not called';
    const { handler } = handlerAnswering({ status: 'activated', digest: 'sha256:y' });
    await remoteFetch(
      spec(() => {
        seen = memory.refused;
        return Promise.resolve({ kind: 'pair', pair: pairOf('bad', '"r"') });
      }),
      ctx,
      memory,
      { handler, signal: live(), force: true },
    );
    assert.equal(seen, undefined);
    assert.equal(memory.active, '"r"');
  });
});

describe('settlePair', () => {
  const log = createLogger('silent');
  // A signature naming the SHA-256 of `signed` (what pairing.ts reads).
  const signatureOver = (signed: string): Buffer =>
    Buffer.from(
      JSON.stringify({
        messageSignature: { messageDigest: { digest: createHash('sha256').update(signed).digest('base64') } },
      }),
    );

  it('fetches a torn pair (the signature names another pack) once more', async () => {
    const memory: RemoteMemory = { active: undefined, refused: undefined };
    const torn: SignedPair = {
      pack: Buffer.from('v1'),
      signature: signatureOver('v2'),
      etag: '"1"',
      signatureEtag: '"s2"',
    };
    const whole: SignedPair = {
      pack: Buffer.from('v2'),
      signature: signatureOver('v2'),
      etag: '"2"',
      signatureEtag: '"s2"',
    };
    let refetches = 0;
    const found = await settlePair(memory, undefined, torn, () => (refetches++, Promise.resolve(whole)), log, 'u');
    assert.deepEqual(found, { kind: 'pair', pair: whole });
    assert.equal(refetches, 1);
    const fine = await settlePair(memory, undefined, whole, () => assert.fail('no refetch'), log, 'u');
    assert.equal(fine.kind, 'pair');
  });

  it('skips the refused bytes sent again in full and remembers their new ETags', async () => {
    const bad = pairOf('bad', '"r"');
    const refused = rememberRefusal({ status: 'refused', error: malformed }, { ...bad, etag: undefined });
    const memory: RemoteMemory = { active: '"a"', refused };
    const found = await settlePair(memory, refused, bad, () => assert.fail('no refetch'), log, 'u');
    assert.deepEqual(found, { kind: 'refused', refused, how: 'same_digest' });
    assert.equal(memory.refused?.etag, '"r"');
    assert.equal(memory.refused?.signatureEtag, '"r"-sig');
    assert.equal(memory.refused?.error, malformed);
  });
});
