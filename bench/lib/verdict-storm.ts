/**
 * Verdict storms over HTTP: a `warden agent` child process on the example
 * governance and kill-switch folders (decision cache off, so every request is
 * evaluated; no decision log; no tenant tokens, so the JWT check does not
 * dilute the policy's share; the decision log on or off), loaded with `POST /v1/verdict` by the throughput
 * benchmark's load generator (bench/lib/load-child.ts, its own process: it
 * checks every answer's `result`, here "allow" or "deny"). The agent's CPU is
 * read from /proc before and after each run.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cpuMs } from './cpu.js';
import { writeGovernanceConfig, type VerdictCase } from './governance-agent.js';
import { KeepAliveClient } from './http.js';
import type { LoadPlan, LoadResult } from './load-child.js';
import { startWardenAgent, type ServerProcess } from './procs.js';

const LOAD_CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url));
const run = promisify(execFile);
export const VERDICT_PATH = '/v1/verdict';

/** The agent under load. */
export interface VerdictServer {
  readonly proc: ServerProcess;
  readonly url: string;
  /** Body bytes of one answer of each kind (a deny carries its reasons). */
  readonly bodyBytes: Readonly<Record<'allow' | 'deny', number>>;
}

/** One measured storm. */
export interface StormRun {
  /** `allow` and `deny` on the agent without a decision log, `allow, log on` on the one with it. */
  readonly storm: 'allow' | 'deny' | 'allow, log on';
  readonly round: number;
  readonly load: LoadResult;
  /** CPU the agent process used during the run, ms. */
  readonly agentCpuMs: number;
  /** agentCpuMs per completed request, µs. */
  readonly cpuPerRequestUs: number;
}

/** Starts the agent process in `dir` and checks its answer to every case. */
export async function startVerdictServer(
  dir: string,
  cases: readonly VerdictCase[],
  decisionLog: boolean,
  decisionLogService?: string,
): Promise<VerdictServer> {
  await mkdir(dir, { recursive: true });
  const configPath = await writeGovernanceConfig({
    dir,
    cache: false,
    decisionLog,
    logLevel: 'warn',
    ...(decisionLogService === undefined ? {} : { decisionLogService }),
  });
  const { proc, url } = await startWardenAgent('warden agent (verdicts)', configPath);
  const client = new KeepAliveClient(url);
  try {
    const bodyBytes = { allow: 0, deny: 0 };
    for (const c of cases) {
      const res = await client.post(VERDICT_PATH, c.context);
      const body = res.body as { result?: unknown; cached?: unknown } | undefined;
      if (res.status !== 200 || body?.result !== c.expect || body.cached !== false) {
        throw new Error(
          `the agent answered ${res.status} ${JSON.stringify(res.body)} for "${c.label}", expected an uncached ${c.expect}`,
        );
      }
      if (c.expect === 'allow' || c.expect === 'deny')
        bodyBytes[c.expect] = Math.max(bodyBytes[c.expect], JSON.stringify(res.body).length);
    }
    return { proc, url, bodyBytes };
  } catch (err) {
    await proc.stop();
    throw err;
  } finally {
    client.close();
  }
}

/** Loads the agent with `cases` in turn on every connection for `seconds`; returns the load figures and the agent's CPU. */
export async function storm(
  server: VerdictServer,
  cases: readonly VerdictCase[],
  connections: number,
  seconds: number,
): Promise<{ load: LoadResult; agentCpuMs: number }> {
  const plan: LoadPlan = {
    url: server.url,
    path: VERDICT_PATH,
    connections,
    pipelining: 1,
    durationSeconds: seconds,
    cases: cases.map((c) => ({ body: JSON.stringify(c.context), expect: c.expect })),
  };
  const before = cpuMs(server.proc.pid);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', LOAD_CHILD, JSON.stringify(plan)], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: (seconds + 60) * 1000,
  });
  const agentCpuMs = cpuMs(server.proc.pid) - before;
  const load = JSON.parse(stdout.trim().split('\n').pop() ?? '') as LoadResult;
  if (load.errors > 0 || load.non2xx > 0 || load.wrong > 0 || load.completed === 0) {
    throw new Error(
      `storm: ${load.completed} answers, ${load.errors} errors, ${load.non2xx} non-2xx, ${load.wrong} wrong`,
    );
  }
  return { load, agentCpuMs };
}
