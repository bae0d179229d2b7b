/**
 * Kill switches (docs/design.md#governance). The state is a small
 * signed pack (`killswitch/state` → `{<module>: {active, reason}}`) that comes
 * through the same source → verify → store → activate pipeline as any policy,
 * so a bad update is refused and the last-known-good state stays. On every
 * activation the state is evaluated once into a frozen Map; the hot path,
 * check(), is one Map read and returns a shared frozen object (no allocation).
 *
 * Before any state has ever loaded (cold start, source unreachable, nothing
 * stored) a module's default follows its risk, which the governance pack
 * declares (`governance/modules` → `{<module>: {risk}}`): high-risk modules
 * (AI) start ACTIVE (blocked), core ones INACTIVE, an unknown module blocked
 * (fail safe). Once a state has loaded, a module it does not list is open.
 */
import type { Registry } from 'prom-client';
import type { Gauge } from 'prom-client';
import { WardenError } from '../../errors.js';
import { gauge } from '../../observe/register.js';

export type ModuleRisk = 'high' | 'core';

/** Where a switch's state came from: the kill-switch pack, or the cold-start default. */
export type SwitchSource = 'pack' | 'cold_start';

/** The kill-switch pack version a state was read from. */
export interface KillSwitchOrigin {
  readonly pack: string;
  readonly digest: string;
}

/** One module's switch; frozen and shared. */
export interface SwitchState {
  readonly active: boolean;
  readonly reason: string;
  readonly source: SwitchSource;
}

const MAX_MODULES = 10_000;
const MAX_REASON_CHARS = 1024;
const MODULE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const COLD_BLOCKED: SwitchState = Object.freeze({
  active: true,
  reason: 'no kill-switch state has loaded yet: high-risk modules start blocked',
  source: 'cold_start',
});
const COLD_UNKNOWN: SwitchState = Object.freeze({
  active: true,
  reason: 'no kill-switch state has loaded yet and the module has no declared risk: blocked',
  source: 'cold_start',
});
const COLD_OPEN: SwitchState = Object.freeze({ active: false, reason: '', source: 'cold_start' });
const OPEN: SwitchState = Object.freeze({ active: false, reason: '', source: 'pack' });

/** The kill-switch state of one agent. */
export class KillSwitches {
  #switches: ReadonlyMap<string, SwitchState> | undefined;
  #risk: ReadonlyMap<string, ModuleRisk> = new Map();
  #revision: string | undefined;
  #origin: KillSwitchOrigin | undefined;
  readonly #active: Gauge<'module' | 'source'> | undefined;
  readonly #loaded: Gauge | undefined;

  constructor(registry?: Registry) {
    if (registry) {
      this.#active = gauge(registry, 'governance_kill_switch_active');
      this.#loaded = gauge(registry, 'governance_kill_switch_state_loaded');
      this.#publish();
    }
  }

  /** The switch of `module`: one Map read, no allocation. */
  check(module: string): SwitchState {
    const switches = this.#switches;
    if (switches === undefined) {
      const risk = this.#risk.get(module);
      return risk === 'core' ? COLD_OPEN : risk === 'high' ? COLD_BLOCKED : COLD_UNKNOWN;
    }
    return switches.get(module) ?? OPEN;
  }

  /** True when `module` has a state or a declared risk: two Map reads. */
  knows(module: string): boolean {
    return this.#risk.has(module) || this.#switches?.has(module) === true;
  }

  /** True once a state has loaded from the kill-switch pack. */
  get loaded(): boolean {
    return this.#switches !== undefined;
  }

  /** The revision of the loaded kill-switch pack, if any. */
  get revision(): string | undefined {
    return this.#revision;
  }

  /** The pack version the loaded state came from, if any. */
  get origin(): KillSwitchOrigin | undefined {
    return this.#origin;
  }

  /** Replaces the state with a parsed one (see parseSwitchState), in one assignment; `origin` is its pack version. */
  load(switches: ReadonlyMap<string, SwitchState>, revision: string, origin?: KillSwitchOrigin): void {
    this.#switches = switches;
    this.#revision = revision;
    this.#origin = origin;
    this.#publish();
  }

  /** Replaces the module risks (see parseModuleRisks), in one assignment. */
  setRisks(risks: ReadonlyMap<string, ModuleRisk>): void {
    this.#risk = risks;
    this.#publish();
  }

  /** Every module with a state or a risk, and its current switch. */
  snapshot(): Record<string, SwitchState> {
    const modules = new Set([...this.#risk.keys(), ...(this.#switches?.keys() ?? [])]);
    return Object.fromEntries([...modules].sort().map((m) => [m, this.check(m)]));
  }

  // Mirrors the state into the gauges (on load, never per request).
  #publish(): void {
    if (!this.#active || !this.#loaded) return;
    this.#active.reset();
    for (const [module, s] of Object.entries(this.snapshot()))
      this.#active.set({ module, source: s.source }, s.active ? 1 : 0);
    this.#loaded.set(this.loaded ? 1 : 0);
  }
}

/** Validates what `killswitch/state` returned; throws GOVERNANCE_PACK_INVALID naming the first problem. */
export function parseSwitchState(value: unknown, entrypoint: string): ReadonlyMap<string, SwitchState> {
  const entries = objectEntries(value, entrypoint, '{<module>: {"active": boolean, "reason": string}}');
  const out = new Map<string, SwitchState>();
  for (const [module, raw] of entries) {
    const r = raw as { active?: unknown; reason?: unknown } | null;
    if (typeof r !== 'object' || r === null || Array.isArray(r) || typeof r.active !== 'boolean') {
      throw invalid(entrypoint, `module "${module}": expected {"active": boolean, "reason": string}`);
    }
    const reason = r.reason ?? '';
    if (typeof reason !== 'string' || reason.length > MAX_REASON_CHARS)
      throw invalid(
        entrypoint,
        `module "${module}": reason must be a string of at most ${MAX_REASON_CHARS} characters`,
      );
    out.set(
      module,
      r.active
        ? Object.freeze({ active: true, reason: reason || `kill switch on for ${module}`, source: 'pack' })
        : OPEN,
    );
  }
  return out;
}

/** Validates what `governance/modules` returned; throws GOVERNANCE_PACK_INVALID naming the first problem. */
export function parseModuleRisks(value: unknown, entrypoint: string): ReadonlyMap<string, ModuleRisk> {
  const entries = objectEntries(value, entrypoint, '{<module>: {"risk": "high" | "core"}}');
  const out = new Map<string, ModuleRisk>();
  for (const [module, raw] of entries) {
    const risk = (raw as { risk?: unknown } | null)?.risk;
    if (risk !== 'high' && risk !== 'core')
      throw invalid(entrypoint, `module "${module}": risk must be "high" or "core"`);
    out.set(module, risk);
  }
  return out;
}

// The entries of a bounded object of well-formed module names.
function objectEntries(value: unknown, entrypoint: string, shape: string): [string, unknown][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(entrypoint, `expected ${shape}`);
  const entries = Object.entries(value);
  if (entries.length > MAX_MODULES) throw invalid(entrypoint, `more than ${MAX_MODULES} modules`);
  for (const [module] of entries)
    if (!MODULE.test(module))
      throw invalid(entrypoint, `"${module.slice(0, 64)}" is not a module name (${MODULE.source})`);
  return entries;
}

function invalid(entrypoint: string, message: string): WardenError {
  return new WardenError('GOVERNANCE_PACK_INVALID', `${entrypoint}: ${message}`, { details: { entrypoint } });
}
