/**
 * A closed-loop decision client that keeps every request's timeline, run as
 * its own process by timeline.ts (`fork`, with IPC): `connections` kept-alive
 * sockets, each sending the next request as soon as its answer arrives. For
 * every request it records when it was sent, when its answer was complete
 * (epoch ms at sub-ms precision, the same clock as the parent's) and which
 * version of the data answered, told apart by the answer's `result`. Unlike
 * autocannon it keeps the order of events, so a benchmark can find the
 * longest wait and when it happened. It reports the first answer of each
 * version as it happens, and everything when told to stop.
 */
import { performance } from 'node:perf_hooks';
import { KeepAliveClient, resultOf } from './http.js';

/** What to run; passed as the only argument, JSON. */
export interface TimelinePlan {
  readonly url: string;
  readonly path: string;
  readonly connections: number;
  /**
   * Request bodies, sent in turn on each connection (connection i starts at case i), with the
   * label each possible `result` stands for (e.g. which data version gave it).
   */
  readonly cases: ReadonlyArray<{
    readonly body: unknown;
    readonly labels: ReadonlyArray<{ readonly result: unknown; readonly label: string }>;
  }>;
}

/** Every request, column-wise. Times are epoch ms (performance.timeOrigin + now()). */
export interface TimelineResult {
  /** Label names; `label[i]` indexes this list. The last one is `other` (no label matched, or no 200). */
  readonly labels: readonly string[];
  readonly start: number[];
  readonly end: number[];
  readonly label: number[];
  readonly connection: number[];
  readonly errors: number;
  readonly non200: number;
  /** CPU this client used, ms. */
  readonly clientCpuMs: number;
}

/** Parent → child. */
export type ToTimeline = { readonly t: 'stop' };

/** Child → parent. */
export type FromTimeline =
  | { readonly t: 'ready' }
  | { readonly t: 'seen'; readonly label: string; readonly at: number }
  | { readonly t: 'done'; readonly result: TimelineResult };

const now = (): number => performance.timeOrigin + performance.now();

// Runs the plan until the parent says stop, then sends every request's figures.
async function main(): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error('timeline-child.ts runs forked, with an IPC channel');
  const plan = JSON.parse(process.argv[2] ?? '') as TimelinePlan;
  const labels = [...new Set(plan.cases.flatMap((c) => c.labels.map((l) => l.label))), 'other'];
  const other = labels.length - 1;
  const cases = plan.cases.map((c) => ({
    body: c.body,
    byResult: new Map(c.labels.map((l) => [JSON.stringify(l.result), labels.indexOf(l.label)])),
  }));
  const out = { start: [] as number[], end: [] as number[], label: [] as number[], connection: [] as number[] };
  const seen = new Set<number>();
  let errors = 0;
  let non200 = 0;
  let stopping = false;
  let warm = 0;
  process.on('message', (m: ToTimeline) => {
    if (m.t === 'stop') stopping = true;
  });

  const loop = async (connection: number): Promise<void> => {
    const client = new KeepAliveClient(plan.url);
    let first = true;
    try {
      for (let k = connection; !stopping; k++) {
        const c = cases[k % cases.length];
        if (!c) break;
        const start = now();
        let label = other;
        try {
          const res = await client.post(plan.path, c.body);
          if (res.status === 200) label = c.byResult.get(JSON.stringify(resultOf(res.body))) ?? other;
          else non200++;
        } catch {
          errors++;
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const end = now();
        out.start.push(start);
        out.end.push(end);
        out.label.push(label);
        out.connection.push(connection);
        if (!seen.has(label)) {
          seen.add(label);
          send({ t: 'seen', label: labels[label] ?? 'other', at: end } satisfies FromTimeline);
        }
        if (first) {
          first = false;
          if (++warm === plan.connections) send({ t: 'ready' } satisfies FromTimeline);
        }
      }
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: plan.connections }, (_, i) => loop(i)));
  const u = process.cpuUsage();
  const result: TimelineResult = { labels, ...out, errors, non200, clientCpuMs: (u.user + u.system) / 1000 };
  send({ t: 'done', result } satisfies FromTimeline, () => process.disconnect());
}

await main();
