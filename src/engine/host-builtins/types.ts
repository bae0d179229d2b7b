/**
 * The shape of a builtin the host provides to a policy.wasm. Arguments arrive
 * as the engine's own JSON text (so numbers are exact: a nanosecond timestamp
 * of 19 digits is not rounded through a double) with a lazily parsed value for
 * the common case; the result goes back as JSON text, parsed by the engine, so
 * an integer result is exact too. A builtin that throws, or returns undefined,
 * leaves the call undefined: what OPA does with a builtin error outside
 * strict-builtin-errors mode.
 */

/** One argument: the engine's JSON text of it, and that text parsed (numbers as doubles). */
export interface HostArg {
  readonly text: string;
  readonly value: unknown;
  /** The engine's value notation of the argument (sets as `{a, b}`), for builtins that tell sets apart. */
  readonly notation?: () => string;
}

/**
 * A result in the engine's value notation, for a builtin whose result is a set (JSON has
 * none): `{"a", "b"}`, the empty set `set()`. The engine parses it with opa_value_parse.
 */
export class ValueNotation {
  constructor(readonly text: string) {}

  /** A set of strings. */
  static stringSet(members: Iterable<string>): ValueNotation {
    const items = [...members].map((m) => JSON.stringify(m));
    return new ValueNotation(items.length === 0 ? 'set()' : `{${items.join(',')}}`);
  }
}

/** A host builtin: arguments in, the result's JSON text (or value notation) out (undefined: no result). */
export type HostBuiltin = (args: readonly HostArg[]) => string | ValueNotation | undefined;

/** What one evaluation shares between its builtin calls. */
export interface EvaluationContext {
  /** time.now_ns for this evaluation, fixed at its first call (OPA fixes it once per query). */
  nowNs: bigint | undefined;
  /** uuid.rfc4122's answers in this evaluation, by the key's canonical JSON (OPA caches them per query). */
  readonly uuids: Map<string, string>;
}

/** Clears what `context` holds for one evaluation, before the next. */
export function resetContext(context: EvaluationContext): void {
  context.nowNs = undefined;
  context.uuids.clear();
}

/** A failed builtin call (the call is undefined; the message is for debugging). */
export class BuiltinCallError extends Error {}

/** Throws BuiltinCallError unless `value` is a string; returns it. */
export function stringArg(arg: HostArg | undefined, position: number): string {
  if (typeof arg?.value !== 'string') throw new BuiltinCallError(`operand ${position} must be a string`);
  return arg.value;
}
