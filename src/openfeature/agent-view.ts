/**
 * What the OpenFeature provider needs of a running agent: a structural view
 * that `RunningAgent` (src/agent/agent.ts) satisfies as it is, so this folder
 * stays below agent/ (test/architecture/imports.test.ts).
 */
import type { Activator } from '../activate/activator.js';
import type { Decider } from '../decide/decider.js';
import type { DecisionLog } from '../decision-log/decision-log.js';
import type { Governance } from '../govern/verdict/governance.js';
import type { KillSwitches } from '../govern/verdict/kill-switch.js';
import type { EventHandler } from '../notify/bus.js';
import type { WardenEventType } from '../notify/events.js';

/** One configured pack, as the provider reads it: its name, its active version, whether its source is failing. */
export type ProviderPack = Pick<Activator, 'name' | 'current' | 'sourceFailing'>;

/** The parts of a running agent the provider reads (a `RunningAgent` is one). */
export interface WardenProviderAgent {
  readonly decider: Pick<Decider, 'decideAsync'>;
  /** Where decision-path flags are logged, as the data API logs its decisions (absent: not logged). */
  readonly decisionLog?: Pick<DecisionLog, 'enqueue'> | undefined;
  readonly packs: readonly { readonly activator: ProviderPack }[];
  readonly events: {
    subscribe(types: readonly WardenEventType[] | '*', handler: EventHandler, name?: string): () => void;
  };
  /** Absent without a `governance:` block: then `verdict.*` flags are not found. */
  readonly governance: Governance | undefined;
  /** Absent without a `governance:` block: then `kill-switch.*` flags are not found. */
  readonly killSwitches: KillSwitches | undefined;
}
