/**
 * The agent: opens the store (lock), boots every pack from the store and its
 * source, then serves the API and keeps the sources running. Boot rules
 * (SPEC 7): no valid pack anywhere → BOOT_NO_VALID_PACK (fail fast); a stored
 * pack but an unreachable source → start on it and report it stale.
 */
import type { Activator } from '../activate/activator.js';
import { loadAdminAuth } from '../admin/auth.js';
import { registerAdmin } from '../admin/routes.js';
import type { AgentConfig } from '../config/load.js';
import { buildApiServer } from '../decide/server.js';
import { Decider } from '../decide/decider.js';
import { DecisionRouter } from '../decide/router.js';
import { WardenError, toWardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { WardenMetrics } from '../observe/metrics.js';
import { PackStore } from '../store/store.js';
import { startEvents, type AgentEvents } from './events.js';
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
  /** Stops sources, the server and releases the store lock. */
  close(): Promise<void>;
}

/** Starts an agent for a loaded configuration. */
export async function startAgent(config: AgentConfig, log: Logger, metrics = new WardenMetrics()): Promise<RunningAgent> {
  const store = await PackStore.open(config.data_dir, { historyLimit: config.history_limit });
  const runtimes: PackRuntime[] = [];
  let events: AgentEvents | undefined;
  try {
    events = await startEvents(config, log, metrics);
    const emit = events.emit;
    const adminAuth = await loadAdminAuth(config.admin.token_file);
    const activators: Activator[] = [];
    const router = new DecisionRouter(activators);
    for (const p of config.packs) {
      const runtime = await buildPackRuntime(p, config, { store, metrics, log, emit, onActivated: () => router.rebuild() });
      runtimes.push(runtime);
      activators.push(runtime.activator);
    }
    for (const r of runtimes) await bootPack(r, log);
    router.rebuild();

    const decider = new Decider(router, metrics);
    const app = buildApiServer({ activators, decider, metrics, log });
    const adminPacks = new Map(runtimes.map((r) => [r.config.name, { activator: r.activator, source: r.source }]));
    registerAdmin(app, { packs: adminPacks, store, auth: adminAuth, events: events.log, log });
    const [host, port] = splitListen(config.listen);
    try {
      await app.listen({ host, port });
    } catch (err) {
      throw new WardenError('LISTEN_FAILED', `cannot listen on ${config.listen}: ${(err as Error).message}`, { cause: err });
    }
    const address = app.server.address();
    const url = typeof address === 'object' && address ? `http://${host.includes(':') ? `[${host}]` : host}:${address.port}` : `http://${config.listen}`;
    for (const r of runtimes) r.source.start((u) => r.activator.submit(u));
    log.info({ url, packs: runtimes.map((r) => ({ name: r.config.name, digest: r.activator.current?.digest })) }, 'warden agent listening');

    const agentEvents = events;
    return {
      url,
      packs: runtimes,
      metrics,
      decider,
      events: agentEvents,
      async close() {
        await Promise.all(runtimes.map((r) => r.source.stop()));
        await app.close();
        await agentEvents.close();
        await store.close();
      },
    };
  } catch (err) {
    await Promise.all(runtimes.map((r) => r.source.stop()));
    await events?.close();
    await store.close();
    throw err;
  }
}

/** Pauses between boot fetch attempts when the store had nothing: ~2 s in all, then BOOT_NO_VALID_PACK. */
const BOOT_RETRY_MS = [250, 500, 1000, 0];

// Store first, then the source; fail fast only when neither gave a pack.
async function bootPack(r: PackRuntime, log: Logger): Promise<void> {
  const name = r.config.name;
  const fromStore = await r.activator.boot();
  r.source.setActive(r.activator.current ? `"${r.activator.current.digest}"` : undefined);
  let fetchError: WardenError | undefined;
  // Fail fast, but not on one unlucky request: a server still starting or a publish in progress.
  for (const pause of BOOT_RETRY_MS) {
    fetchError = undefined;
    try {
      const outcome = await r.source.fetchOnce((u) => r.activator.submit(u));
      if (outcome?.status === 'refused') fetchError = outcome.error;
    } catch (err) {
      fetchError = toWardenError(err);
    }
    if (!fetchError || r.activator.current) break;
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  if (r.activator.current) {
    if (fetchError && fromStore) log.warn({ pack: name, code: fetchError.code, err: fetchError.message }, 'source unavailable at boot; serving the stored pack (stale)');
    return;
  }
  const why = fetchError ? `${fetchError.code}: ${fetchError.message}` : 'the source returned nothing';
  throw new WardenError('BOOT_NO_VALID_PACK', `pack "${name}": no valid pack in the store and none from its source (${why})`, {
    ...(fetchError ? { cause: fetchError } : {}),
  });
}

// "host:port" or "[v6]:port" → [host, port].
function splitListen(listen: string): [string, number] {
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i).replace(/^\[|\]$/g, ''), Number(listen.slice(i + 1))];
}
