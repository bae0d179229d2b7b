/**
 * The agent: opens the store (lock), boots every pack from the store and its
 * source (boot.ts), then serves the API and keeps the sources running. Boot
 * rules: no valid pack anywhere → BOOT_NO_VALID_PACK (fail fast); a verified
 * stored pack serves at once, reported stale until its source confirms it.
 */
import { join } from 'node:path';
import type { ActivePack, Activator } from '../activate/activator.js';
import { loadAdminAuth } from '../admin/auth.js';
import { registerAdmin } from '../admin/routes.js';
import type { AgentConfig } from '../config/load.js';
import { buildApiServer } from '../http/server.js';
import { Decider } from '../decide/decider.js';
import { DecisionRouter } from '../decide/router.js';
import type { HealthExtras } from '../http/health.js';
import { WardenError, messageOf } from '../errors.js';
import { DecisionLog } from '../decision-log/decision-log.js';
import type { Governance } from '../govern/verdict/governance.js';
import type { KillSwitches } from '../govern/verdict/kill-switch.js';
import type { Logger } from '../observe/logger.js';
import { WardenMetrics } from '../observe/metrics.js';
import { PackStore } from '../store/store.js';
import { bootOptionalPack, bootPack, throwIfInterrupted, type BootOptions } from './boot.js';
import { startEvents, type AgentEvents } from './events.js';
import { prepareGovernance, startGovernance, writeEvidence } from './governance-wiring.js';
import { buildPackRuntime, type PackRuntime } from './wiring.js';

