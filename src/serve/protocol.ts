/**
 * The messages between the agent's primary process and a serving process (node:cluster IPC,
 * advanced serialization: structured clone, so a pack's bytes cross as they are).
 *
 * A pack reaches a serving process in two steps: `prepare` (read, compile, set data, golden
 * decisions, off the process's request path) and `commit` (the swap, one reference
 * assignment). The primary commits only after the pack is prepared everywhere and its own
 * activator made it active, so every process answers with the version the primary reports.
 */
import type { Registry } from 'prom-client';
import type { ActivePack } from '../activate/types.js';
import type { AgentConfig } from '../config/load.js';
import type { DecisionLogEvent } from '../decision-log/decision-log-event.js';
import type { PackLimits } from '../pack/limits.js';
import type { WireError } from '../workers/protocol.js';

/** What a serving process knows of an active pack besides its engine. */
export type PackMeta = Omit<ActivePack, 'engine'>;

/** A metric as prom-client's registry gives it as JSON. */
export type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

/** Primary → serving process. */
export type ToServing =
  | {
      readonly t: 'init';
      readonly config: AgentConfig;
      /** The configured packs in routing order (the kill-switch pack last). */
      readonly packs: readonly string[];
      /** The pack limits the primary reads with. */
      readonly limits: Partial<PackLimits>;
      /** Where the primary's own server listens (127.0.0.1:port): every route not served here goes there. */
      readonly primary: { readonly host: string; readonly port: number };
    }
  | { readonly t: 'prepare'; readonly id: number; readonly name: string; readonly pack: Uint8Array }
  | { readonly t: 'commit'; readonly id: number; readonly seq: number; readonly meta: PackMeta }
  | { readonly t: 'drop'; readonly id: number }
  | { readonly t: 'listen' }
  | { readonly t: 'metrics'; readonly n: number }
  | { readonly t: 'close' };

/** Serving process → primary. */
export type FromServing =
  /** The first message: the process takes messages from here on (one sent earlier would be lost). */
  | { readonly t: 'ready' }
  | { readonly t: 'prepared'; readonly id: number }
  | { readonly t: 'prepare-failed'; readonly id: number; readonly error: WireError }
  | { readonly t: 'listening'; readonly port: number }
  | { readonly t: 'listen-failed'; readonly error: WireError }
  | { readonly t: 'metrics'; readonly n: number; readonly metrics: readonly MetricJson[] }
  /** Decision-log events, each with the epoch ms it was made at. */
  | { readonly t: 'decisions'; readonly events: readonly DecisionLogEvent[]; readonly at: readonly number[] }
  /** The last message before the process exits: everything before it was sent. */
  | { readonly t: 'closed' };
