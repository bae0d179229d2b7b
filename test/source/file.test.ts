import assert from 'node:assert/strict';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WardenError, type ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { FileSource } from '../../src/source/file.js';
import type { PackUpdate, SourceContext, UpdateOutcome } from '../../src/source/types.js';
import { sha256Digest } from '../../src/verify/digest.js';
import { tempDir } from '../helpers/fs.js';
import { eventually } from '../helpers/wait.js';

// A source context that records confirmations and errors.
function context(): SourceContext & { confirmed: number; errors: WardenError[] } {
  const ctx = {
    pack: 'app',
    log: createLogger('silent'),
    metrics: new WardenMetrics({ defaultMetrics: false }),
    confirmed: 0,
    errors: [] as WardenError[],
    onConfirmed: () => void (ctx.confirmed += 1),
    onFetchError: (e: WardenError) => void ctx.errors.push(e),
  };
  return ctx;
}

// A handler that records updates and answers with the given outcome.
function recorder(
  status: 'activated' | 'refused' = 'activated',
  code: ErrorCode = 'SIGNATURE_INVALID',
): { updates: PackUpdate[]; handler: (u: PackUpdate) => Promise<UpdateOutcome> } {
  const updates: PackUpdate[] = [];
  return {
    updates,
    handler: (u) => {
      updates.push(u);
      return Promise.resolve(
        status === 'activated'
          ? { status, digest: sha256Digest(u.pack) }
          : { status, error: new WardenError(code, 'no') },
      );
    },
  };
}

// policy_refused_unchanged_total of the file source.
async function skipped(ctx: SourceContext): Promise<number> {
  return (await ctx.metrics.refusedUnchanged.get()).values.find((v) => v.labels.source === 'file')?.value ?? 0;
}

// Replaces a file atomically, as a publisher should.
async function replace(path: string, content: string): Promise<void> {
  await writeFile(`${path}.tmp`, content);
  await rename(`${path}.tmp`, path);
}

describe('file source', () => {
  it('hands over the pack with its signature and a quoted-digest tag, then stays quiet while nothing changes', async () => {
    const dir = tempDir();
    const path = join(dir, 'app.tar.gz');
    await writeFile(path, 'pack v1');
    await writeFile(`${path}.sigstore.json`, '{"sig":1}');
    const ctx = context();
    const source = new FileSource({ path, pollSeconds: 0.05, maxBytes: 1024 }, ctx);
    const { updates, handler } = recorder();
    await source.fetchOnce(handler);
    assert.equal(updates.length, 1);
    assert.equal(updates[0]?.pack.toString(), 'pack v1');
    assert.equal(updates[0]?.signature?.toString(), '{"sig":1}');
    assert.equal(updates[0]?.etag, `"${sha256Digest(Buffer.from('pack v1'))}"`);
    assert.equal(await source.fetchOnce(handler), undefined, 'unchanged content is not handed over again');
    assert.equal(updates.length, 1);
    assert.equal(ctx.confirmed, 2);
  });

  it('notices a replaced pack while running', async () => {
    const dir = tempDir();
    const path = join(dir, 'app.tar.gz');
    await writeFile(path, 'pack v1');
    const source = new FileSource({ path, pollSeconds: 0.05, maxBytes: 1024 }, context());
    const { updates, handler } = recorder();
    source.start(handler);
    try {
      await replace(path, 'pack v2');
      await eventually(() => updates.some((u) => u.pack.toString() === 'pack v2'), {
        timeoutMs: 5000,
        everyMs: 20,
        what: 'v2 handed over',
      });
      assert.ok(
        updates.some((u) => u.pack.toString() === 'pack v2'),
        'v2 was handed over',
      );
      assert.equal(updates.at(-1)?.signature, undefined, 'no signature file → undefined (the verify stage refuses it)');
    } finally {
      await source.stop();
    }
  });

  it('does not hand a pack refused for its content over again while pack and signature are unchanged, even rewritten; a new signature is', async () => {
    const dir = tempDir();
    const path = join(dir, 'app.tar.gz');
    await writeFile(path, 'bad pack');
    await writeFile(`${path}.sigstore.json`, 'bad sig');
    const ctx = context();
    const source = new FileSource({ path, pollSeconds: 0.05, maxBytes: 1024 }, ctx);
    const refused = recorder('refused');
    const first = await source.fetchOnce(refused.handler);
    assert.equal(first?.status, 'refused');
    assert.deepEqual(await source.fetchOnce(refused.handler), first, 'the remembered refusal, said again');
    assert.equal(refused.updates.length, 1);
    const good = recorder();
    source.start(good.handler);
    try {
      // The same bytes written again (a deploy tool re-copying): the stat key moves, the content does not.
      await replace(path, 'bad pack');
      await eventually(async () => (await skipped(ctx)) >= 2);
      assert.equal(good.updates.length, 0);
      assert.equal(ctx.confirmed, 0);
      await replace(`${path}.sigstore.json`, 'fixed sig');
      await eventually(() => Promise.resolve(good.updates.length === 1));
      assert.equal(good.updates[0]?.signature?.toString(), 'fixed sig');
    } finally {
      await source.stop();
    }
  });

  it('hands a pack refused for a transient reason over again, and a refused one on a forced fetch', async () => {
    const dir = tempDir();
    const path = join(dir, 'app.tar.gz');
    await writeFile(path, 'pack');
    const transient = recorder('refused', 'IO_FAILED');
    const source = new FileSource({ path, pollSeconds: 0.05, maxBytes: 1024 }, context());
    await source.fetchOnce(transient.handler);
    await source.fetchOnce(transient.handler);
    assert.equal(transient.updates.length, 2);
    const refused = recorder('refused');
    await source.fetchOnce(refused.handler);
    await source.fetchOnce(refused.handler);
    await source.fetchOnce(refused.handler, { force: true });
    assert.equal(refused.updates.length, 2);
  });

  it('reports a missing file as FETCH_FAILED and an oversized one as FETCH_TOO_LARGE', async () => {
    const dir = tempDir();
    const path = join(dir, 'app.tar.gz');
    const ctx = context();
    const source = new FileSource({ path, pollSeconds: 1, maxBytes: 8, maxBytesKey: 'limits.max_pack_bytes' }, ctx);
    const { handler } = recorder();
    await assert.rejects(
      source.fetchOnce(handler),
      (e: unknown) => e instanceof WardenError && e.code === 'FETCH_FAILED',
    );
    await writeFile(path, 'more than eight bytes');
    await assert.rejects(
      source.fetchOnce(handler),
      (e: unknown) =>
        e instanceof WardenError &&
        e.code === 'FETCH_TOO_LARGE' &&
        e.message.endsWith('app.tar.gz is 21 bytes, over the limit (limits.max_pack_bytes: 8)') &&
        e.details.key === 'limits.max_pack_bytes',
    );
    assert.deepEqual(
      ctx.errors.map((e) => e.code),
      ['FETCH_FAILED', 'FETCH_TOO_LARGE'],
    );
    await rm(path);
  });
});
