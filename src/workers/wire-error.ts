/**
 * A failure crossing between threads as data (WireError): a WardenError keeps its
 * code, message and details; another error its name and message. Used by the
 * decision workers and the engine preparer thread.
 */
import { ERROR_CODES, WardenError, messageOf, type ErrorCode } from '../errors.js';
import type { WireError } from './protocol.js';

/** An error as data, to post to another thread. */
export function wireError(err: unknown): WireError {
  if (err instanceof WardenError) {
    return { code: err.code, name: err.name, message: err.message, details: { ...err.details } };
  }
  return { name: err instanceof Error ? err.name : 'Error', message: messageOf(err) };
}

/**
 * A posted error back as an Error: a WardenError with its code, else one of the same name
 * (a RangeError stays one: the decider reads it as the engine's stack running out).
 */
export function fromWire(e: WireError): Error {
  if (e.code !== undefined && e.code in ERROR_CODES) {
    return new WardenError(e.code as ErrorCode, e.message, e.details ? { details: e.details } : {});
  }
  return e.name === 'RangeError' ? new RangeError(e.message) : new Error(e.message);
}
