/**
 * What a serving process runs (http_processes above 1): the data API (and, when the agent
 * wires governance in, verdicts: enableVerdicts) on the agent's `listen` address, shared with the other serving processes through node:cluster, over
 * copies of the packs the primary activated. It fetches, verifies and stores nothing: the
 * primary hands it each verified pack (`prepare`, loaded on this process's engine
 * preparer thread, so no decision here waits for it) and then tells it to swap
 * (`commit`, one reference assignment). Every other route is streamed to the primary
 * (proxy.ts); decisions are logged through the primary (decision-forwarder.ts).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { loadPackEngine, type LoadedEngine } from '../activate/load-engine.js';
import type { AgentConfig } from '../config/load.js';
import { Decider } from '../decide/decider.js';
import { DecisionRouter, type RouteOwner } from '../decide/router.js';
import type { WasmEngine } from '../engine/wasm.js';
import { buildDataApiServer } from '../http/server.js';
import { registerVerdictRoute } from '../http/verdict-route.js';
import type { ActivePack } from '../activate/types.js';
import type { DecisionLog } from '../decision-log/decision-log.js';
import type { Governance } from '../govern/verdict/governance.js';
import type { DecisionTracing } from '../observe/decision-tracing.js';
import type { Logger } from '../observe/logger.js';
import { WardenMetrics } from '../observe/metrics.js';
import { AGENT_LIMIT_KEYS, type PackLimits } from '../pack/limits.js';
import { MANIFEST_PATH, parseManifest } from '../pack/manifest.js';
import { readPack } from '../pack/reader.js';
import { deciderOptionsFrom } from '../decide/decider-options.js';
import { EnginePreparer } from '../workers/preparer.js';
import type { DecisionLogEvent } from '../decision-log/decision-log-event.js';
import { DecisionForwarder } from './decision-forwarder.js';
import type { MetricJson, PackMeta } from './protocol.js';
import { proxyTo } from './proxy.js';

/** A pack's active version in this process. */
class Owner implements RouteOwner {
  current: RouteOwner['current'] = undefined;
  readonly shadow = undefined;
  /** The primary's commit number this version came with: an older commit arriving late is ignored. */
  seq = 0;
}

/** What a serving process is started with. */
export interface ServingSetup {
  readonly config: AgentConfig;
  readonly packs: readonly string[];
  /** The pack limits the primary reads with (limits.*). */
  readonly limits: Partial<PackLimits>;
  readonly primary: { readonly host: string; readonly port: number };
  readonly log: Logger;
  /** Sends decision-log events to the primary; false when the channel is backed up. */
  readonly sendDecisions: (events: DecisionLogEvent[], at: number[]) => boolean;
}

/**
 * The requests a serving process answers itself: the data API (`/v1/data…`, `/v0/data/…`,
 * `POST /`) and, with governance, `POST /v1/verdict`.
 */
export function servedHere(req: IncomingMessage, verdicts: boolean): boolean {
  const url = req.url ?? '';
  if (url.startsWith('/v1/data')) return url.length === 8 || '/?'.includes(url.charAt(8));
  if (url.startsWith('/v0/data/')) return true;
  if (verdicts && url.startsWith('/v1/verdict')) return url.length === 11 || url.charAt(11) === '?';
  return req.method === 'POST' && (url === '/' || url.startsWith('/?'));
}

/** Verdicts in a serving process: governance built over its decider and router (the agent wires it). */
export interface ServingVerdicts {
  readonly governance: Governance;
  /** Called after each pack this process swaps in (decision cache flush, risks, kill-switch state). */
  activated(active: ActivePack): void;
  close(): Promise<void>;
}

/** Builds ServingVerdicts from this process's parts. */
export type VerdictsFactory = (parts: {
  readonly decider: Decider;
  readonly router: DecisionRouter;
  readonly decisionLog: Pick<DecisionLog, 'enqueue'> | undefined;
  readonly metrics: WardenMetrics;
  readonly log: Logger;
  readonly tracing: DecisionTracing;
}) => Promise<ServingVerdicts>;

/** One serving process's engines, router and data API. */
export class ServingAgent {
  readonly metrics = new WardenMetrics();
  readonly #config: AgentConfig;
  readonly #limits: Partial<PackLimits>;
  readonly #owners = new Map<string, Owner>();
  readonly #router: DecisionRouter<Owner>;
  /** Prepared packs by the primary's id; a committed one stays here until dropped. */
  readonly #engines = new Map<number, Promise<WasmEngine>>();
  readonly #preparer: EnginePreparer | undefined;
  readonly #forwarder: DecisionForwarder | undefined;
  readonly #proxy;
  readonly #decider: Decider;
  readonly #log: Logger;
  readonly #tracing: DecisionTracing;
  #verdicts: ServingVerdicts | undefined;
  readonly app: FastifyInstance;

