/**
 * Governance in the agent, from the `governance:` block: the parts that must
 * exist before packs boot (kill switches, cache, the acceptance checks and
 * activation hooks of the governance and kill-switch packs), then the verdict
 * service once the decider exists, then boot evidence.
 *
 * Acceptance (before a pack may become active, so a bad update is refused and
 * the last-known-good stays): the governance pack must declare the verdict and
 * modules entrypoints, answer `{allow, reasons}` even to an empty context and
 * give well-formed module risks; the kill-switch pack must give a well-formed
 * state. On activation: every one flushes the decision cache; the governance
 * pack's risks and the kill-switch pack's state are read once into memory.
 */
import type { ActivePack } from '../activate/activator.js';
import type { Candidate } from '../activate/prepare.js';
import type { AgentConfig } from '../config/load.js';
import type { GovernanceConfig, PackConfig } from '../config/schema.js';
import type { Decider } from '../decide/decider.js';
import type { HealthExtras } from '../http/health.js';
import type { DecisionRouter } from '../decide/router.js';
import { requireLocal, type Engine } from '../engine/engine.js';
import { WardenError, toWardenError } from '../errors.js';
import { DecisionCache, type DecisionCacheOptions } from '../govern/cache/decision-cache.js';
import type { DecisionLog } from '../decision-log/decision-log.js';
import { writeBootEvidence, type EvidencePolicy } from '../govern/verdict/evidence.js';
import { Governance } from '../govern/verdict/governance.js';
import { jwksFromFile } from '../govern/tenant/jwks-file.js';
import { jwksFromUrl, type JwksSource } from '../govern/tenant/jwks.js';
import { KillSwitches, parseModuleRisks, parseSwitchState } from '../govern/verdict/kill-switch.js';
import { createTenantValidator, type TenantValidatorOptions } from '../govern/tenant/tenant.js';
import { RedisRevocation, readSecretFile } from '../govern/tenant/revocation-redis.js';
import { parsePolicyAnswer } from '../govern/verdict/verdict-shape.js';
import { counter } from '../observe/register.js';
import type { DecisionTracing } from '../observe/decision-tracing.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';

type TenantsSection = NonNullable<GovernanceConfig['tenants']>;

/** What exists before the packs boot. */
export interface GovernanceParts {
  readonly config: GovernanceConfig;
  readonly killSwitches: KillSwitches;
  readonly cache: DecisionCache | undefined;
  /** The kill-switch pack as a pack entry (built and booted like the others, but optional at boot). */
  readonly killSwitchPack: PackConfig | undefined;
  /** The acceptance check of pack `name`, if governance has one. */
  accept(name: string): ((candidate: Candidate) => void) | undefined;
  /** Call after every activation of any pack. */
  activated(active: ActivePack): void;
}

/** The parts for a configuration with a governance block. */
export function prepareGovernance(g: GovernanceConfig, metrics: WardenMetrics, log: Logger): GovernanceParts {
  const killSwitches = new KillSwitches(metrics.registry);
  const cache = g.cache.enabled ? new DecisionCache(decisionCacheOptionsFrom(g.cache, metrics)) : undefined;
  const ks = g.kill_switches;
  // No kill-switch pack configured: there are no switches, so nothing waits for a state.
  if (!ks) killSwitches.load(new Map(), 'none');
  const checkGovernance = (c: { entrypoints: readonly string[]; engine: Engine }): void => {
    requireEntrypoints(g.pack, c.entrypoints, [g.verdict_entrypoint, g.modules_entrypoint]);
    const probe = requireLocal(c.engine, g.pack).evaluate(g.verdict_entrypoint, {});
    if (!probe.defined || parsePolicyAnswer(probe.result) === undefined) {
      throw new WardenError(
        'GOVERNANCE_PACK_INVALID',
        `${g.verdict_entrypoint} must answer {"allow": boolean, "reasons": [string]} for every context (it gave ${probe.defined ? JSON.stringify(probe.result)?.slice(0, 200) : 'undefined'} for {})`,
      );
    }
    parseModuleRisks(valueOf(c.engine, g.modules_entrypoint), g.modules_entrypoint);
  };
  const checkKillSwitch = (c: { entrypoints: readonly string[]; engine: Engine }): void => {
    if (!ks) return;
    requireEntrypoints(ks.name, c.entrypoints, [ks.entrypoint]);
    parseSwitchState(valueOf(c.engine, ks.entrypoint), ks.entrypoint);
  };
  return {
    config: g,
    killSwitches,
    cache,
    killSwitchPack: ks ? { name: ks.name, source: ks.source, verify: ks.verify } : undefined,
    accept: (name) => (name === g.pack ? checkGovernance : name === ks?.name ? checkKillSwitch : undefined),
    activated(active) {
      cache?.flush('activation');
      try {
        if (active.name === g.pack)
          killSwitches.setRisks(parseModuleRisks(valueOf(active.engine, g.modules_entrypoint), g.modules_entrypoint));
        if (ks && active.name === ks.name) {
          killSwitches.load(parseSwitchState(valueOf(active.engine, ks.entrypoint), ks.entrypoint), active.revision, {
            pack: active.name,
            digest: active.digest,
          });
          log.info(
            { pack: active.name, revision: active.revision, switches: killSwitches.snapshot() },
            'kill-switch state loaded',
          );
        }
      } catch (err) {
        // Unreachable after acceptance; kept so a surprise never breaks the activation that called us.
        const e = toWardenError(err);
        log.error({ pack: active.name, code: e.code, err: e.message }, 'governance could not read the activated pack');
      }
    },
  };
}

