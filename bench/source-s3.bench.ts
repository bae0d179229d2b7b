/**
 * Issue 12, publish → enforced for the `s3` source against `http`: how long after
 * a new pack is published an agent answers a decision from it, for an agent
 * polling a `warden pack serve` folder and one polling a MinIO bucket, with the
 * same poll interval (1–2 s, jittered), 20 publishes each. Goal: s3 within 1.5×
 * of http (p50 and p99).
 *
 * One pack server, one MinIO (test/helpers/minio.ts) and two agents; publishes
 * alternate between them so both see the same machine at the same time. Each
 * publish writes the signature first, then the pack; the clock starts when the
 * pack is renamed into the folder (http) or its upload is sent (s3; the upload is
 * part of the publish, as it is for an operator). Before each publish the
 * benchmark waits a random 250–2250 ms, so a publish lands at a random point of
 * the poll cycle. A client asks the agent for a decision every ~5 ms and stops at
 * the first answer whose `x-warden-revision` names the new version.
 *
 * Run: `npx tsc -p tsconfig.build.json && node --import tsx bench/source-s3.bench.ts`
 * (needs .tools/bin/minio: `node scripts/install-tools.mjs minio`). Prints a table;
 * raw figures go to bench/results/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { MinioServer } from '../test/helpers/minio.js';
import { ENTRYPOINT, INPUTS, publish, type Publishable, signedVersions } from './lib/example.js';
import { KeepAliveClient, pollUntil } from './lib/http.js';
import { machineInfo } from './lib/machine.js';
import { startPackServer, startWardenAgent, stopAll, type ServerProcess } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize, type Summary } from './lib/stats.js';

const GOAL_RATIO = 1.5;
const PUBLISHES = 20;
const CLIENT_INTERVAL_MS = 5;
const TIMEOUT_MS = 20_000;
const PAUSE_MS = { min: 250, spread: 2000 };
const POLL = ['poll_min_seconds: 1', 'poll_max_seconds: 2'];
const BUCKET = 'packs';
const KEY = 'authz.tar.gz';

/** One agent and how to publish to its source. */
interface SourceAgent {
  readonly kind: 'http' | 's3';
  readonly client: KeepAliveClient;
  /** Publishes signature then pack; calls `start` as the pack is about to land. */
  readonly publish: (p: Publishable, start: () => void) => Promise<void>;
}

interface Sample {
  readonly kind: SourceAgent['kind'];
  readonly totalMs: number | undefined;
}

