import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PackIndex } from '../../src/pack-server/pack-index.js';
import { sha256Digest } from '../../src/verify/digest.js';
import { tempDir } from '../helpers/fs.js';
import { etagOf, pack, publish } from '../helpers/pack-server.js';
import { eventually } from '../helpers/wait.js';

describe('pack folder index', () => {
  it('notices a replace by its periodic rescan alone, when watch events are missed', async () => {
    const dir = tempDir('warden-index-');
    await publish(dir, 'a.tar.gz', pack(8));
    const index = await PackIndex.open({ dir, watch: false, rescanMs: 100 });
    try {
      assert.equal(index.get('a.tar.gz')?.etag, etagOf(pack(8)));
      await publish(dir, 'a.tar.gz', pack(9));
      await eventually(() => index.get('a.tar.gz')?.etag === etagOf(pack(9)), { timeoutMs: 1000 });
      await rm(join(dir, 'a.tar.gz'));
      await eventually(() => index.get('a.tar.gz') === undefined, { timeoutMs: 1000 });
    } finally {
      await index.close();
    }
  });

  it('reports content changes only, not a touch or a rewrite with the same bytes', async () => {
    const dir = tempDir('warden-index-');
    await publish(dir, 'b.tar.gz', pack(10));
    const index = await PackIndex.open({ dir, watch: false, rescanMs: 60_000 });
    const changes: string[] = [];
    index.onChange((name, file) => changes.push(`${name} ${file?.digest ?? 'gone'}`));
    try {
      const held = index.get('b.tar.gz');
      utimesSync(join(dir, 'b.tar.gz'), new Date(), new Date(Date.now() + 5000));
      await publish(dir, 'b.tar.gz', pack(10));
      await index.rescan();
      assert.deepEqual(changes, []);
      assert.equal(index.get('b.tar.gz')?.etag, held?.etag);
      await publish(dir, 'b.tar.gz', pack(11));
      await index.rescan();
      assert.deepEqual(changes, [`b.tar.gz ${sha256Digest(pack(11))}`]);
    } finally {
      await index.close();
    }
  });
});
