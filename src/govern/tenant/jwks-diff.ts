/**
 * What a JWKS change affects: the `kid`s whose keys changed or left the set.
 * Verified tokens of those kids are dropped from the token cache; tokens whose
 * header named no `kid` are dropped on any change (which key verifies them
 * may have changed). A key added under a new kid affects no verified token.
 */
import type { JSONWebKeySet } from 'jose';

/** Called with the kids a change affects (possibly none: only kid-less tokens are affected). */
export type JwksChangeListener = (kids: ReadonlySet<string>) => void;

/** The kids changed or removed between `before` and `after`; undefined when the two sets hold the same keys. */
export function changedKids(before: JSONWebKeySet, after: JSONWebKeySet): ReadonlySet<string> | undefined {
  const was = byKid(before);
  const now = byKid(after);
  const changed = new Set<string>();
  let differs = was.size !== now.size;
  for (const [kid, keys] of was) {
    if (now.get(kid) === keys) continue;
    differs = true;
    if (kid !== '') changed.add(kid);
  }
  for (const kid of now.keys()) if (!was.has(kid)) differs = true;
  return differs ? changed : undefined;
}

/** A set of change listeners: add returns the function that removes it. */
export class JwksListeners {
  readonly #listeners = new Set<JwksChangeListener>();

  add(listener: JwksChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener, if the keys changed between `before` and `after`. */
  compare(before: JSONWebKeySet | undefined, after: JSONWebKeySet | undefined): void {
    if (before === undefined || after === undefined || before === after) return;
    const kids = changedKids(before, after);
    if (kids === undefined) return;
    for (const listener of this.#listeners) listener(kids);
  }
}

// kid ('' for none) → the canonical JSON of its keys, sorted.
function byKid(set: JSONWebKeySet): Map<string, string> {
  const groups = new Map<string, string[]>();
  for (const key of set.keys) {
    const kid = typeof key.kid === 'string' ? key.kid : '';
    const list = groups.get(kid) ?? [];
    list.push(canonical(key));
    groups.set(kid, list);
  }
  return new Map([...groups].map(([kid, list]) => [kid, list.sort().join('\n')]));
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null)
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
