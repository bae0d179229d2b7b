/**
 * The agent's composition root: opens the store (lock), boots every pack from
 * the store and its source (boot.ts), then serves the API and keeps the
 * sources running. Boot rules: no valid pack anywhere → BOOT_NO_VALID_PACK
 * (fail fast); a verified stored pack serves at once, reported stale until its
 * source confirms it.
 *
 * startAgent is a list of stages; every part that needs closing is pushed on
 * one last-in-first-out list (closers.ts) as soon as it has started, so the
 * running agent's close() and a start that fails half-way undo the same parts,
 * in the reverse of the order they started in. Each configuration section is
 * mapped to its consumer's options beside the wiring of that consumer
 * (wiring.ts, events.ts, governance.ts, boot.ts).
 */
import type { ActivePack, Activator } from '../activate/activator.js';
import { loadAdminAuth } from '../admin/auth.js';
import { registerAdmin } from '../admin/routes.js';
import type { AgentConfig } from '../config/load.js';
import { buildApiServer } from '../http/server.js';
import { deciderOptionsFrom } from '../decide/decider-options.js';
import { Decider } from '../decide/decider.js';
import { DecisionRouter } from '../decide/router.js';
import { WardenError, messageOf } from '../errors.js';
import { DecisionLog } from '../decision-log/decision-log.js';
import type { Governance } from '../govern/verdict/governance.js';
import type { KillSwitches } from '../govern/verdict/kill-switch.js';
import type { Logger } from '../observe/logger.js';
import { WardenMetrics } from '../observe/metrics.js';
import { AGENT_LIMIT_KEYS } from '../pack/limits.js';
import { PackStore } from '../store/store.js';
import { bootOptionsFrom, bootPacks, onAbort, throwIfInterrupted } from './boot.js';
import { Closers } from './closers.js';
import { startEvents, type AgentEvents } from './events.js';
import {
  governanceHealth,
  optionalPacks,
  prepareGovernance,
  startGovernance,
  writeEvidence,
} from './governance-wiring.js';
import {
  buildPackRuntimes,
  decisionLogOptionsFrom,
  packLimitsFrom,
  startSources,
  stopSources,
  type PackRuntime,
} from './wiring.js';
import { DecisionPool } from '../workers/pool.js';
import type { EngineLoader } from '../activate/prepare.js';
import { EnginePreparer } from '../workers/preparer.js';
import type { Engine } from '../engine/engine.js';
import { opaPackNames, startOpaEngine, type OpaEngineRuntime } from './opa-wiring.js';
import { ShadowEvaluator, shadowLogDir } from '../shadow/evaluator.js';
import { ServingProcesses, servingProcessCount } from '../serve/processes.js';

/** A started agent. */
export interface RunningAgent {
  /** Base URL of the API, e.g. http://127.0.0.1:8181 */
  readonly url: string;
  readonly packs: readonly PackRuntime[];
  readonly metrics: WardenMetrics;
  /** The in-process decision path (what the HTTP data API calls). */
  readonly decider: Decider;
  /** Evaluates the shadows of packs in rollout mode shadow (absent when no pack is). */
  readonly shadows: ShadowEvaluator | undefined;
  /** The serving processes (absent with `http_processes: 1`): their state, and killProcess for fault drills. */
  readonly servingProcesses: ServingProcesses | undefined;
  /** The decision worker threads (absent with `decision_workers: 0`): their state, and killWorker for fault drills. */
  readonly decisionWorkers: DecisionPool | undefined;
  /** The thread that prepares local engines (started at the first local load; absent with WARDEN_ENGINE_PREPARER=off): its state, and kill for fault drills. */
  readonly enginePreparer: EnginePreparer | undefined;
  /** Events: subscribe in-process (`events.subscribe`), or read the log. */
  readonly events: AgentEvents;
  /** Verdicts in-process (what POST /v1/verdict and the middleware call); absent without a `governance:` block. */
  readonly governance: Governance | undefined;
  /** The kill-switch state; absent without a `governance:` block. */
  readonly killSwitches: KillSwitches | undefined;
  /** Where boot evidence was written (standard mode: undefined if it failed). Resolves once the write is done. */
  readonly evidence: Promise<string | undefined>;
  /** The decision log (absent without a `decision_log:` block): in-process callers that decide log here as the data API does. */
  readonly decisionLog: Pick<DecisionLog, 'enqueue'> | undefined;
  /** Writes every queued decision-log event now (resolves at once without a decision log). */
  drainDecisionLog(): Promise<void>;
  /** Stops sources and the server, drains the decision log, releases the store lock. */
  close(): Promise<void>;
}

