/**
 * Issue 12, publish → enforced for the `oci` source against `http` on the same
 * machine: how long after a new pack is published a `warden agent` answers a
 * decision from it. One pack server, one registry (CNCF distribution, as in
 * the tests), one agent per source with the same poll settings (1–2 s,
 * jittered); publishes alternate between them after a random 250–2250 ms
 * pause, so each lands at a random point of the poll cycle. Time runs from
 * the moment the new version is readable at its source (http: the pack file
 * renamed into the server's folder, after its signature; oci: `pushPack`
 * returned, its last step the tag moved to the new manifest) to the first
 * answer whose `x-warden-revision` names the new version: the same point for
 * both, as in bench/source-s3.bench.ts. The publish itself (oci: four uploads)
 * is timed apart and reported, with the time from its start. Goal: oci p50 and
 * p99 within 1.5× of http.
 *
 * Run: `npx tsc -p tsconfig.build.json && npx tsx bench/source-oci.bench.ts`
 * (needs .tools/bin/registry: `node scripts/install-tools.mjs registry oras`).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { OciClient } from '../src/source/oci/client.js';
import { pushPack } from '../src/source/oci/push.js';
import { parseOciReference } from '../src/source/oci/reference.js';
import { startRegistry, type Registry } from '../test/helpers/registry.js';
import { ENTRYPOINT, INPUTS, publish, type Publishable, signedVersions } from './lib/example.js';
import { KeepAliveClient, pollUntil } from './lib/http.js';
import { machineInfo } from './lib/machine.js';
import { startPackServer, startWardenAgent, stopAll, type ServerProcess } from './lib/procs.js';
import { ms, ratio, table, writeResults } from './lib/report.js';
import { summarize, type Summary } from './lib/stats.js';

const PUBLISHES = 30;
const GOAL_RATIO = 1.5;
const POLL = ['poll_min_seconds: 1', 'poll_max_seconds: 2'];

type SourceName = 'http' | 'oci';

interface Agent {
  readonly source: SourceName;
  readonly client: KeepAliveClient;
  readonly publish: (p: Publishable) => Promise<void>;
}

function log(message: string): void {
  process.stderr.write(`bench source-oci: ${message}\n`);
}

function config(dir: string, name: SourceName, sourceLines: string[], publicPath: string): string {
  return [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(dir, `data-${name}`)}`,
    'log_level: warn',
    'packs:',
    '  - name: authz',
    '    source:',
    ...sourceLines,
    ...POLL.map((l) => `        ${l}`),
    '    verify:',
    `      public_keys: [${publicPath}]`,
  ].join('\n');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-source-oci-'));
  const procs: ServerProcess[] = [];
  const agents: Agent[] = [];
  let registry: Registry | undefined;
  let oci: OciClient | undefined;
  try {
    log('building and signing examples/authz and its versions…');
    const { key, versions } = await signedVersions(dir, PUBLISHES * 2 + 1);
    const v1 = versions[0] as Publishable;
    const packsDir = join(dir, 'packs');
    await mkdir(packsDir);
    const target = join(packsDir, 'authz.tar.gz');
    await publish(target, v1);
    const server = await startPackServer(packsDir);
    procs.push(server.proc);
    registry = await startRegistry();
    const reference = `${registry.host}/policy/authz:live`;
    const ociClient = new OciClient({
      ref: parseOciReference(reference),
      credentials: { kind: 'anonymous' },
      insecureHttp: true,
      timeoutMs: 10_000,
      push: true,
    });
    oci = ociClient;
    const push = async (p: Publishable): Promise<void> =>
      void (await pushPack(ociClient, 'live', p.pack, 'authz.tar.gz', p.signature));
    await push(v1);
    const sources: Record<SourceName, string[]> = {
      http: ['      http:', `        url: ${server.url}/v1/policy/packs/authz`],
      oci: ['      oci:', `        reference: ${reference}`, '        insecure_http: true'],
    };
    for (const name of ['http', 'oci'] as const) {
      const path = join(dir, `${name}.yaml`);
      await writeFile(path, config(dir, name, sources[name], key.publicPath));
      const { proc, url } = await startWardenAgent(`agent (${name})`, path);
      procs.push(proc);
      agents.push({
        source: name,
        client: new KeepAliveClient(url),
        publish: name === 'http' ? (p) => publish(target, p) : push,
      });
    }
    const samples: Array<{ source: SourceName; ms: number | undefined; publishMs: number }> = [];
    for (let i = 0; i < PUBLISHES * 2; i++) {
      const a = agents[i % 2] as Agent;
      const n = i + 2;
      await sleep(250 + Math.random() * 2000);
      const started = performance.now();
      await a.publish(versions[n - 1] as Publishable);
      const t0 = performance.now();
      const revision = `bench-${n}`;
      const accept = (h: IncomingHttpHeaders): true | undefined =>
        h['x-warden-revision'] === revision ? true : undefined;
      const seen = await pollUntil(a.client, `/v1/data/${ENTRYPOINT}`, { input: INPUTS[0]?.input }, accept, {
        intervalMs: 5,
        timeoutMs: 20_000,
      });
      const took = seen === undefined ? undefined : seen.at - t0;
      samples.push({ source: a.source, ms: took, publishMs: t0 - started });
      log(
        `${a.source} #${Math.floor(i / 2) + 1}: ${took === undefined ? 'NOT SEEN' : `${ms(took)} ms`} (publish ${ms(t0 - started)} ms)`,
      );
    }
    const seenOf = (s: SourceName): typeof samples => samples.filter((x) => x.source === s && x.ms !== undefined);
    const of = (s: SourceName): Summary => summarize(seenOf(s).map((x) => x.ms as number));
    const publishOf = (s: SourceName): Summary => summarize(seenOf(s).map((x) => x.publishMs));
    const fromStartOf = (s: SourceName): Summary => summarize(seenOf(s).map((x) => (x.ms as number) + x.publishMs));
    const http = of('http');
    const ociSummary = of('oci');
    const publishing = { http: publishOf('http'), oci: publishOf('oci') };
    const fromStart = { http: fromStartOf('http'), oci: fromStartOf('oci') };
    const missed = samples.filter((x) => x.ms === undefined).length;
    const r50 = ociSummary.p50 / http.p50;
    const r99 = ociSummary.p99 / http.p99;
    const machine = machineInfo();
    process.stdout.write(
      [
        `# Publish → enforced: oci vs http\n\n${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}; polls 1–2 s for both\n`,
        table(
          ['source', 'n', 'p50 ms', 'p99 ms', 'max ms', 'publish p50 ms', 'from publish start p50 · p99 ms'],
          (['http', 'oci'] as const).map((s) => {
            const x = s === 'http' ? http : ociSummary;
            return [
              s,
              String(x.n),
              ms(x.p50),
              ms(x.p99),
              ms(x.max),
              ms(publishing[s].p50),
              `${ms(fromStart[s].p50)} · ${ms(fromStart[s].p99)}`,
            ];
          }),
        ),
        `\nnot seen within 20 s: ${missed}\n`,
        `\noci / http, from readable at the source: p50 ${ratio(r50)}, p99 ${ratio(r99)} (goal ≤ ${GOAL_RATIO}×: ${r50 <= GOAL_RATIO && r99 <= GOAL_RATIO ? 'met' : 'MISSED'})`,
        `oci / http, from the publish's start: p50 ${ratio(fromStart.oci.p50 / fromStart.http.p50)}, p99 ${ratio(fromStart.oci.p99 / fromStart.http.p99)}\n`,
      ].join('\n'),
    );
    const path = await writeResults('source-oci', {
      benchmark: 'source-oci',
      date: new Date().toISOString(),
      machine,
      settings: { publishes: PUBLISHES, poll: POLL },
      results: { http, oci: ociSummary, ratioP50: r50, ratioP99: r99, publishing, fromStart, missed },
      samples,
    });
    process.stdout.write(`\nraw figures: ${path}\n`);
  } finally {
    for (const a of agents) a.client.close();
    await stopAll(procs);
    await oci?.close();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