// The agent configuration with the given `source:` lines.
function agentConfig(dir: string, name: string, publicPath: string, source: readonly string[]): string {
  return [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(dir, `data-${name}`)}`,
    'log_level: warn',
    'packs:',
    '  - name: authz',
    '    source:',
    ...source,
    '    verify:',
    `      public_keys: [${publicPath}]`,
  ].join('\n');
}

// Asks the agent every CLIENT_INTERVAL_MS until it answers from `revision`; returns when that answer arrived.
async function firstDecisionFrom(client: KeepAliveClient, revision: string): Promise<number | undefined> {
  const accept = (h: IncomingHttpHeaders): true | undefined => (h['x-warden-revision'] === revision ? true : undefined);
  const seen = await pollUntil(client, `/v1/data/${ENTRYPOINT}`, { input: INPUTS[0]?.input }, accept, {
    intervalMs: CLIENT_INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
  });
  return seen?.at;
}

// Starts the http agent (a pack server folder) on version 1.
async function startHttp(
  dir: string,
  publicPath: string,
  v1: Publishable,
  procs: ServerProcess[],
): Promise<SourceAgent> {
  const packsDir = join(dir, 'packs');
  await mkdir(packsDir);
  const target = join(packsDir, KEY);
  await publish(target, v1);
  const server = await startPackServer(packsDir);
  procs.push(server.proc);
  const configPath = join(dir, 'http.yaml');
  const source = [
    '      http:',
    `        url: ${server.url}/v1/policy/packs/authz`,
    ...POLL.map((l) => `        ${l}`),
  ];
  await writeFile(configPath, agentConfig(dir, 'http', publicPath, source));
  const { proc, url } = await startWardenAgent('agent (http)', configPath);
  procs.push(proc);
  return { kind: 'http', client: new KeepAliveClient(url), publish: (p, start) => publish(target, p, start) };
}

// Starts the s3 agent (a MinIO bucket, keys from files) on version 1.
async function startS3(
  dir: string,
  publicPath: string,
  v1: Publishable,
  minio: MinioServer,
  procs: ServerProcess[],
): Promise<SourceAgent> {
  await minio.createBucket(BUCKET);
  const files = await minio.credentialFiles(dir);
  await minio.publish(BUCKET, KEY, v1.pack, v1.signature);
  const configPath = join(dir, 's3.yaml');
  const source = [
    '      s3:',
    `        endpoint: ${minio.endpoint}`,
    `        bucket: ${BUCKET}`,
    `        key: ${KEY}`,
    `        region: ${minio.region}`,
    '        force_path_style: true',
    '        credentials:',
    `          access_key_id_file: ${files.accessKeyIdFile}`,
    `          secret_access_key_file: ${files.secretAccessKeyFile}`,
    ...POLL.map((l) => `        ${l}`),
  ];
  await writeFile(configPath, agentConfig(dir, 's3', publicPath, source));
  const { proc, url } = await startWardenAgent('agent (s3)', configPath);
  procs.push(proc);
  return {
    kind: 's3',
    client: new KeepAliveClient(url),
    publish: async (p, start) => {
      await minio.put(BUCKET, `${KEY}.sigstore.json`, p.signature);
      start();
      await minio.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: p.pack }));
    },
  };
}

// Summary of one source's samples.
function summaryOf(samples: readonly Sample[], kind: Sample['kind']): { total: Summary; failures: number } {
  const mine = samples.filter((s) => s.kind === kind);
  const totals = mine.map((s) => s.totalMs).filter((x): x is number => x !== undefined);
  return { total: summarize(totals.length > 0 ? totals : [NaN]), failures: mine.length - totals.length };
}

function log(message: string): void {
  process.stderr.write(`bench source-s3: ${message}\n`);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-s3-'));
  const procs: ServerProcess[] = [];
  const agents: SourceAgent[] = [];
  let minio: MinioServer | undefined;
  try {
    log('building and signing examples/authz and its versions…');
    const { key, versions } = await signedVersions(dir, PUBLISHES * 2 + 1);
    const v1 = versions[0] as Publishable;
    minio = await MinioServer.start();
    agents.push(await startHttp(dir, key.publicPath, v1, procs));
    agents.push(await startS3(dir, key.publicPath, v1, minio, procs));
    const samples: Sample[] = [];
    for (let i = 0; i < PUBLISHES * 2; i++) {
      const a = agents[i % 2] as SourceAgent;
      const n = i + 2;
      await sleep(PAUSE_MS.min + Math.random() * PAUSE_MS.spread);
      let t0 = NaN;
      await a.publish(versions[n - 1] as Publishable, () => {
        t0 = performance.now();
      });
      const at = await firstDecisionFrom(a.client, `bench-${n}`);
      const totalMs = at === undefined ? undefined : at - t0;
      samples.push({ kind: a.kind, totalMs });
      log(`${a.kind} #${Math.floor(i / 2) + 1}: ${totalMs === undefined ? 'NOT SEEN' : `${ms(totalMs)} ms`}`);
    }
    const http = summaryOf(samples, 'http');
    const s3 = summaryOf(samples, 's3');
    const p50 = s3.total.p50 / http.total.p50;
    const p99 = s3.total.p99 / http.total.p99;
    const machine = machineInfo();
    const rows = [
      ['http', String(http.total.n), String(http.failures), ms(http.total.p50), ms(http.total.p99), ms(http.total.max)],
      ['s3', String(s3.total.n), String(s3.failures), ms(s3.total.p50), ms(s3.total.p99), ms(s3.total.max)],
    ];
    const met = s3.failures === 0 && p50 <= GOAL_RATIO && p99 <= GOAL_RATIO ? 'met' : 'MISSED';
    process.stdout.write(
      [
        '# Publish → enforced: s3 vs http',
        '',
        `${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}; both poll every 1–2 s (jittered)`,
        '',
        `## Publish → first decision from it, ms (${PUBLISHES} publishes per source)`,
        '',
        table(['source', 'n', 'failed', 'p50', 'p99', 'max'], rows),
        '',
        `s3 / http: p50 ${ratio(p50)}, p99 ${ratio(p99)} (goal ≤ ${GOAL_RATIO}×: ${met})`,
        '',
      ].join('\n'),
    );
    const path = await writeResults('source-s3', {
      benchmark: 'source-s3',
      goalRatio: GOAL_RATIO,
      date: new Date().toISOString(),
      machine,
      settings: { publishes: PUBLISHES, clientIntervalMs: CLIENT_INTERVAL_MS, pauseMs: PAUSE_MS, poll: POLL },
      results: { http, s3, ratio: { p50, p99 } },
      samples,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    for (const a of agents) a.client.close();
    await stopAll(procs);
    await minio?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
