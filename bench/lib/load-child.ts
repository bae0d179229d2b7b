/**
 * The load generator of the throughput benchmark, run as its own process
 * (`node --import tsx bench/lib/load-child.ts '<json plan>'`) so it is the
 * same program, with the same cost, whichever server it loads. It drives
 * autocannon over the example inputs in turn, keeps every response time at
 * full precision (autocannon's own histogram rounds to whole milliseconds),
 * checks every answer's result, and prints one JSON line of figures.
 */
import autocannon from 'autocannon';
import { summarize, type Summary } from './stats.js';

/** What to run; passed as the only argument, JSON. */
export interface LoadPlan {
  readonly url: string;
  readonly path: string;
  readonly connections: number;
  readonly pipelining: number;
  readonly durationSeconds: number;
  /** Request bodies sent in turn on each connection, with the `result` each must get. */
  readonly cases: ReadonlyArray<{ readonly body: string; readonly expect: unknown }>;
}

/** What the run printed. */
export interface LoadResult {
  readonly requestsPerSecond: {
    readonly mean: number;
    readonly stddev: number;
    readonly min: number;
    readonly max: number;
  };
  readonly completed: number;
  readonly durationSeconds: number;
  /** Response times in ms, at full precision. */
  readonly latencyMs: Summary;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  /** 2xx answers whose `result` was not the expected one (or not JSON). */
  readonly wrong: number;
  /** CPU the load generator itself used (user + system), ms. */
  readonly loadGeneratorCpuMs: number;
}

// User + system CPU of this process, ms.
function cpuMsOfThisProcess(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// Runs the plan and prints its figures.
async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '') as LoadPlan;
  const latencies: number[] = [];
  let wrong = 0;
  const requests = plan.cases.map((c): autocannon.Request => ({
    method: 'POST',
    path: plan.path,
    headers: { 'content-type': 'application/json' },
    body: c.body,
    onResponse: (status, body) => {
      if (status !== 200) return;
      try {
        if ((JSON.parse(body) as { result?: unknown }).result !== c.expect) wrong++;
      } catch {
        wrong++;
      }
    },
  }));
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: plan.url,
        connections: plan.connections,
        pipelining: plan.pipelining,
        duration: plan.durationSeconds,
        requests,
      },
      (err: unknown, res) => (err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve(res)),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
  const out: LoadResult = {
    requestsPerSecond: {
      mean: result.requests.average,
      stddev: result.requests.stddev,
      min: result.requests.min,
      max: result.requests.max,
    },
    completed: latencies.length,
    durationSeconds: result.duration,
    latencyMs: summarize(latencies.length > 0 ? latencies : [NaN]),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    wrong,
    loadGeneratorCpuMs: cpuMsOfThisProcess(),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