/** The verdict service, once the decider exists. */
export async function startGovernance(
  parts: GovernanceParts,
  deps: {
    decider: Decider;
    router: DecisionRouter;
    decisionLog: Pick<DecisionLog, 'enqueue'> | undefined;
    metrics: WardenMetrics;
    log: Logger;
    tracing?: DecisionTracing | undefined;
  },
): Promise<{ governance: Governance; revocation: RedisRevocation | undefined; close(): Promise<void> }> {
  const t = parts.config.tenants;
  let keys: (JwksSource & { close?: () => void }) | undefined;
  if (t) keys = t.jwks_file !== undefined ? await jwksFromFile(t.jwks_file) : jwksFromUrl(t.jwks_url ?? '');
  const revocation = t?.revocation
    ? await redisRevocationFrom(t.revocation, deps.metrics, deps.log.child({ component: 'revocation' }))
    : undefined;
  const tenants =
    t && keys ? createTenantValidator({ ...tenantValidatorOptionsFrom(t, keys, deps.metrics), revocation }) : undefined;
  revocation?.start();
  const governance = new Governance({
    decider: deps.decider,
    router: deps.router,
    entrypoint: parts.config.verdict_entrypoint,
    killSwitches: parts.killSwitches,
    cache: parts.cache,
    decisionLog: deps.decisionLog,
    tenants,
    registry: deps.metrics.registry,
    log: deps.log.child({ component: 'governance' }),
    tracing: deps.tracing,
  });
  return {
    governance,
    revocation,
    close: async () => {
      tenants?.close();
      keys?.close?.();
      await revocation?.close();
    },
  };
}

/** The Redis revocation check from `governance.tenants.revocation`, its credential files read (not yet started). */
export async function redisRevocationFrom(
  r: NonNullable<TenantsSection['revocation']>,
  metrics: WardenMetrics,
  log: Logger,
): Promise<RedisRevocation> {
  const file = (path: string | undefined, what: string): Promise<string | undefined> =>
    path === undefined ? Promise.resolve(undefined) : readSecretFile(path, what);
  return new RedisRevocation({
    url: r.redis.url,
    username: await file(r.redis.username_file, 'redis.username_file'),
    password: await file(r.redis.password_file, 'redis.password_file'),
    ca: await file(r.redis.tls?.ca_file, 'redis.tls.ca_file'),
    keyPrefix: r.key_prefix,
    refreshMs: r.refresh_seconds * 1000,
    staleAfterMs: r.stale_after_seconds * 1000,
    onStale: r.on_stale,
    registry: metrics.registry,
    log,
  });
}

/** DecisionCache options from `governance.cache`. */
export function decisionCacheOptionsFrom(c: GovernanceConfig['cache'], metrics: WardenMetrics): DecisionCacheOptions {
  return { maxEntries: c.max_entries, ttlMs: c.ttl_seconds * 1000, registry: metrics.registry };
}

