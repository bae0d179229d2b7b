/**
 * The four OpenFeature flag types and whether a JSON value is of one: a
 * boolean, a string, a finite number, or a structure (an object or an array;
 * null is none of them).
 */
import type { JsonValue } from '@openfeature/server-sdk';

export type FlagType = 'boolean' | 'string' | 'number' | 'object';

/** The flag value type of each FlagType. */
export interface FlagValueOf {
  boolean: boolean;
  string: string;
  number: number;
  object: JsonValue;
}

/** True when `value` is a value of `type`. */
export function isOfType<T extends FlagType>(value: unknown, type: T): value is FlagValueOf[T] {
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return typeof value === 'object' && value !== null;
  }
}

/** What a value is, for a TYPE_MISMATCH message. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A short variant name for a scalar (booleans, numbers, strings of at most 64 characters); none for the rest. */
export function variantOf(value: unknown): string | undefined {
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string' && value.length <= 64) return value;
  return undefined;
}