/** A started agent. */
export interface RunningAgent {
  /** Base URL of the API, e.g. http://127.0.0.1:8181 */
  readonly url: string;
  readonly packs: readonly PackRuntime[];
  readonly metrics: WardenMetrics;
  /** The in-process decision path (what the HTTP data API calls). */
  readonly decider: Decider;
  /** Events: subscribe in-process (`events.subscribe`), or read the log. */
  readonly events: AgentEvents;
  /** Verdicts in-process (what POST /v1/verdict and the middleware call); absent without a `governance:` block. */
  readonly governance: Governance | undefined;
  /** The kill-switch state; absent without a `governance:` block. */
  readonly killSwitches: KillSwitches | undefined;
  /** Where boot evidence was written (standard mode: undefined if it failed). Resolves once the write is done. */
  readonly evidence: Promise<string | undefined>;
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
export async function startAgent(config: AgentConfig, log: Logger, metrics = new WardenMetrics(), options: StartOptions = {}): Promise<RunningAgent> {
  const store = await PackStore.open(config.data_dir, { historyLimit: config.history_limit });
  const runtimes: PackRuntime[] = [];
  const signal = options.signal;
  // An abort stops the sources, which ends any fetch in flight; boot then throws BOOT_INTERRUPTED.
  const interrupt = (): void => void Promise.all(runtimes.map((r) => r.source.stop()));
  signal?.addEventListener('abort', interrupt, { once: true });
  let events: AgentEvents | undefined;
  let decisionLog: DecisionLog | undefined;
  let closeGovernance = (): void => undefined;
  try {
    events = await startEvents(config, log, metrics);
    const emit = events.emit;
    const adminAuth = await loadAdminAuth(config.admin.token_file);
    const activators: Activator[] = [];
    const router = new DecisionRouter(activators);
    const gov = config.governance ? prepareGovernance(config.governance, metrics, log) : undefined;
    const onActivated = (active: ActivePack): void => {
      router.rebuild();
      gov?.activated(active);
    };
    const entries = gov?.killSwitchPack ? [...config.packs, gov.killSwitchPack] : config.packs;
    for (const p of entries) {
      const runtime = await buildPackRuntime(p, config, { store, metrics, log, emit, onActivated, accept: gov?.accept(p.name) });
      runtimes.push(runtime);
      activators.push(runtime.activator);
    }
    const killSwitchName = gov?.killSwitchPack?.name;
    const boot: BootOptions = { sourceWaitMs: config.boot.source_wait_seconds * 1000, signal };
    for (const r of runtimes) {
      throwIfInterrupted(signal);
      if (r.config.name === killSwitchName) await bootOptionalPack(r, log, boot);
      else await bootPack(r, log, boot);
    }
    router.rebuild();

    const decider = new Decider(router, metrics);
    if (config.decision_log) {
      const d = config.decision_log;
      decisionLog = new DecisionLog({
        dir: d.dir ?? join(config.data_dir, 'decisions'),
        queueLimit: d.queue_limit,
        batchSize: d.batch_size,
        flushIntervalMs: d.flush_interval_ms,
        maxFileBytes: d.max_file_bytes,
        maxFiles: d.max_files,
        registry: metrics.registry,
        log: log.child({ component: 'decision-log' }),
      });
      decisionLog.start();
    }
    let governance: Governance | undefined;
    if (gov) {
      const started = await startGovernance(gov, { decider, router, decisionLog, metrics, log });
      governance = started.governance;
      closeGovernance = () => started.close();
    }
    // Boot evidence, off the critical path: standard mode never waits for it; strict mode waits before listening.
    const evidence = writeEvidence(config, activeOf(runtimes), metrics, log);
    if (config.governance?.evidence.strict) await evidence;
    throwIfInterrupted(signal);

    const health: HealthExtras = {
      optional: new Set(killSwitchName ? [killSwitchName] : []),
      ...(gov ? { governance: () => ({ kill_switches_loaded: gov.killSwitches.loaded, kill_switches: gov.killSwitches.snapshot(), cache_entries: gov.cache?.size ?? 0 }) } : {}),
    };
    const app = buildApiServer({ activators, decider, metrics, log, governance, decisionLog, health, maxJsonDepth: config.limits.max_json_depth });
    const adminPacks = new Map(runtimes.map((r) => [r.config.name, { activator: r.activator, source: r.source }]));
    registerAdmin(app, { packs: adminPacks, store, auth: adminAuth, events: events.log, log });
    const [host, port] = splitListen(config.listen);
    try {
      await app.listen({ host, port });
    } catch (err) {
      throw new WardenError('LISTEN_FAILED', `cannot listen on ${config.listen}: ${messageOf(err)}`, { cause: err });
    }
    signal?.removeEventListener('abort', interrupt);
    const address = app.server.address();
    const url = typeof address === 'object' && address ? `http://${host.includes(':') ? `[${host}]` : host}:${address.port}` : `http://${config.listen}`;
    for (const r of runtimes) r.source.start((u) => r.activator.submit(u));
    log.info({ url, packs: runtimes.map((r) => ({ name: r.config.name, digest: r.activator.current?.digest })) }, 'warden agent listening');

    const agentEvents = events;
    const log_ = decisionLog;
    const closeGov = closeGovernance;
    return {
      url,
      packs: runtimes,
      metrics,
      decider,
      events: agentEvents,
      governance,
      killSwitches: gov?.killSwitches,
      evidence,
      drainDecisionLog: async () => log_?.drain(),
      async close() {
        await Promise.all(runtimes.map((r) => r.source.stop()));
        await app.close();
        await log_?.close();
        closeGov();
        await agentEvents.close();
        await store.close();
      },
    };
  } catch (err) {
    signal?.removeEventListener('abort', interrupt);
    await Promise.all(runtimes.map((r) => r.source.stop()));
    await decisionLog?.close();
    closeGovernance();
    await events?.close();
    await store.close();
    throw err;
  }
}

// The active version of every pack that has one.
function activeOf(runtimes: readonly PackRuntime[]): ActivePack[] {
  return runtimes.map((r) => r.activator.current).filter((a): a is ActivePack => a !== undefined);
}

// "host:port" or "[v6]:port" → [host, port].
function splitListen(listen: string): [string, number] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), Number(listen.slice(i + 1))];
}