/** Tenant validator options from `governance.tenants`, with its keys already opened. */
export function tenantValidatorOptionsFrom(
  t: TenantsSection,
  keys: JwksSource,
  metrics: WardenMetrics,
): TenantValidatorOptions {
  return {
    issuer: t.issuer,
    audience: typeof t.audience === 'string' ? t.audience : [...t.audience],
    algorithms: [...t.algorithms],
    keys,
    tenantClaim: t.tenant_claim,
    tenantHeader: t.tenant_header,
    clockToleranceSeconds: t.clock_tolerance_seconds,
    tokenCacheSeconds: t.token_cache_seconds,
    tokenCacheEntries: t.token_cache_entries,
    registry: metrics.registry,
  };
}

/** The packs the agent can run without: the kill-switch pack (booted with bootOptionalPack; not required by /healthz). */
export function optionalPacks(parts: GovernanceParts | undefined): ReadonlySet<string> {
  const name = parts?.killSwitchPack?.name;
  return new Set(name ? [name] : []);
}

/** What /healthz adds for governance: the optional packs, and the state of the switches and the cache. */
export function governanceHealth(parts: GovernanceParts | undefined): HealthExtras {
  return {
    optional: optionalPacks(parts),
    ...(parts
      ? {
          governance: () => ({
            kill_switches_loaded: parts.killSwitches.loaded,
            kill_switches: parts.killSwitches.snapshot(),
            cache_entries: parts.cache?.size ?? 0,
          }),
        }
      : {}),
  };
}

/** The environment name written into boot evidence. */
export function environmentName(config: AgentConfig): string {
  return config.governance?.environment ?? process.env.WARDEN_ENVIRONMENT ?? process.env.NODE_ENV ?? 'development';
}

// Every entrypoint governance needs must be declared by the pack.
function requireEntrypoints(pack: string, declared: readonly string[], needed: readonly string[]): void {
  const missing = needed.filter((e) => !declared.includes(e));
  if (missing.length > 0) {
    throw new WardenError(
      'GOVERNANCE_PACK_INVALID',
      `pack ${pack} does not declare ${missing.join(', ')} (it declares ${declared.join(', ') || 'nothing'})`,
      { details: { missing } },
    );
  }
}

// An entrypoint's value for an empty input; undefined stays undefined (the parsers refuse it).
function valueOf(engine: Engine, entrypoint: string): unknown {
  const e = requireLocal(engine, entrypoint).evaluate(entrypoint, {});
  return e.defined ? e.result : undefined;
}

/**
 * Writes `<evidence dir>/<policy sha>/boot.json` for the active governance
 * pack. Resolves when written; on failure logs EVIDENCE_WRITE_FAILED, counts
 * `governance_evidence_write_failure_total`, and rejects only in strict mode.
 */
export async function writeEvidence(
  config: AgentConfig,
  packs: readonly ActivePack[],
  metrics: WardenMetrics,
  log: Logger,
): Promise<string | undefined> {
  const g = config.governance;
  const policy = packs.find((p) => p.name === g?.pack);
  if (!g || !policy) return undefined;
  const describe = (p: ActivePack): EvidencePolicy => ({
    pack: p.name,
    digest: p.digest,
    revision: p.revision,
    sequence: p.sequence,
    number: p.number,
  });
  const failures = counter(metrics.registry, 'governance_evidence_write_failure_total');
  try {
    const path = await writeBootEvidence({
      dir: g.evidence.dir,
      policy: describe(policy),
      packs: packs.map(describe),
      configDigest: config.configDigest,
      environment: environmentName(config),
      mode: g.evidence.strict ? 'strict' : 'standard',
    });
    log.info({ path, digest: policy.digest }, 'boot evidence written');
    return path;
  } catch (err) {
    const e = toWardenError(err, 'EVIDENCE_WRITE_FAILED');
    failures.inc();
    log.error(
      { code: e.code, err: e.message, path: e.details.path, strict: g.evidence.strict },
      g.evidence.strict
        ? 'boot evidence not written: strict mode, not starting'
        : 'boot evidence not written; continuing (standard mode)',
    );
    if (g.evidence.strict) throw e;
    return undefined;
  }
}
