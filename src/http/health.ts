/**
 * `/healthz`, `/readyz` and `/metrics`. Health is 200 while every configured
 * pack has a verified active version, and names for each pack its revision,
 * digest, digest age, last reload and last error (errors as data, docs/design.md#errors-are-data-with-stable-codes).
 */
import type { FastifyInstance } from 'fastify';
import type { Activator } from '../activate/activator.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { explain } from '../observe/server-error-log.js';

/** What health reports beyond the packs. */
export interface HealthExtras {
  /** Packs that may be without an active version (the kill-switch pack: cold-start defaults apply); they make health degraded, not unavailable. */
  readonly optional?: ReadonlySet<string>;
  /** The governance state, shown under `governance`. */
  readonly governance?: () => Record<string, unknown>;
  /** The decision workers' state, shown under `decision_workers`; a worker down makes health degraded. */
  readonly workers?: () => {
    readonly size: number;
    readonly ready: number;
    readonly loading: number;
    readonly down: number;
  };
  /** engine: opa — the OPA process's state, shown under `opa`; OPA down makes health degraded. */
  readonly opa?: () => { readonly up: boolean } & Record<string, unknown>;
  /** The serving processes' state, shown under `http_processes`; one down makes health degraded. */
  readonly processes?: () => {
    readonly size: number;
    readonly ready: number;
    readonly starting: number;
    readonly down: number;
  };
  /** The /metrics text, when it is more than this registry's (the serving processes' counters merged in). */
  readonly metricsText?: () => Promise<string>;
}

/** Registers the health, readiness and metrics endpoints. */
export function registerHealth(
  app: FastifyInstance,
  activators: readonly Activator[],
  metrics: WardenMetrics,
  extra: HealthExtras = {},
): void {
  const optional = extra.optional ?? new Set<string>();
  const required = activators.filter((a) => !optional.has(a.name));
  app.get('/healthz', (request, reply) => {
    const now = new Date();
    const packs = Object.fromEntries(activators.map((a) => [a.name, a.status(now)]));
    const allActive = required.every((a) => a.current !== undefined);
    const degraded = activators.some((a) => {
      const s = a.status(now);
      return s.stale || s.last_known_good || s.last_reload?.result === 'refused' || a.current === undefined;
    });
    if (!allActive) explain(request, notReady(required));
    void reply.code(allActive ? 200 : 503);
    const governance = extra.governance?.();
    const workers = extra.workers?.();
    const opa = extra.opa?.();
    const processes = extra.processes?.();
    const impaired = degraded || (workers?.down ?? 0) > 0 || opa?.up === false || (processes?.down ?? 0) > 0;
    return {
      status: !allActive ? 'unavailable' : impaired ? 'degraded' : 'ok',
      packs,
      ...(processes ? { http_processes: processes } : {}),
      ...(workers ? { decision_workers: workers } : {}),
      ...(opa ? { opa } : {}),
      ...(governance ? { governance } : {}),
    };
  });

  // OPA's health check, for probes and load balancers written for OPA: 200 {} while the server is up;
  // `?bundles`: 500 until every pack is active; `?plugins`: 500 while a "plugin" (the packs as
  // `bundle`, the decision workers as `decision_workers`, engine: opa's process as `opa`) is not up,
  // minus any `exclude-plugin`. A failure is OPA's `{"error": …}` with Warden's code beside it in `warden_code`.
  app.get<{ Querystring: Record<string, string | string[] | undefined> }>('/health', (request, reply) => {
    const q = request.query;
    const on = (name: string): boolean => name in q && q[name] !== 'false';
    const excluded = new Set([q['exclude-plugin'] ?? []].flat());
    const waiting = required.filter((a) => a.current === undefined).map((a) => a.name);
    let error: string | undefined;
    if (on('bundles') && waiting.length > 0) error = `one or more bundles are not activated: ${waiting.join(', ')}`;
    else if (on('plugins')) {
      const down = [
        ...(waiting.length > 0 && !excluded.has('bundle') ? ['bundle'] : []),
        ...((extra.workers?.().down ?? 0) > 0 && !excluded.has('decision_workers') ? ['decision_workers'] : []),
        ...(extra.opa?.().up === false && !excluded.has('opa') ? ['opa'] : []),
      ];
      if (down.length > 0) error = 'one or more plugins are not up';
    }
    if (error === undefined) return {};
    explain(request, { code: 'NOT_READY', message: error, details: { waiting } });
    return reply.code(500).send({ error, warden_code: 'NOT_READY' });
  });

  app.get('/readyz', (request, reply) => {
    const waiting = required.filter((a) => a.current === undefined).map((a) => a.name);
    if (waiting.length > 0) explain(request, notReady(required));
    void reply.code(waiting.length === 0 ? 200 : 503);
    return waiting.length === 0 ? { ready: true } : { ready: false, waiting };
  });

  app.get('/metrics', async (_request, reply) => {
    const now = new Date();
    let active = 0;
    for (const a of activators) {
      const s = a.status(now);
      if (s.active) active += 1;
      if (s.digest_age_seconds !== undefined)
        metrics.digestAge.set({ pack: a.name, source: s.source.kind }, s.digest_age_seconds);
      // An optional pack that never activated (kill switches on cold-start defaults) is not a missing policy.
      if (s.active || !optional.has(a.name)) metrics.stale.set({ pack: a.name }, s.stale ? 1 : 0);
    }
    metrics.policyCount.set(active);
    void reply.header('content-type', metrics.registry.contentType);
    return extra.metricsText ? extra.metricsText() : metrics.registry.metrics();
  });
}

// Why health and readiness answer 503: the packs with no active version yet.
function notReady(required: readonly Activator[]): {
  code: 'NOT_READY';
  message: string;
  details: { waiting: string[] };
} {
  const waiting = required.filter((a) => a.current === undefined).map((a) => a.name);
  return {
    code: 'NOT_READY',
    message: `no verified pack is active yet for ${waiting.join(', ')}`,
    details: { waiting },
  };
}
