/**
 * The value of a Rego term that is a constant in the source: a scalar, or an
 * array, object or set of constants. Returned as a canonical key, so two
 * constants are equal exactly when OPA would find them equal (numbers by
 * value, objects and sets whatever their order); a term that depends on
 * anything (a var, a ref, a call, a comprehension) has none.
 */
import type { AstTerm } from '../opa/parse.js';

/** The canonical key of a constant term, or undefined when the term is not a constant. */
export function constantKey(term: AstTerm | undefined): string | undefined {
  if (term === undefined) return undefined;
  const { type, value } = term;
  switch (type) {
    case 'null':
      return 'null';
    case 'boolean':
      return typeof value === 'boolean' ? String(value) : undefined;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? `n:${value}` : undefined;
    case 'string':
      return typeof value === 'string' ? JSON.stringify(value) : undefined;
    case 'array': {
      const items = elements(value);
      return items && `[${items.join(',')}]`;
    }
    case 'set': {
      const items = elements(value);
      return items && `set(${[...new Set(items)].sort().join(',')})`;
    }
    case 'object': {
      const entries = pairs(value);
      return entries && `{${entries.sort().join(',')}}`;
    }
    default:
      return undefined;
  }
}

// The keys of a list of terms, or undefined if one is not a constant.
function elements(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const keys = (value as AstTerm[]).map((t) => constantKey(t));
  return keys.every((k) => k !== undefined) ? keys : undefined;
}

// An object's `[key, value]` term pairs as `key:value` strings, or undefined if one is not a constant.
function pairs(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const pair of value as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    const [k, v] = pair as [AstTerm, AstTerm];
    const key = constantKey(k);
    const val = constantKey(v);
    if (key === undefined || val === undefined) return undefined;
    out.push(`${key}:${val}`);
  }
  return out;
}
