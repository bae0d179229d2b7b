/**
 * Policy integrity (docs/design.md#governance): when the policy's SHA-256 cannot be computed, the policy
 * is treated as corrupt: POLICY_INTEGRITY_CHECK_FAILED, refused, and the
 * last-known-good keeps answering (at start, nothing becomes active, which the
 * agent turns into BOOT_NO_VALID_PACK and a non-zero exit).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Activator } from '../../src/activate/activator.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { signPack } from '../../src/sign/sign.js';
import { PackStore } from '../../src/store/store.js';
import { sha256Digest } from '../../src/verify/digest.js';
import { keyTrust } from '../../src/verify/trust.js';
import { tempDir } from '../helpers/fs.js';
import { p256 } from '../helpers/packs.js';
import { variant } from '../helpers/variants.js';

const key = p256();

describe('policy integrity', () => {
  const stores: PackStore[] = [];
  after(() => Promise.all(stores.map((s) => s.close())));

  // An activator whose digest function fails while `failing.now` is true.
  async function activator(failing: { now: boolean }): Promise<Activator> {
    const store = await PackStore.open(join(tempDir(), 'data'), { historyLimit: 5 });
    stores.push(store);
    return new Activator({
      name: 'app',
      sourceKind: 'file',
      origin: 'test',
      trust: keyTrust({ publicKeys: [{ pem: key.publicPem }] }),
      store,
      limits: {},
      metrics: new WardenMetrics({ defaultMetrics: false }),
      log: createLogger('silent'),
      digest: (pack) => {
        if (failing.now) throw new Error('EIO: i/o error reading the pack buffer');
        return sha256Digest(pack);
      },
    });
  }

  // A signed update of version n.
  async function update(
    n: number,
  ): Promise<{ pack: Buffer; signature: Buffer; etag: undefined; origin: string; correlationId: string }> {
    const pack = await variant(n);
    return {
      pack,
      signature: Buffer.from(JSON.stringify(await signPack(pack, key.privateKey))),
      etag: undefined,
      origin: 'test',
      correlationId: `c${n}`,
    };
  }

  it('refuses an update whose SHA-256 cannot be computed; the last-known-good stays active', async () => {
    const failing = { now: false };
    const a = await activator(failing);
    assert.equal((await a.submit(await update(1))).status, 'activated');
    const good = a.current?.digest;
    failing.now = true;
    const outcome = await a.submit(await update(2));
    assert.equal(outcome.status, 'refused');
    assert.equal(outcome.status === 'refused' ? outcome.error.code : undefined, 'POLICY_INTEGRITY_CHECK_FAILED');
    assert.equal(a.current?.digest, good);
    assert.equal(a.status(new Date()).last_reload?.error?.code, 'POLICY_INTEGRITY_CHECK_FAILED');
  });

  it('activates nothing when the first policy cannot be hashed (the agent then refuses to start)', async () => {
    const a = await activator({ now: true });
    const outcome = await a.submit(await update(1));
    assert.equal(outcome.status, 'refused');
    assert.equal(a.current, undefined);
  });
});
