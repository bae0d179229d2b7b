/**
 * Declared entrypoints keep their exact-match hot path when packs also carry
 * package and root entrypoints (any data path): `decider.decideJson` on
 * `authz/allow` for examples/authz built with them and without them (as
 * before), in the same run, batches interleaved; and, for scale, what the
 * other kinds of path cost (package, a base document, `/v1/data` itself).
 *
 * Run: `node --import tsx bench/paths.bench.ts` (after the tools are installed).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startAgent, type RunningAgent } from '../src/agent/agent.js';
import { parseConfig } from '../src/config/load.js';
import { engineJsonText } from '../src/engine/json-text.js';
import { createLogger } from '../src/observe/logger.js';
import { buildPack } from '../src/pack/build.js';
import { signPack } from '../src/sign/sign.js';
import { EXAMPLE_DIR, INPUTS } from './lib/example.js';
import { machineInfo } from './lib/machine.js';
import { table } from './lib/report.js';
import { summarize } from './lib/stats.js';

const BATCH = 2000;
const ROUNDS = 200;
const WARMUP = 20;
const INPUT_TEXTS = INPUTS.map((i) => engineJsonText(i.input) ?? '{}');

// An agent (decision_workers 0: decisions on this thread) serving examples/authz built one way.
async function agentFor(dir: string, name: string, pathEntrypoints: boolean): Promise<RunningAgent> {
  const built = await buildPack({ dir: EXAMPLE_DIR, sequence: 1, pathEntrypoints, packName: 'authz' });
  await writeFile(join(dir, `${name}.tar.gz`), built.bytes);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(join(dir, `${name}.tar.gz.sigstore.json`), JSON.stringify(await signPack(built.bytes, privateKey)));
  await writeFile(join(dir, `${name}.pub`), publicKey.export({ type: 'spki', format: 'pem' }));
  const config = [
    'listen: 127.0.0.1:0',
    `data_dir: data-${name}`,
    'decision_workers: 0',
    'packs:',
    `  - name: authz`,
    `    source: { file: { path: ${name}.tar.gz } }`,
    `    verify: { public_keys: [${name}.pub] }`,
  ].join('\n');
  return startAgent(parseConfig(config, join(dir, 'agent.yaml')), createLogger('silent'));
}

// Microseconds per decideJson call, over BATCH calls cycling through the inputs.
function batch(agent: RunningAgent, path: string): number {
  let defined = 0;
  const start = performance.now();
  for (let i = 0; i < BATCH; i++) {
    const d = agent.decider.decideJson(path, INPUT_TEXTS[i % INPUT_TEXTS.length]);
    if (d instanceof Promise) throw new Error('expected a local engine');
    if (d.defined) defined++;
  }
  const us = ((performance.now() - start) * 1000) / BATCH;
  if (defined !== BATCH) throw new Error(`${path}: ${defined} of ${BATCH} defined`);
  return us;
}

const dir = await mkdtemp(join(tmpdir(), 'warden-paths-bench-'));
try {
  const before = await agentFor(dir, 'declared-only', false);
  const after = await agentFor(dir, 'with-paths', true);
  const cases: Array<[string, RunningAgent, string]> = [
    ['authz/allow, pack without path entrypoints', before, 'authz/allow'],
    ['authz/allow, pack with path entrypoints', after, 'authz/allow'],
    ['authz (package)', after, 'authz'],
    ['authz/roles/admin (base document in a package)', after, 'authz/roles/admin'],
    ['`` (/v1/data)', after, ''],
  ];
  const laps = cases.map((): number[] => []);
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    cases.forEach(([, agent, path], i) => {
      const us = batch(agent, path);
      if (r >= WARMUP) laps[i]?.push(us);
    });
  }
  const base = summarize(laps[0] ?? []).p50;
  console.log(machineInfo());
  console.log(
    table(
      ['path', 'median µs', 'p90 µs', 'vs declared-only'],
      cases.map(([name], i) => {
        const s = summarize(laps[i] ?? []);
        return [name, s.p50.toFixed(2), s.p90.toFixed(2), `${(s.p50 / base).toFixed(2)}x`];
      }),
    ),
  );
  await before.close();
  await after.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
