/**
 * Decision-path flags (`authz/allow`): the path decided on the input made from
 * the evaluation context, wherever its pack is answered (`decideAsync`: on
 * this thread for a local pack, in a decision worker or OPA otherwise).
 *
 * - A value of the asked type: reason TARGETING_MATCH, variant the value when
 *   it is a short scalar, metadata of the pack version and the decision id.
 * - A value of another type: TYPE_MISMATCH.
 * - Undefined (the path exists, nothing is defined for this input): the
 *   caller's default, reason DEFAULT, no error (as OPA's `default` would).
 * - No active pack has the path: FLAG_NOT_FOUND, or PROVIDER_NOT_READY
 *   (reason DEFAULT) while some configured pack has no active version yet,
 *   since that pack may be the one that declares it.
 * - A failed evaluation: INVALID_CONTEXT for the caller's input, GENERAL else.
 *
 * Each decision made (defined or not) goes to the agent's decision log as the
 * data API's do, under the decision id the flag metadata carries, requested by
 * `openfeature` as verdict flags are (there is no remote address in-process).
 */
import { ErrorCode, StandardResolutionReasons, type ResolutionDetails } from '@openfeature/server-sdk';
import type { Decision } from '../decide/decider.js';
import type { WardenProviderAgent } from './agent-view.js';
import { isOfType, typeName, variantOf, type FlagType, type FlagValueOf } from './flag-type.js';
import { answer, failure, failureOf, metadataOf, notReady } from './resolution.js';
import { decisionEvent } from '../decision-log/decision-log.js';
import { toWardenError } from '../errors.js';

/** Resolves decision path `path` on `input` as `type`. */
export async function resolvePath<T extends FlagType>(
  agent: WardenProviderAgent,
  path: string,
  input: unknown,
  type: T,
  defaultValue: FlagValueOf[T],
  isStale: (digest: string) => boolean,
): Promise<ResolutionDetails<FlagValueOf[T]>> {
  let decision: Decision;
  try {
    decision = await agent.decider.decideAsync(path, input);
  } catch (err) {
    if (toWardenError(err).code === 'DECISION_PATH_UNKNOWN') return notFound(agent, path, defaultValue);
    return failureOf(defaultValue, err);
  }
  // No pack owns the path (a path nothing declares and no root covers): the data API's undefined, here not found.
  if (decision.pack === '') return notFound(agent, path, defaultValue);
  agent.decisionLog?.enqueue(decisionEvent(path, input, decision, { requested_by: 'openfeature' }));
  const meta = metadataOf(decision, isStale(decision.digest));
  if (!decision.defined) return answer(defaultValue, StandardResolutionReasons.DEFAULT, meta);
  const value = decision.result;
  if (!isOfType(value, type))
    return failure(defaultValue, ErrorCode.TYPE_MISMATCH, `${path} is a ${typeName(value)}, not a ${type}`, meta);
  return answer(value, StandardResolutionReasons.TARGETING_MATCH, meta, variantOf(value));
}

// FLAG_NOT_FOUND, or PROVIDER_NOT_READY while a configured pack is not active yet.
function notFound<T>(agent: WardenProviderAgent, path: string, defaultValue: T): ResolutionDetails<T> {
  const waiting = agent.packs.filter((p) => p.activator.current === undefined).map((p) => p.activator.name);
  if (waiting.length > 0)
    return notReady(defaultValue, `no active pack declares "${path}"; not active yet: ${waiting.join(', ')}`);
  return failure(defaultValue, ErrorCode.FLAG_NOT_FOUND, `no active pack declares "${path}"`);
}
