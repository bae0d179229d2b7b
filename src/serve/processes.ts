/**
 * The serving processes (http_processes above 1), seen from the primary: `size` node:cluster
 * workers that share the agent's `listen` socket (each accepts connections itself) and answer
 * the data API on their own cores. The primary stays the only writer: it fetches,
 * verifies, stores and activates, and answers every other route behind them.
 *
 * - A verified pack is prepared in every serving process while the primary loads its own
 *   engine (loaderFor); it is committed (swapped in) everywhere only once the primary's
 *   activator made it active (activated). A coded failure in any process refuses the pack.
 * - A released version (replaced, or refused after loading) is dropped everywhere.
 * - A process that dies is replaced (with backoff) and given the active packs before it
 *   takes connections; its open connections end with it, the others keep answering. One
 *   that does not prepare a pack within prepareTimeoutMs is taken for hung and killed.
 * - /metrics sums the processes' counters and histograms into the primary's (metricsText);
 *   their decision-log events are written by the primary's log.
 */
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ActivePack } from '../activate/types.js';
import type { EngineLoader } from '../activate/prepare.js';
import type { AgentConfig } from '../config/load.js';
import type { DecisionLog } from '../decision-log/decision-log.js';
import { onEngineRelease, type Engine } from '../engine/engine.js';
import { WardenError, messageOf } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { counter, gauge } from '../observe/register.js';
import type { PackLimits } from '../pack/limits.js';
import { ProcessSlot, ServingProcessLost } from './process-slot.js';
import type { MetricJson, PackMeta } from './protocol.js';

const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;
const CLOSE_TIMEOUT_MS = 10_000;
const METRICS_TIMEOUT_MS = 2000;
/** A serving process that takes longer to prepare a pack is taken for hung: 100 MB of data load in ~10 s. */
const PREPARE_TIMEOUT_MS = 300_000;

/** The number of serving processes `http_processes` stands for. */
export function servingProcessCount(value: number | 'auto'): number {
  return value === 'auto' ? Math.max(1, availableParallelism()) : value;
}

/** How the serving processes are built. */
export interface ServingOptions {
  readonly size: number;
  readonly config: AgentConfig;
  /** The packs in routing order (the primary's router's). */
  readonly packs: readonly string[];
  /** The pack limits the processes read with (the primary's). */
  readonly limits: Partial<PackLimits>;
  readonly metrics: WardenMetrics;
  readonly log: Logger;
  /**
   * The serving process's entry module, without its extension (`…/agent/serving-process`): the
   * agent's, which wires governance there too. Its `.js` is run when built, else its `.ts` through tsx.
   */
  readonly entry: URL;
  /** How long a process may take to prepare a pack before it is killed as hung (default 5 min). */
  readonly prepareTimeoutMs?: number;
}

/** The serving processes. */
export class ServingProcesses {
  readonly #opts: ServingOptions;
  readonly #log: Logger;
  readonly #slots: ProcessSlot[] = [];
  /** Verified packs held for the processes (prepared or active), by id. */
  readonly #held = new Map<number, { readonly name: string; readonly pack: Uint8Array }>();
  /** The active version of each pack, as last committed. */
  readonly #committed = new Map<string, { readonly id: number; readonly seq: number; readonly meta: PackMeta }>();
  readonly #ids = new WeakMap<Engine, number>();
  readonly #gauge;
  readonly #restarts;
  #primary: { host: string; port: number } | undefined;
  #decisionLog: Pick<DecisionLog, 'enqueue'> | undefined;
  #nextId = 0;
  #seq = 0;
  #restartDelay = RESTART_MIN_MS;
  #closed = false;
  readonly #prepareTimeoutMs: number;

  constructor(opts: ServingOptions) {
    this.#opts = opts;
    this.#prepareTimeoutMs = opts.prepareTimeoutMs ?? PREPARE_TIMEOUT_MS;
    this.#log = opts.log.child({ component: 'http-processes' });
    this.#gauge = gauge(opts.metrics.registry, 'http_processes');
    this.#restarts = counter(opts.metrics.registry, 'http_process_restarts_total');
    this.#publish();
  }

