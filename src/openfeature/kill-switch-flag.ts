/**
 * `kill-switch.<module>` flags: the module's switch from the kill-switch state
 * in memory (one Map read, as a verdict reads it). Boolean: true when the
 * switch is on (the module is blocked). Object: `{active, reason, source}`.
 *
 * - Loaded state, known module (it has a state or a declared risk): reason
 *   STATIC, variant `on` / `off`, metadata of the kill-switch pack.
 * - Unknown module: FLAG_NOT_FOUND (Warden itself treats it as open).
 * - Cold start (no state has loaded): reason DEFAULT with PROVIDER_NOT_READY,
 *   so the caller's default applies; with `coldStart: 'warden'`, Warden's own
 *   cold-start default instead (high-risk modules on, core off, unknown on),
 *   reason DEFAULT, variant `cold_start`, no error.
 */
import { ErrorCode, StandardResolutionReasons, type ResolutionDetails } from '@openfeature/server-sdk';
import type { KillSwitches } from '../govern/verdict/kill-switch.js';
import type { FlagType, FlagValueOf } from './flag-type.js';
import { answer, failure, metadataOf, notReady } from './resolution.js';

/** What a cold-start kill-switch flag answers: an error (the caller's default applies), or Warden's default. */
export type ColdStart = 'error' | 'warden';

/** Resolves `kill-switch.<module>` as `type`. */
export function resolveKillSwitch<T extends FlagType>(
  switches: KillSwitches | undefined,
  module: string,
  type: T,
  defaultValue: FlagValueOf[T],
  opts: { readonly coldStart: ColdStart; readonly isStale: (digest: string) => boolean },
): ResolutionDetails<FlagValueOf[T]> {
  if (!switches)
    return failure(defaultValue, ErrorCode.FLAG_NOT_FOUND, 'no governance block: there are no kill switches');
  if (type !== 'boolean' && type !== 'object')
    return failure(defaultValue, ErrorCode.TYPE_MISMATCH, `a kill switch is a boolean (or an object), not a ${type}`);
  const sw = switches.check(module);
  const value = (
    type === 'boolean' ? sw.active : { active: sw.active, reason: sw.reason, source: sw.source }
  ) as FlagValueOf[T];
  if (!switches.loaded) {
    const meta = { source: 'cold_start', coldStartActive: sw.active };
    if (opts.coldStart === 'error')
      return notReady(defaultValue, 'no kill-switch state has loaded yet (cold start)', meta);
    return answer(value, StandardResolutionReasons.DEFAULT, meta, 'cold_start');
  }
  if (!switches.knows(module))
    return failure(
      defaultValue,
      ErrorCode.FLAG_NOT_FOUND,
      `no kill switch and no declared risk for module "${module}"`,
    );
  // No kill-switch pack configured: the state is empty (revision "none") and comes from no pack.
  const origin = switches.origin ?? { pack: '', digest: '' };
  const meta = metadataOf(
    { pack: origin.pack, digest: origin.digest, revision: switches.revision ?? '' },
    origin.digest !== '' && opts.isStale(origin.digest),
    { source: sw.source, ...(sw.active ? { switchReason: sw.reason } : {}) },
  );
  return answer(value, StandardResolutionReasons.STATIC, meta, sw.active ? 'on' : 'off');
}
