/**
 * What a flag key names. `kill-switch.<module>` is a module's kill switch,
 * `verdict.<module>` the governance verdict for that module, and any other key
 * a decision path (`authz/allow`, as the data API takes it after /v1/data/).
 */

export const KILL_SWITCH_PREFIX = 'kill-switch.';
export const VERDICT_PREFIX = 'verdict.';

/** The three kinds of flag the provider resolves. */
export type FlagTarget =
  | { readonly kind: 'kill-switch'; readonly module: string }
  | { readonly kind: 'verdict'; readonly module: string }
  | { readonly kind: 'path'; readonly path: string };

/** What `flagKey` names (prefix checks only: no allocation beyond the module name). */
export function parseFlagKey(flagKey: string): FlagTarget {
  if (flagKey.startsWith(KILL_SWITCH_PREFIX))
    return { kind: 'kill-switch', module: flagKey.slice(KILL_SWITCH_PREFIX.length) };
  if (flagKey.startsWith(VERDICT_PREFIX)) return { kind: 'verdict', module: flagKey.slice(VERDICT_PREFIX.length) };
  return { kind: 'path', path: flagKey };
}
