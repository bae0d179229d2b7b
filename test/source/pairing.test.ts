import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { HttpSource } from '../../src/source/http.js';
import { pairLooksConsistent } from '../../src/source/pairing.js';
import type { PackUpdate } from '../../src/source/types.js';
import { p256, signedBundle } from '../helpers/packs.js';

const key = p256();

describe('pack and signature pairing', () => {
  it('tells a matching pair from a torn one, and stays out of the way of what it cannot read', async () => {
    const a = Buffer.from('pack A');
    const b = Buffer.from('pack B');
    const sigA = await signedBundle(a, key.privateKey);
    assert.equal(pairLooksConsistent(a, sigA), true);
    assert.equal(pairLooksConsistent(b, sigA), false);
    assert.equal(pairLooksConsistent(a, undefined), true);
    assert.equal(pairLooksConsistent(a, Buffer.from('not json')), true);
  });

  it('fetches the pair again when a publish lands between the pack and its signature', async () => {
    const oldPack = Buffer.from('old pack');
    const newPack = Buffer.from('new pack');
    const newSig = await signedBundle(newPack, key.privateKey);
    let packRequests = 0;
    // The first pack request sees the old pack; by the time the signature is asked for, both were replaced.
    const server = createServer((req, res) => {
      if (req.url?.endsWith('.sigstore.json')) {
        res.end(newSig);
        return;
      }
      packRequests += 1;
      res.end(packRequests === 1 ? oldPack : newPack);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/policy/packs/app`;
    const source = new HttpSource(
      { url, pollMinSeconds: 1, pollMaxSeconds: 1, longPollSeconds: 0, timeoutSeconds: 2, maxBytes: 1024 },
      {
        pack: 'app',
        log: createLogger('silent'),
        metrics: new WardenMetrics({ defaultMetrics: false }),
        onConfirmed: () => undefined,
        onFetchError: () => undefined,
      },
    );
    const updates: PackUpdate[] = [];
    try {
      await source.fetchOnce((u) => {
        updates.push(u);
        return Promise.resolve({ status: 'activated', digest: 'x' });
      });
    } finally {
      await source.stop();
      server.close();
    }
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0]?.pack, newPack);
    assert.deepEqual(updates[0]?.signature, newSig);
    assert.equal(packRequests, 2);
  });
});
