/**
 * engine: opa in the agent: which packs OPA answers, the OPA process (started
 * and supervised, or connected to), and each such pack's engine loader. The
 * governance and kill-switch packs always stay on the embedded engine: verdicts
 * are synchronous in-process calls. docs/architecture.md#the-opa-engine.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { opaEngineLoader } from '../activate/opa-loader.js';
import type { EngineLoader } from '../activate/prepare.js';
import type { AgentConfig } from '../config/load.js';
import type { OpaEngineConfig } from '../config/schema.js';
import type { Engine } from '../engine/engine.js';
import { WardenError, messageOf } from '../errors.js';
import { OpaSidecar, opaBundleOf } from '../opa-engine/index.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { counter, gauge } from '../observe/register.js';

/** The OPA process and what the agent asks of it. */
export interface OpaEngineRuntime {
  /** The engine loader of pack `name`; `current` gives the pack's active engine. */
  loaderFor(name: string, current: () => Engine | undefined): EngineLoader;
  /** For /healthz: up, pid, restarts and the revision OPA reports per bundle. */
  state(): { readonly up: boolean } & Record<string, unknown>;
  close(): Promise<void>;
}

/** The names of the packs OPA answers: those whose engine (their own, else the agent's) is opa, governance's excepted. */
export function opaPackNames(config: AgentConfig): string[] {
  const governance = config.governance?.pack;
  return config.packs.filter((p) => (p.engine ?? config.engine) === 'opa' && p.name !== governance).map((p) => p.name);
}

/** Starts (or connects to) OPA for `packs`; undefined when no pack uses it. */
export async function startOpaEngine(
  config: AgentConfig,
  packs: readonly string[],
  deps: { readonly metrics: WardenMetrics; readonly log: Logger },
): Promise<OpaEngineRuntime | undefined> {
  if (packs.length === 0) return undefined;
  const o: OpaEngineConfig = config.opa ?? { ...OPA_DEFAULTS };
  const registry = deps.metrics.registry;
  const up = gauge(registry, 'opa_engine_up');
  const restarts = counter(registry, 'opa_engine_restarts_total');
  const timeouts = counter(registry, 'opa_engine_decision_timeouts_total');
  const failures = counter(registry, 'opa_engine_activation_failures_total');
  const token = o.token_file === undefined ? undefined : await readToken(o.token_file);
  const sidecar = new OpaSidecar({
    mode: o.mode,
    ...(config.opa_path !== undefined ? { opaPath: config.opa_path } : {}),
    ...(o.url !== undefined ? { url: o.url } : {}),
    ...(o.bundle_listen !== undefined ? { bundleListen: hostPort(o.bundle_listen) } : {}),
    ...(token !== undefined ? { bearerToken: token } : {}),
    runDir: join(config.data_dir, 'opa'),
    packs,
    activationTimeoutMs: o.activation_timeout_seconds * 1000,
    logger: deps.log,
  });
  sidecar.on('exit', () => up.set(0));
  sidecar.on('restarted', () => restarts.inc());
  sidecar.on('up', () => up.set(1));
  await sidecar.start();
  up.set(sidecar.state().up ? 1 : 0);
  const timeout = { timeoutMs: o.decision_timeout_ms, action: o.on_timeout, failOpen: o.fail_open };
  return {
    loaderFor: (pack, current) =>
      opaEngineLoader({
        pack,
        opa: sidecar,
        bundleOf: opaBundleOf,
        timeout,
        current,
        timeouts,
        failures,
        log: deps.log,
      }),
    state: () => ({ mode: o.mode, ...sidecar.state() }),
    close: () => sidecar.close(),
  };
}

const OPA_DEFAULTS: OpaEngineConfig = {
  mode: 'child',
  decision_timeout_ms: 100,
  on_timeout: 'fail_closed',
  fail_open: {},
  activation_timeout_seconds: 30,
};

// `host:port` → its parts ("[::1]:8282" too).
function hostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

// The bearer token OPA presents to Warden's bundle endpoint (connect mode).
async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `opa.token_file ${path}: ${messageOf(err)}`, { cause: err });
  }
  if (text.length < 16)
    throw new WardenError('CONFIG_INVALID', `opa.token_file ${path}: the token is shorter than 16 characters`);
  return text;
}