  constructor(setup: ServingSetup) {
    this.#config = setup.config;
    this.#limits = setup.limits;
    for (const name of setup.packs) this.#owners.set(name, new Owner());
    this.#router = new DecisionRouter([...this.#owners.values()]);
    this.#preparer =
      process.env.WARDEN_ENGINE_PREPARER === 'off'
        ? undefined
        : new EnginePreparer({ log: setup.log, metrics: this.metrics });
    const d = setup.config.decision_log;
    this.#forwarder =
      d === undefined
        ? undefined
        : new DecisionForwarder({
            send: setup.sendDecisions,
            batchSize: d.batch_size,
            intervalMs: Math.min(d.flush_interval_ms, 100),
            limit: d.queue_limit,
            registry: this.metrics.registry,
          });
    this.#log = setup.log;
    const options = deciderOptionsFrom(setup.config, this.metrics, setup.log);
    this.#tracing = options.tracing;
    const decider = new Decider(this.#router, this.metrics, options);
    this.#decider = decider;
    this.#proxy = proxyTo(setup.primary);
    const proxy = this.#proxy.handle;
    this.app = buildDataApiServer({
      decider,
      metrics: this.metrics,
      log: setup.log,
      decisionLog: this.#forwarder,
      maxJsonDepth: setup.config.limits.max_json_depth,
      maxBodyBytes: setup.config.limits.max_body_bytes,
      defaultDecision: setup.config.default_decision,
      serverFactory: (handler) =>
        createServer((req, res) => {
          if (servedHere(req, this.#verdicts !== undefined)) handler(req, res);
          else proxy(req, res);
        }),
    });
  }

  /** Answers `POST /v1/verdict` here too (before listen): governance over this process's packs. */
  async enableVerdicts(factory: VerdictsFactory): Promise<void> {
    const verdicts = await factory({
      decider: this.#decider,
      router: this.#router,
      decisionLog: this.#forwarder,
      metrics: this.metrics,
      log: this.#log,
      tracing: this.#tracing,
    });
    this.#verdicts = verdicts;
    registerVerdictRoute(this.app, verdicts.governance);
  }

  /** Reads, compiles and golden-checks a verified pack off the request path; rejects with a coded error. */
  prepare(id: number, pack: Uint8Array): Promise<void> {
    let loading = this.#engines.get(id);
    if (loading === undefined) {
      loading = this.#load(pack);
      this.#engines.set(id, loading);
      // A failed load is not kept: the primary refuses the pack.
      loading.catch(() => {
        if (this.#engines.get(id) === loading) this.#engines.delete(id);
      });
    }
    return loading.then(() => undefined);
  }

  /** Makes prepared pack `id` the one that answers `meta.name`; a commit older than the one in place is ignored. */
  async commit(id: number, seq: number, meta: PackMeta): Promise<void> {
    const owner = this.#owners.get(meta.name);
    const loading = this.#engines.get(id);
    // Neither can happen: the primary commits only configured packs it prepared here first.
    if (!owner) throw new Error(`pack ${meta.name} is not configured here`);
    if (!loading) throw new Error(`pack ${meta.name}: version ${id} was not prepared here`);
    const engine = await loading;
    if (seq <= owner.seq) return;
    owner.seq = seq;
    const active = { ...meta, engine };
    owner.current = active;
    this.#router.rebuild();
    this.#verdicts?.activated(active);
  }

  /** Forgets pack `id` (it stopped being active, or never became so); the version in place keeps answering until replaced. */
  drop(id: number): void {
    this.#engines.delete(id);
  }

  /** Listens on the agent's address (shared with the other serving processes); the port. */
  async listen(): Promise<number> {
    const listen = this.#config.listen;
    const i = listen.lastIndexOf(':');
    await this.app.listen({ host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) });
    const address = this.app.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** The counters and histograms of this process, for the primary's /metrics (its gauges are the primary's to tell). */
  async metricsJson(): Promise<MetricJson[]> {
    const all = await this.metrics.registry.getMetricsAsJSON();
    return all.filter(
      (m) =>
        ['counter', 'histogram'].includes(String(m.type)) &&
        !m.name.startsWith('process_') &&
        !m.name.startsWith('nodejs_'),
    );
  }

  /** Stops taking connections, answers what is in flight, sends the last decision-log events. */
  async close(): Promise<void> {
    await this.app.close();
    await this.#verdicts?.close();
    this.#forwarder?.flush();
    this.#proxy.close();
    await this.#preparer?.close();
  }

  /** The channel to the primary drained: held decision-log events may leave. */
  drained(): void {
    this.#forwarder?.drained();
  }

  // The whole load (decompress, read, compile, data, golden) runs on the preparer thread; here only the adoption.
  async #load(pack: Uint8Array): Promise<WasmEngine> {
    if (this.#preparer) return (await this.#preparer.loadPack(pack, this.#limits, AGENT_LIMIT_KEYS)).engine;
    const files = await readPack(Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength), this.#limits, {
      limitKeys: AGENT_LIMIT_KEYS,
    });
    const loaded: LoadedEngine = await loadPackEngine(files, parseManifest(files.get(MANIFEST_PATH)));
    return loaded.engine;
  }
}