  /** Wraps a pack's engine loader: the pack is prepared in every serving process beside the primary's own load. */
  loaderFor(name: string, inner: EngineLoader): EngineLoader {
    return async (pack, files, manifest) => {
      const id = ++this.#nextId;
      this.#held.set(id, { name, pack: Uint8Array.from(pack) });
      try {
        const [loaded] = await Promise.all([inner(pack, files, manifest), this.#prepareEverywhere(id)]);
        this.#ids.set(loaded.engine, id);
        onEngineRelease(loaded.engine, () => this.#drop(id));
        return loaded;
      } catch (err) {
        this.#drop(id);
        throw err;
      }
    };
  }

  /** The primary's activator made `active` live: every serving process swaps to it. */
  activated(active: ActivePack): void {
    const id = this.#ids.get(active.engine);
    if (id === undefined || !this.#held.has(id)) return;
    const { engine: _engine, ...meta } = active;
    const commit = { id, seq: ++this.#seq, meta };
    this.#committed.set(active.name, commit);
    for (const slot of this.#slots) if (slot.holds.has(id)) slot.commit(id, commit.seq, meta);
  }

  /**
   * Starts every process with the active packs and has it listen; the port they share.
   * `primary` is where the primary's own server listens; `decisionLog` takes their decisions.
   */
  async start(
    primary: { host: string; port: number },
    decisionLog: Pick<DecisionLog, 'enqueue'> | undefined,
  ): Promise<number> {
    this.#primary = primary;
    this.#decisionLog = decisionLog;
    const ports = await Promise.all(Array.from({ length: this.#opts.size }, (_, i) => this.#spawn(i)));
    this.#log.info({ processes: this.#opts.size, port: ports[0] }, 'serving processes listening');
    return ports[0] ?? 0;
  }

  /** How many processes are ready, starting (loading packs before they listen) or down. */
  state(): { size: number; ready: number; starting: number; down: number } {
    let ready = 0;
    let starting = 0;
    let down = 0;
    for (const s of this.#slots) {
      if (s.state === 'ready') ready++;
      else if (s.state === 'starting') starting++;
      else down++;
    }
    return { size: this.#opts.size, ready, starting, down };
  }

  /** The /metrics text: `own` with every serving process's counters and histograms added in. */
  async metricsText(own: Registry): Promise<string> {
    const theirs = await Promise.all(this.#slots.map((s) => s.metrics(METRICS_TIMEOUT_MS)));
    const all: (readonly MetricJson[])[] = [await own.getMetricsAsJSON()];
    for (const m of theirs) if (m !== undefined) all.push(m);
    return AggregatorRegistry.aggregate(all).metrics();
  }

  /** The serving processes' pids (undefined for one down): for fault drills and tests. */
  pids(): (number | undefined)[] {
    return this.#slots.map((s) => (s.state === 'down' ? undefined : s.worker.process.pid));
  }

  /** Ends serving process `index` as a crash would: for fault drills and tests. It is replaced like any dead one. */
  async killProcess(index: number): Promise<void> {
    await this.#slots[index]?.kill();
  }

  /** Stops every process: each answers what it has in flight and sends its last decisions first. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s.close(CLOSE_TIMEOUT_MS)));
    this.#publish();
  }

  // Starts process `index`: its packs first, then it listens.
  async #spawn(index: number): Promise<number> {
    const primary = this.#primary;
    if (primary === undefined) throw new Error('the serving processes are not started');
    const { exec, execArgv } = servingEntry(this.#opts.entry);
    // Each serving process accepts its connections itself (the kernel picks which): handing every
    // connection over from this process made a new connection's first request wait behind the
    // others (worst request 2-4x OPA's at 64-256 connections; docs/benchmarks.md). Node's own
    // NODE_CLUSTER_SCHED_POLICY=rr brings the round robin back. UV_TCP_SINGLE_ACCEPT makes a
    // process yield after each accept, so a burst of new connections is shared between them
    // instead of going to whichever woke first.
    if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec, execArgv, args: [], serialization: 'advanced' });
    const slot = new ProcessSlot(cluster.fork({ UV_TCP_SINGLE_ACCEPT: process.env.UV_TCP_SINGLE_ACCEPT ?? '1' }), {
      onDecisions: (events, at) => {
        const log = this.#decisionLog;
        if (log) for (let i = 0; i < events.length; i++) log.enqueue(events[i] as never, at[i]);
      },
      onExit: (dead, why) => this.#exited(index, dead, why),
      onHung: (_hung, why) => this.#log.error({ why, process: index }, 'serving process hung; killing it'),
    });
    this.#slots[index] = slot;
    this.#publish();
    slot.send({ t: 'init', config: this.#opts.config, packs: this.#opts.packs, limits: this.#opts.limits, primary });
    await Promise.all([...this.#held].map(([id, h]) => slot.prepare(id, h.name, h.pack, this.#prepareTimeoutMs)));
    for (const c of this.#committed.values()) if (slot.holds.has(c.id)) slot.commit(c.id, c.seq, c.meta);
    let port: number;
    try {
      port = await slot.listen();
    } catch (err) {
      if (err instanceof ServingProcessLost) throw err;
      throw new WardenError('LISTEN_FAILED', `cannot listen on ${this.#opts.config.listen}: ${messageOf(err)}`, {
        cause: err,
      });
    }
    if (slot.state === 'starting') slot.state = 'ready';
    this.#publish();
    return port;
  }

  // Prepares held pack `id` in every process not down (all at once: each on its own preparer thread).
  async #prepareEverywhere(id: number): Promise<void> {
    const held = this.#held.get(id);
    if (!held) return;
    await Promise.all(
      this.#slots.map((slot) =>
        slot.state === 'down' || slot.holds.has(id)
          ? Promise.resolve()
          : slot.prepare(id, held.name, held.pack, this.#prepareTimeoutMs).catch((err: unknown) => {
              // A process that died is given the pack again when it is replaced: not a refusal.
              if (!(err instanceof ServingProcessLost)) throw err;
            }),
      ),
    );
  }

  #drop(id: number): void {
    this.#held.delete(id);
    for (const slot of this.#slots) slot.drop(id);
  }

  // A process ended: replaced after a backoff unless the set is closing.
  #exited(index: number, dead: ProcessSlot, why: string): void {
    this.#publish();
    if (this.#closed || dead.closing || this.#slots[index] !== dead) return;
    this.#log.error({ why, process: index }, 'serving process died; replacing it');
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(this.#restartDelay * 2, RESTART_MAX_MS);
    setTimeout(() => {
      if (this.#closed || this.#slots[index] !== dead) return;
      this.#restarts.inc();
      this.#spawn(index).then(
        () => {
          this.#restartDelay = RESTART_MIN_MS;
          this.#log.info({ process: index }, 'serving process replaced');
        },
        (err: unknown) => {
          this.#log.error({ process: index, err: messageOf(err) }, 'replacement serving process failed to start');
          const slot = this.#slots[index];
          // A start that failed short of a crash (a pack it could not load) ends the process: its exit retries.
          if (slot && slot.state !== 'down') void slot.kill();
        },
      );
    }, delay).unref();
  }

  #publish(): void {
    const { ready, starting, down } = this.state();
    this.#gauge.set({ state: 'ready' }, ready);
    this.#gauge.set({ state: 'starting' }, starting);
    this.#gauge.set({ state: 'down' }, down);
  }
}

// The serving process's entry: the built .js, else the .ts source through tsx (tests, benches).
function servingEntry(entry: URL): { exec: string; execArgv: string[] } {
  const built = fileURLToPath(new URL(`${entry.href}.js`));
  // The test runner's and the inspector's flags would make the child a test run or a second debuggee.
  const inherited = process.execArgv.filter((a) => !a.startsWith('--test') && !a.startsWith('--inspect'));
  if (existsSync(built)) return { exec: built, execArgv: inherited };
  const hasTsx = inherited.some((a, i) => a === '--import=tsx' || (a === '--import' && inherited[i + 1] === 'tsx'));
  return {
    exec: fileURLToPath(new URL(`${entry.href}.ts`)),
    execArgv: hasTsx ? inherited : [...inherited, '--import', 'tsx'],
  };
}