/** How startAgent is run. */
export interface StartOptions {
  /** Aborting it (SIGTERM while booting) ends every boot wait at once: startAgent rejects with BOOT_INTERRUPTED. */
  readonly signal?: AbortSignal | undefined;
}

/** Starts an agent for a loaded configuration. */
export async function startAgent(
  config: AgentConfig,
  log: Logger,
  metrics = new WardenMetrics(),
  options: StartOptions = {},
): Promise<RunningAgent> {
  const { signal } = options;
  const closers = new Closers();
  try {
    // State and plumbing: the store (and its lock), the event log and webhooks, the admin token.
    const packLimits = { limits: packLimitsFrom(config.limits), limitKeys: AGENT_LIMIT_KEYS };
    const store = await PackStore.open(config.data_dir, { historyLimit: config.history_limit, packLimits });
    closers.push(() => store.close());
    const events = await startEvents(config, log, metrics);
    closers.push(() => events.close());
    const adminAuth = await loadAdminAuth(config.admin.token_file);

    // Packs: governance's parts first (acceptance checks, activation hooks), then each pack's activator and source.
    const gov = config.governance ? prepareGovernance(config.governance, metrics, log) : undefined;
    const activators: Activator[] = [];
    const router = new DecisionRouter(activators);
    const entries = gov?.killSwitchPack ? [...config.packs, gov.killSwitchPack] : config.packs;
    // Serving processes (http_processes above 1): they answer the data API on `listen`; this
    // process keeps everything else and hands them each pack it activates (src/serve/).
    const processCount = servingProcessCount(config.http_processes);
    const serving =
      processCount > 1
        ? new ServingProcesses({
            size: processCount,
            config,
            packs: entries.map((p) => p.name),
            limits: packLimitsFrom(config.limits),
            metrics,
            log,
            entry: new URL('./serving-process', import.meta.url),
          })
        : undefined;
    const onActivated = (active: ActivePack): void => {
      router.rebuild();
      gov?.activated(active);
      serving?.activated(active);
    };
    // Decision workers: packs other than governance's are loaded and answered there, off this thread.
    // With serving processes the data API is answered there, so 'auto' starts none here.
    const pool =
      config.decision_workers === 0 || (serving && config.decision_workers === 'auto')
        ? undefined
        : new DecisionPool({ size: config.decision_workers, metrics, log, limits: packLimitsFrom(config.limits) });
    if (pool) closers.push(() => pool.close());
    // Local engines (governance's packs; every pack with decision_workers: 0) are prepared on a
    // thread of their own and adopted here in O(1), so an activation does not hold up decisions.
    // WARDEN_ENGINE_PREPARER=off loads them on this thread instead (as before; a fallback).
    const preparer = process.env.WARDEN_ENGINE_PREPARER === 'off' ? undefined : new EnginePreparer({ log, metrics });
    if (preparer) closers.push(() => preparer.close());
    // engine: opa — a real OPA answers those packs; it is up before any of them is activated.
    const opa = await startOpaEngine(config, opaPackNames(config), { metrics, log });
    if (opa) closers.push(() => opa.close());
    // Shadows (rollout mode shadow): evaluated by one timer of this thread, off the request path.
    const shadows = config.packs.some((p) => p.rollout?.mode === 'shadow')
      ? new ShadowEvaluator({ dir: shadowLogDir(config.data_dir), log, registry: metrics.registry })
      : undefined;
    if (shadows) {
      shadows.start();
      closers.push(() => shadows.close());
    }
    const packDeps = {
      shadows,
      store,
      metrics,
      log,
      emit: events.emit,
      onActivated,
      engines: pool?.loader,
      localEngines: preparer?.loader,
      opaEngines: opa ? opaLoaders(opaPackNames(config), opa) : undefined,
      serving: serving ? (name: string, loader: EngineLoader) => serving.loaderFor(name, loader) : undefined,
    };
    const runtimes = await buildPackRuntimes(entries, config, packDeps, (name) => gov?.accept(name));
    activators.push(...runtimes.map((r) => r.activator));
    closers.push(() => stopSources(runtimes));

    // Boot: an abort (SIGTERM) stops the sources, which ends any fetch in flight; boot then throws BOOT_INTERRUPTED.
    const stopListening = onAbort(signal, () => void stopSources(runtimes));
    closers.push(stopListening);
    await bootPacks(runtimes, optionalPacks(gov), log, bootOptionsFrom(config.boot, signal));
    router.rebuild();

    // Decisions: the decider, the decision log, governance's verdicts.
    const deciderOptions = deciderOptionsFrom(config, metrics, log);
    const decider = new Decider(router, metrics, deciderOptions);
    const decisionLog = config.decision_log
      ? new DecisionLog(decisionLogOptionsFrom(config.decision_log, config.data_dir, { metrics, log }))
      : undefined;
    if (decisionLog) {
      decisionLog.start();
      closers.push(() => decisionLog.close());
    }
    const verdicts = gov
      ? await startGovernance(gov, {
          decider,
          router,
          decisionLog,
          metrics,
          log,
          tracing: deciderOptions.tracing,
        })
      : undefined;
    if (verdicts) closers.push(() => verdicts.close());
    const governance = verdicts?.governance;

    // Boot evidence, off the critical path: standard mode never waits for it; strict mode waits before listening.
    const evidence = writeEvidence(config, activeOf(runtimes), metrics, log);
    if (config.governance?.evidence.strict) await evidence;
    throwIfInterrupted(signal);

    // Serve: the API and the admin routes, then listen.
    const health = {
      ...governanceHealth(gov),
      ...(pool ? { workers: () => pool.state() } : {}),
      ...(opa ? { opa: () => opa.state() } : {}),
      ...(serving
        ? { processes: () => serving.state(), metricsText: () => serving.metricsText(metrics.registry) }
        : {}),
    };
    const app = buildApiServer({
      activators,
      decider,
      metrics,
      log,
      governance,
      decisionLog,
      health,
      maxJsonDepth: config.limits.max_json_depth,
      maxBodyBytes: config.limits.max_body_bytes,
      defaultDecision: config.default_decision,
      // Behind serving processes, a request's client is the one they name in X-Forwarded-For.
      ...(serving ? { trustProxy: '127.0.0.1' } : {}),
    });
    const adminPacks = new Map(runtimes.map((r) => [r.config.name, { activator: r.activator, source: r.source }]));
    registerAdmin(app, { packs: adminPacks, store, auth: adminAuth, events: events.log, log, packLimits });
    // With serving processes this server listens on the loopback only, behind them; they share `listen`.
    let url = await listen(app, serving ? '127.0.0.1:0' : config.listen);
    closers.push(() => app.close());
    if (serving) {
      closers.push(() => serving.close());
      const port = await serving.start({ host: '127.0.0.1', port: portOf(url) }, decisionLog);
      url = urlOf(config.listen, port);
    }
    stopListening();

    // Sources start after listen: their poll loops run from here on.
    startSources(runtimes);
    closers.push(() => stopSources(runtimes));
    log.info(
      { url, packs: runtimes.map((r) => ({ name: r.config.name, digest: r.activator.current?.digest })) },
      'warden agent listening',
    );

    return {
      url,
      packs: runtimes,
      metrics,
      decider,
      decisionWorkers: pool,
      servingProcesses: serving,
      enginePreparer: preparer,
      shadows,
      events,
      governance,
      killSwitches: gov?.killSwitches,
      evidence,
      decisionLog,
      drainDecisionLog: async () => decisionLog?.drain(),
      close: () => closers.close(),
    };
  } catch (err) {
    await closers.close();
    throw err;
  }
}

// Listens on `listen` ("host:port" or "[v6]:port"); the URL the API is reached at. LISTEN_FAILED if it cannot.
async function listen(app: ReturnType<typeof buildApiServer>, listen: string): Promise<string> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  try {
    await app.listen({ host, port: Number(listen.slice(i + 1)) });
  } catch (err) {
    throw new WardenError('LISTEN_FAILED', `cannot listen on ${listen}: ${messageOf(err)}`, { cause: err });
  }
  const address = app.server.address();
  return typeof address === 'object' && address ? urlOf(listen, address.port) : `http://${listen}`;
}

// The URL of `listen` ("host:port") with the port it was given.
function urlOf(listen: string, port: number): string {
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

// The loader of each pack OPA answers.
function opaLoaders(
  names: readonly string[],
  opa: OpaEngineRuntime,
): (name: string, current: () => Engine | undefined) => EngineLoader | undefined {
  const set = new Set(names);
  return (name, current) => (set.has(name) ? opa.loaderFor(name, current) : undefined);
}

// The active version of every pack that has one.
function activeOf(runtimes: readonly PackRuntime[]): ActivePack[] {
  return runtimes.map((r) => r.activator.current).filter((a): a is ActivePack => a !== undefined);
}
