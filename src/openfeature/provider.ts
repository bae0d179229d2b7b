/**
 * Warden as an OpenFeature server provider: `OpenFeature.setProviderAndWait(new
 * WardenProvider(agent))`, then any OpenFeature client resolves
 *
 * - `kill-switch.<module>` — the module's kill switch (kill-switch-flag.ts);
 * - `verdict.<module>` — the governance verdict for the module (verdict-flag.ts);
 * - any other key — a decision path such as `authz/allow` (path-flag.ts),
 *   on the input made from the evaluation context (context-input.ts).
 *
 * Kill switches and verdicts are answered synchronously from memory and the
 * governance pack (the promise the SDK asks for is already settled); paths go
 * through `decideAsync`, synchronous as well when the pack is local.
 * Provider events come from the agent's event bus (provider-events.ts).
 * A resolution never throws: every failure is an error code in the details.
 */
import {
  OpenFeatureEventEmitter,
  type EvaluationContext,
  type JsonValue,
  type Provider,
  type ProviderMetadata,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import type { WardenProviderAgent } from './agent-view.js';
import { inputOf } from './context-input.js';
import { parseFlagKey } from './flag-key.js';
import type { FlagType, FlagValueOf } from './flag-type.js';
import { resolveKillSwitch, type ColdStart } from './kill-switch-flag.js';
import { resolvePath } from './path-flag.js';
import { ProviderEventBridge } from './provider-events.js';
import { failureOf } from './resolution.js';
import { resolveVerdict } from './verdict-flag.js';

/** How a WardenProvider answers. */
export interface WardenProviderOptions {
  /**
   * A kill-switch flag before any kill-switch state has loaded: `error` (default) answers
   * PROVIDER_NOT_READY, so the caller's default applies; `warden` answers Warden's own
   * cold-start default (high-risk and undeclared modules on, core modules off).
   */
  readonly coldStart?: ColdStart;
  /** The input of a decision-path flag; default: the context, `targetingKey` as `subject` (context-input.ts). */
  readonly input?: (context: EvaluationContext, flagKey: string) => unknown;
}

/** An OpenFeature server provider over a running agent (a `RunningAgent`). */
export class WardenProvider implements Provider {
  readonly metadata: ProviderMetadata = { name: 'warden' };
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly #agent: WardenProviderAgent;
  readonly #bridge: ProviderEventBridge;
  readonly #coldStart: ColdStart;
  readonly #input: (context: EvaluationContext, flagKey: string) => unknown;
  readonly #isStale: (digest: string) => boolean;

  constructor(agent: WardenProviderAgent, options: WardenProviderOptions = {}) {
    this.#agent = agent;
    this.#bridge = new ProviderEventBridge(agent, this.events);
    this.#coldStart = options.coldStart ?? 'error';
    this.#input = options.input ?? inputOf;
    this.#isStale = (digest) => this.#bridge.isStale(digest);
  }

  /**
   * Subscribes to the agent's events. A started agent has every required pack active, so this
   * resolves at once (the SDK then emits PROVIDER_READY); a provider that starts stale or in
   * error announces it right after.
   */
  initialize(): Promise<void> {
    const state = this.#bridge.start();
    if (state !== 'ready')
      setImmediate(() => this.#bridge.announce(state, `a pack is ${state} as the provider starts`));
    return Promise.resolve();
  }

  /** Unsubscribes from the agent's events (the agent itself is the host's to close). */
  onClose(): Promise<void> {
    this.#bridge.stop();
    return Promise.resolve();
  }

  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<boolean>> {
    return this.#resolve(flagKey, 'boolean', defaultValue, context);
  }

  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<string>> {
    return this.#resolve(flagKey, 'string', defaultValue, context);
  }

  resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<number>> {
    return this.#resolve(flagKey, 'number', defaultValue, context);
  }

  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<T>> {
    // The value is a JSON structure; that it has the caller's shape T is the caller's assumption, as with any provider.
    return this.#resolve(flagKey, 'object', defaultValue, context) as Promise<ResolutionDetails<T>>;
  }

  #resolve<T extends FlagType>(
    flagKey: string,
    type: T,
    defaultValue: FlagValueOf[T],
    context: EvaluationContext,
  ): Promise<ResolutionDetails<FlagValueOf[T]>> {
    const target = parseFlagKey(flagKey);
    try {
      switch (target.kind) {
        case 'kill-switch':
          return Promise.resolve(
            resolveKillSwitch(this.#agent.killSwitches, target.module, type, defaultValue, {
              coldStart: this.#coldStart,
              isStale: this.#isStale,
            }),
          );
        case 'verdict':
          return Promise.resolve(
            resolveVerdict(this.#agent.governance, target.module, context, type, defaultValue, this.#isStale),
          );
        case 'path':
          return resolvePath(
            this.#agent,
            target.path,
            this.#input(context, flagKey),
            type,
            defaultValue,
            this.#isStale,
          );
      }
    } catch (err) {
      // The input mapping (a subject that contradicts the targetingKey, a host's own mapping) failed.
      return Promise.resolve(failureOf(defaultValue, err));
    }
  }
}
