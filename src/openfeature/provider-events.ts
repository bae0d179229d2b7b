/**
 * Warden's event bus as OpenFeature provider events:
 *
 * - `policy.updated`, `policy.rolled_back` (a version became active) →
 *   PROVIDER_CONFIGURATION_CHANGED, with `flagsChanged`: the pack's declared
 *   paths, `kill-switch.<m>` and `verdict.<m>` for each module whose switch
 *   changed, and every `verdict.<m>` when the pack declares the verdict entrypoint.
 * - `policy.stale` (a source fails while its version is served) → PROVIDER_STALE;
 *   `policy.fresh` (it answers again) → PROVIDER_READY once no pack is stale.
 * - `policy.validation_failed` for a pack with no active version (nothing can
 *   answer for it) → PROVIDER_ERROR, until that pack activates a version.
 *   A refused update while a version is served changes nothing: it keeps answering.
 *
 * The provider's state is the worst of its packs' (error, then stale, then
 * ready); an event is emitted when that state changes. The bus delivers
 * asynchronously, so the events follow the activation by a few milliseconds.
 */
import { ProviderEvents, type OpenFeatureEventEmitter } from '@openfeature/server-sdk';
import type { SwitchState } from '../govern/verdict/kill-switch.js';
import type { WardenEvent, WardenEventType } from '../notify/events.js';
import type { WardenProviderAgent } from './agent-view.js';
import { KILL_SWITCH_PREFIX, VERDICT_PREFIX } from './flag-key.js';

type State = 'ready' | 'stale' | 'error';

const HEARD: readonly WardenEventType[] = [
  'policy.updated',
  'policy.rolled_back',
  'policy.validation_failed',
  'policy.stale',
  'policy.fresh',
];

/** Follows the agent's events for one provider and emits its OpenFeature events. */
export class ProviderEventBridge {
  /** Stale pack → the digest it serves. */
  readonly #stale = new Map<string, string>();
  #staleDigests: ReadonlySet<string> = new Set();
  /** Packs with no active version whose update was refused. */
  readonly #errored = new Set<string>();
  #switches: Record<string, SwitchState> = {};
  #state: State = 'ready';
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly agent: WardenProviderAgent,
    private readonly emitter: OpenFeatureEventEmitter,
  ) {}

  /** True when the version with this digest is served while its source fails (one Set read). */
  isStale(digest: string): boolean {
    return this.#staleDigests.has(digest);
  }

  /** Subscribes, and reads the packs' state as it is now; the state to announce once the provider is ready. */
  start(): State {
    this.#unsubscribe?.();
    this.#unsubscribe = this.agent.events.subscribe(HEARD, (e) => this.#on(e), 'openfeature');
    for (const { activator } of this.agent.packs) {
      const current = activator.current;
      if (current && activator.sourceFailing) this.#stale.set(activator.name, current.digest);
    }
    this.#staleDigests = new Set(this.#stale.values());
    this.#switches = this.agent.killSwitches?.snapshot() ?? {};
    this.#state = this.#computed();
    return this.#state;
  }

  /** Unsubscribes (events already queued for this subscriber are dropped). */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Emits the event of `state` (used once after initialisation, when the state is not ready). */
  announce(state: State, message: string): void {
    if (state === 'stale') this.emitter.emit(ProviderEvents.Stale, { message });
    else if (state === 'error') this.emitter.emit(ProviderEvents.Error, { message });
  }

  #on(e: WardenEvent): void {
    const data = e.data;
    const text = (key: string): string => (typeof data[key] === 'string' ? data[key] : '');
    switch (e.type) {
      case 'policy.updated':
      case 'policy.rolled_back':
        this.#errored.delete(e.pack);
        this.emitter.emit(ProviderEvents.ConfigurationChanged, {
          message: `pack ${e.pack} activated ${text('digest') || text('to')}`,
          flagsChanged: this.#flagsChanged(e.pack),
          metadata: { pack: e.pack, digest: text('digest') || text('to'), eventId: e.id },
        });
        break;
      case 'policy.stale':
        this.#stale.set(e.pack, text('digest'));
        break;
      case 'policy.fresh':
        this.#stale.delete(e.pack);
        break;
      case 'policy.validation_failed':
        if (data.kept === undefined) this.#errored.add(e.pack);
        break;
      // A shadow answers no flag; its promotion is announced by the policy.updated that follows.
      case 'policy.version_created':
      case 'policy.pinned':
      case 'policy.unpinned':
      case 'policy.shadow_started':
      case 'policy.shadow_promoted':
      case 'policy.shadow_refused':
      case 'policy.shadow_cancelled':
        return;
    }
    this.#staleDigests = new Set(this.#stale.values());
    this.#transition(e);
  }

  // Emits READY, STALE or ERROR when the provider's state changed.
  #transition(e: WardenEvent): void {
    const next = this.#computed();
    if (next === this.#state) return;
    this.#state = next;
    const metadata = { pack: e.pack, eventId: e.id, wardenEvent: e.type };
    const code = typeof e.data.code === 'string' ? `${e.data.code}: ` : '';
    const why = typeof e.data.message === 'string' ? e.data.message : '';
    if (next === 'ready') this.emitter.emit(ProviderEvents.Ready, { message: `every pack is current`, metadata });
    else if (next === 'stale')
      this.emitter.emit(ProviderEvents.Stale, {
        message: `stale: ${[...this.#stale.keys()].join(', ')} (${code}${why})`,
        metadata,
      });
    else
      this.emitter.emit(ProviderEvents.Error, {
        message: `no active version: ${[...this.#errored].join(', ')} (${code}${why})`,
        metadata,
      });
  }

  #computed(): State {
    return this.#errored.size > 0 ? 'error' : this.#stale.size > 0 ? 'stale' : 'ready';
  }

  // The flags a pack's activation may have changed.
  #flagsChanged(pack: string): string[] {
    const out = new Set<string>();
    const current = this.agent.packs.find((p) => p.activator.name === pack)?.activator.current;
    for (const entrypoint of current?.entrypoints ?? []) out.add(entrypoint);
    const before = this.#switches;
    const after = this.agent.killSwitches?.snapshot() ?? {};
    this.#switches = after;
    const governance = this.agent.governance;
    const verdictPack = governance !== undefined && (current?.entrypoints.includes(governance.entrypoint) ?? false);
    for (const module of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const a = before[module];
      const b = after[module];
      if (a?.active !== b?.active || a?.reason !== b?.reason || a?.source !== b?.source) {
        out.add(`${KILL_SWITCH_PREFIX}${module}`);
        out.add(`${VERDICT_PREFIX}${module}`);
      } else if (verdictPack) out.add(`${VERDICT_PREFIX}${module}`);
    }
    return [...out].sort();
  }
}
