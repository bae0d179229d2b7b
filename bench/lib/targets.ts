/**
 * The servers the decision benchmarks compare, started the same way by every
 * benchmark: `opa run --server` (on a bundle file, or pulling bundles as its
 * configuration says) and `warden agent` with a chosen number of decision
 * workers; each must answer correctly before it is measured. Plus one
 * autocannon run against either, in its own process (load-child.ts), with the
 * server's CPU over the run (whole process and main thread).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { locateOpa } from '../../src/opa/locate.js';
import { messageOf } from '../../src/errors.js';
import { mainThreadCpuMs, treeCpuMs } from './cpu.js';
import { KeepAliveClient } from './http.js';
import type { LoadPlan, LoadResult } from './load-child.js';
import { freePort, ServerProcess, startWardenAgent } from './procs.js';

const LOAD_CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url));
const run = promisify(execFile);

/** `decision_workers` of a warden agent: a count, or 'auto' (one per core). */
export type Workers = number | 'auto';

/** A started server. */
export interface Target {
  /** Its label in reports. */
  readonly name: string;
  readonly url: string;
  readonly proc: ServerProcess;
}

/** Resolves once the server answers as expected; throws (with the reason) otherwise. */
export type ReadyCheck = (client: KeepAliveClient) => Promise<void>;

// Asks `ready` every 100 ms until it passes; stops the process and throws with its output when it never does.
async function waitReady(target: Target, ready: ReadyCheck, timeoutMs: number): Promise<Target> {
  const client = new KeepAliveClient(target.url);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await ready(client);
        return target;
      } catch (err) {
        if (Date.now() > deadline || target.proc.child.exitCode !== null)
          throw new Error(`${target.name} did not answer correctly: ${messageOf(err)}\n${target.proc.tail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await target.proc.stop();
    throw err;
  } finally {
    client.close();
  }
}

/**
 * Starts `opa run --server` on a free port with `args` (e.g. `-b pack.tar.gz`, or `--config-file
 * FILE` for bundles pulled from a server); resolves once `ready` passes.
 */
export async function startOpa(
  name: string,
  args: readonly string[],
  ready: ReadyCheck,
  timeoutMs = 10_000,
): Promise<Target> {
  const port = await freePort();
  const proc = ServerProcess.start(name, locateOpa().path, [
    'run',
    '--server',
    '--addr',
    `127.0.0.1:${port}`,
    '--log-level',
    'error',
    ...args,
  ]);
  return waitReady({ name, url: `http://127.0.0.1:${port}`, proc }, ready, timeoutMs);
}

/** A `warden agent` to start: one pack, one source, key-verified. */
export interface WardenOptions {
  /** Folder for its configuration file and data_dir. */
  readonly dir: string;
  /** Its label in reports; also names its configuration file and data_dir. */
  readonly name: string;
  readonly packName: string;
  /** The YAML lines under `source:`, e.g. `file: { path: …, poll_seconds: 60 }`. */
  readonly source: readonly string[];
  readonly publicKeyPath: string;
  readonly workers: Workers;
  /** http_processes: serving processes sharing the port (default 1: the agent alone). */
  readonly processes?: number;
  /** The pack's engine (default wasm); `opa`: the agent starts and supervises a real OPA. */
  readonly engine?: 'wasm' | 'opa';
  /** Default `warn`: nothing per request, nothing per reload. */
  readonly logLevel?: string;
  /** The configuration's `limits:` keys. */
  readonly limits?: Readonly<Record<string, number>>;
  /** Extra environment variables of the agent process. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The agent configuration (YAML) for `o`. */
export function wardenConfig(o: WardenOptions): string {
  const limits = Object.entries(o.limits ?? {});
  return [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(o.dir, `data-${o.name}`)}`,
    `log_level: ${o.logLevel ?? 'warn'}`,
    `decision_workers: ${o.workers}`,
    ...(o.processes === undefined ? [] : [`http_processes: ${o.processes}`]),
    ...(o.engine === 'opa' ? ['engine: opa'] : []),
    ...(limits.length > 0 ? ['limits:', ...limits.map(([k, v]) => `  ${k}: ${v}`)] : []),
    'packs:',
    `  - name: ${o.packName}`,
    '    source:',
    ...o.source.map((l) => `      ${l}`),
    '    verify:',
    `      public_keys: [${o.publicKeyPath}]`,
  ].join('\n');
}

/** Writes the configuration, starts `warden agent`, resolves once it listens and `ready` passes. */
export async function startWarden(o: WardenOptions, ready: ReadyCheck, timeoutMs = 10_000): Promise<Target> {
  const configPath = join(o.dir, `${o.name}.yaml`);
  await writeFile(configPath, wardenConfig(o));
  const { proc, url } = await startWardenAgent(o.name, configPath, timeoutMs, { ...process.env, ...o.env });
  return waitReady({ name: o.name, url, proc }, ready, timeoutMs);
}

/** One autocannon run and what the server spent on it. */
export interface LoadRun {
  readonly load: LoadResult;
  /** CPU the whole server used during the run (every thread of it and of its child processes), ms. */
  readonly serverCpuMs: number;
  /** CPU its main thread used (for a Node server: the event loop with the HTTP layer), ms. */
  readonly mainThreadCpuMs: number;
}

/** Runs the load generator once, in its own process, against `target`. */
export async function runLoad(target: Target, plan: Omit<LoadPlan, 'url'>): Promise<LoadRun> {
  const full: LoadPlan = { ...plan, url: target.url };
  const pid = target.proc.pid;
  const before = { all: treeCpuMs(pid), main: mainThreadCpuMs(pid) };
  const { stdout } = await run(process.execPath, ['--import', 'tsx', LOAD_CHILD, JSON.stringify(full)], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: (plan.durationSeconds + 60) * 1000,
  });
  const serverCpuMs = treeCpuMs(pid) - before.all;
  const mainCpu = mainThreadCpuMs(pid) - before.main;
  const line = stdout.trim().split('\n').pop() ?? '';
  return { load: JSON.parse(line) as LoadResult, serverCpuMs, mainThreadCpuMs: mainCpu };
}

/**
 * The agent's own count of decisions and the time their evaluation took, summed over every series
 * of `opa_client_latency_seconds` (for decision workers: the time inside the worker, per decision).
 */
export async function evaluationTotals(url: string): Promise<{ seconds: number; count: number }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  let seconds = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    const m = /^(?:\w+_)?opa_client_latency_seconds_(sum|count)(?:\{[^}]*\})? ([0-9.eE+-]+)$/.exec(line);
    if (m?.[1] === 'sum') seconds += Number(m[2]);
    else if (m?.[1] === 'count') count += Number(m[2]);
  }
  return { seconds, count };
}
