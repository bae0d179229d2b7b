/**
 * A serving process that stops answering (here: stopped with SIGSTOP, a real hang) does not
 * hold up an activation: after the prepare timeout it is killed and replaced, and the
 * replacement answers with the pack the primary made active.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { localEngines } from '../../src/activate/prepare.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { MANIFEST_PATH, parseManifest } from '../../src/pack/manifest.js';
import { readPack } from '../../src/pack/reader.js';
import { ServingProcesses } from '../../src/serve/processes.js';
import { tempDir } from '../helpers/fs.js';
import { variant } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

// A port free now: the replacement of the only process listens on the same one (port 0 would give it another).
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a hung serving process', async () => {
  const config = parseConfig(
    `listen: 127.0.0.1:${await freePort()}\npacks:\n  - name: app\n    source: { directory: { path: rego } }\n    verify: { unsigned: true }\n`,
    join(tempDir(), 'agent.yaml'),
  );
  const processes = new ServingProcesses({
    size: 1,
    config,
    packs: ['app'],
    limits: {},
    metrics: new WardenMetrics({ defaultMetrics: false }),
    log: createLogger('silent'),
    prepareTimeoutMs: 3000,
    entry: new URL('../../src/agent/serving-process', import.meta.url),
  });

  after(() => processes.close());

  it('is killed after the prepare timeout and replaced with the active pack; the pack is not refused', async () => {
    // No primary behind it: only the data API is asked here.
    const port = await processes.start({ host: '127.0.0.1', port: 9 }, undefined);
    const [hung] = processes.pids();
    assert.ok(hung !== undefined);
    process.kill(hung, 'SIGSTOP');
    const pack = await variant(7);
    const files = await readPack(pack);
    const loaded = await processes.loaderFor('app', localEngines)(pack, files, parseManifest(files.get(MANIFEST_PATH)));
    assert.equal(loaded.engine.kind, 'local', 'the primary’s own engine is returned: the pack is not refused');
    processes.activated({
      name: 'app',
      digest: 'sha256:test',
      number: 1,
      revision: 'v7',
      sequence: 7,
      entrypoints: loaded.engine.entrypoints,
      roots: [''],
      engine: loaded.engine,
      signer: undefined,
      origin: 'test',
      activatedAt: new Date(),
    });
    await eventually(() => processes.state().ready === 1 && processes.pids()[0] !== hung, {
      what: 'a replacement process ready',
      // A new process boots, then loads the pack: slow under tsx on a busy machine.
      timeoutMs: 30_000,
    });
    const res = await fetch(`http://127.0.0.1:${port}/v1/data/app/version`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { result: number }).result, 7);
    assert.equal(res.headers.get('x-warden-revision'), 'v7');
  });
});
