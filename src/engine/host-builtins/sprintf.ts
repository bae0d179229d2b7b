/**
 * sprintf as OPA evaluates it (v1/topdown/strings.go builtinSprintf): each
 * member of the argument array becomes a Go value, then Go's fmt.Sprintf
 * formats them (go-fmt.ts). A number written with a fraction or exponent is a
 * float64; an integer is an int64, or a *big.Int beyond int64; a string is
 * itself; anything else is its Rego text (`{"a": 1}`, `{1, 2}`, `set()`,
 * `true`, `null`, strings inside quoted as Go quotes them). opa-wasm's own
 * sprintf (sprintf-js) formats JavaScript's way and is replaced by this one.
 */
import { parseValueNotation, type Value } from '../rego-value.js';
import { INT64_MAX, INT64_MIN } from './exact.js';
import { goSprintf, type GoArg } from './go-fmt.js';
import { goQuote } from './go-quote.js';
import { BuiltinCallError, stringArg, type HostBuiltin } from './types.js';

/** A value as OPA's ast.Value.String() writes it. */
export function regoText(v: Value): string {
  switch (v.k) {
    case 3:
      return goQuote(v.s);
    case 6:
      return `[${v.items.map(regoText).join(', ')}]`;
    case 8:
      return v.items.length === 0 ? 'set()' : `{${v.items.map(regoText).join(', ')}}`;
    case 7:
      return `{${v.entries.map(([k, x]) => `${regoText(k)}: ${regoText(x)}`).join(', ')}}`;
    case 0:
    case 1:
    case 2:
      return v.json;
  }
}

// One array member as the Go value OPA hands fmt.
function goArg(v: Value): GoArg {
  if (v.k === 3) return { t: 'string', v: v.s };
  if (v.k !== 2) return { t: 'string', v: regoText(v) };
  const text = v.json;
  if (/[.eE]/.test(text)) {
    const f = Number(text);
    return Number.isFinite(f) ? { t: 'float64', v: f } : { t: 'string', v: text };
  }
  const n = BigInt(text);
  return n >= INT64_MIN && n <= INT64_MAX ? { t: 'int64', v: n } : { t: 'big', v: n };
}

/** sprintf(format, values): values must be an array. */
export const sprintf: HostBuiltin = (args) => {
  const format = stringArg(args[0], 1);
  const values = args[1];
  if (values === undefined || !Array.isArray(values.value)) throw new BuiltinCallError('operand 2 must be an array');
  const array = parseValueNotation(values.notation?.() ?? values.text);
  if (array.k !== 6) throw new BuiltinCallError('operand 2 must be an array');
  return JSON.stringify(goSprintf(format, array.items.map(goArg)));
};
