/**
 * The directory source does not rebuild content refused for what it is (it
 * counts each look that finds it unchanged), but retries a transient failure
 * and rebuilds on a forced reload.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { WardenError } from '../../src/errors.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { DirectorySource } from '../../src/source/directory.js';
import type { SourceContext, UpdateOutcome } from '../../src/source/types.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { simplePolicy } from '../helpers/packs.js';

// A context recording the refusals reported to the activator.
function context(): SourceContext & { refusals: WardenError[] } {
  const refusals: WardenError[] = [];
  return {
    pack: 'simple',
    log: createLogger('silent'),
    metrics: new WardenMetrics({ defaultMetrics: false }),
    onConfirmed: () => undefined,
    onFetchError: () => undefined,
    onRefused: (e) => void refusals.push(e),
    refusals,
  };
}

async function skipped(ctx: SourceContext): Promise<number> {
  return (await ctx.metrics.refusedUnchanged.get()).values.find((v) => v.labels.source === 'directory')?.value ?? 0;
}

const never = (): Promise<UpdateOutcome> => Promise.reject(new Error('a refused build is not handed over'));

describe('directory source after a refusal', () => {
  it('does not rebuild Rego that does not compile until it changes; a forced look rebuilds it', async () => {
    const dir = await writeTree(tempDir(), simplePolicy({ 'simple.rego': 'package simple\n\nallow if {\n' }));
    const ctx = context();
    const source = new DirectorySource({ path: dir, debounceMs: 10, rescanSeconds: 60 }, ctx);
    const first = await source.fetchOnce(never);
    assert.equal(first?.status, 'refused');
    assert.deepEqual(await source.fetchOnce(never), first);
    assert.deepEqual(await source.fetchOnce(never), first);
    assert.equal(ctx.refusals.length, 1, 'built and reported once');
    assert.equal(await skipped(ctx), 2);
    await source.fetchOnce(never, { force: true });
    assert.equal(ctx.refusals.length, 2, 'the forced look built it again');
  });

  it('retries a transient build failure (no opa) on the next look', async () => {
    const dir = await writeTree(tempDir(), simplePolicy());
    const ctx = context();
    const source = new DirectorySource(
      { path: dir, debounceMs: 10, rescanSeconds: 60, opaPath: join(dir, 'no-such-opa') },
      ctx,
    );
    assert.equal((await source.fetchOnce(never))?.status, 'refused');
    assert.equal((await source.fetchOnce(never))?.status, 'refused');
    assert.deepEqual(
      ctx.refusals.map((e) => e.code),
      ['OPA_NOT_FOUND', 'OPA_NOT_FOUND'],
    );
    assert.equal(await skipped(ctx), 0);
  });
});
