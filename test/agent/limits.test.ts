/**
 * The agent's `limits:` reach every reader of its packs, and a pack over them is refused
 * naming the configuration key that raises the limit.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPackRuntimes, directorySourceConfigFrom, httpSourceConfigFrom } from '../../src/agent/wiring.js';
import { parseConfig, type AgentConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { WardenMetrics } from '../../src/observe/metrics.js';
import { AGENT_LIMIT_KEYS } from '../../src/pack/limits.js';
import { MemoryStore } from '../activate/memory-store.js';
import { tempDir } from '../helpers/fs.js';
import { buildFrom, p256, signedBundle, simplePolicy } from '../helpers/packs.js';

describe('agent limits', () => {
  it('refuses a pack whose data.json is over limits.max_file_bytes, naming the key, the limit and the size', async () => {
    const dir = tempDir();
    const key = p256();
    await writeFile(join(dir, 'k.pub'), key.publicPem);
    const config = parseConfig(
      [
        'limits: { max_file_bytes: 4096 }',
        'packs:',
        '  - { name: simple, source: { file: { path: simple.tar.gz } }, verify: { public_keys: [k.pub] } }',
      ].join('\n'),
      join(dir, 'agent.yaml'),
    );
    const data = JSON.stringify({ simple: { users: ['alice', ...Array.from({ length: 1000 }, (_, i) => `u${i}`)] } });
    const built = await buildFrom(simplePolicy({ 'data.json': data }));
    const [runtime] = await buildPackRuntimes(
      config.packs,
      config,
      {
        store: new MemoryStore(),
        metrics: new WardenMetrics({ defaultMetrics: false }),
        log: createLogger('silent'),
        emit: () => undefined,
        onActivated: () => undefined,
      },
      () => undefined,
    );
    assert.ok(runtime);
    const outcome = await runtime.activator.submit({
      pack: built.bytes,
      signature: await signedBundle(built.bytes, key.privateKey),
      etag: undefined,
      origin: 'test',
      correlationId: 'c1',
    });
    assert.equal(outcome.status, 'refused');
    const e = outcome.status === 'refused' ? outcome.error : undefined;
    assert.equal(e?.code, 'PACK_FILE_TOO_LARGE');
    assert.equal(
      e.message,
      `pack file "data.json" is ${data.length} bytes, over the limit (limits.max_file_bytes: 4096)`,
    );
    assert.deepEqual(
      { limit: e.details.limit, key: e.details.key, actual: e.details.actual },
      { limit: 4096, key: 'limits.max_file_bytes', actual: data.length },
    );
    assert.match(
      e.hint,
      /^if this size is expected, set limits\.max_file_bytes in the agent configuration to at least \d+ \(now 4096\)/,
    );
  });

  it('an http source takes limits.max_pack_bytes as its size limit, or its own max_bytes when lower, naming either', () => {
    const config = (http: string): AgentConfig =>
      parseConfig(
        [
          'limits: { max_pack_bytes: 100000 }',
          'packs:',
          `  - { name: a, source: { http: { url: "http://x/a"${http} } }, verify: { public_keys: [k.pub] } }`,
        ].join('\n'),
        '/x/agent.yaml',
      );
    const of = (c: AgentConfig): unknown => {
      const h = httpSourceConfigFrom(c.packs[0]?.source.http ?? assert.fail(), c.limits, undefined);
      return [h.maxBytes, h.maxBytesKey];
    };
    assert.deepEqual(of(config('')), [100000, 'limits.max_pack_bytes']);
    assert.deepEqual(of(config(', max_bytes: 5000')), [5000, 'source.http.max_bytes']);
    assert.deepEqual(of(config(', max_bytes: 500000')), [100000, 'limits.max_pack_bytes']);
  });

  it('hands its limits and keys to a directory source (its folder and the pack it builds)', () => {
    const config = parseConfig(
      [
        'limits: { max_file_bytes: 4096, max_files: 20 }',
        'packs:',
        '  - name: cm',
        '    source: { directory: { path: /cm, entrypoints: [a/allow] } }',
        '    verify: { unsigned: true }',
      ].join('\n'),
      '/x/agent.yaml',
    );
    const [p] = config.packs;
    assert.ok(p?.source.directory);
    const d = directorySourceConfigFrom(p.name, p.source.directory, undefined, config.limits);
    assert.equal(d.limits?.limitKeys, AGENT_LIMIT_KEYS);
    assert.equal(d.limits.limits?.maxFileBytes, 4096);
    assert.equal(d.limits.limits.maxFiles, 20);
  });
});
