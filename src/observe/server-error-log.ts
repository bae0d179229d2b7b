/**
 * Every 5xx the agent answers is counted and logged once, with its code, route
 * and (for decisions) entrypoint and pack digest: a failure nobody sees in the
 * log is a failure nobody fixes. The log is rate-limited per code (a token
 * bucket) so a client that can provoke a 5xx cannot flood it; the lines it
 * drops are counted, and the next line logged for the code says how many.
 */
import type { ErrorCode } from '../errors.js';
import type { Logger } from './logger.js';
import type { WardenMetrics } from './metrics.js';

/** One 5xx answer. */
export interface ServerError {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly route: string;
  readonly method: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Log-rate settings: a burst of `burst` lines per code, refilled at `perSecond`. */
export interface RateLimit {
  readonly burst: number;
  readonly perSecond: number;
}

export const DEFAULT_SERVER_ERROR_RATE: RateLimit = { burst: 10, perSecond: 1 };

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
}

/** Why a request is answered the way it is, told by the code that answers (error handler, route). */
export interface Explanation {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

const explanations = new WeakMap<object, Explanation>();

/** Tells the 5xx log why `request` gets the status it gets (the last word counts). */
export function explain(request: object, why: Explanation): void {
  explanations.set(request, why);
}

/** What explain() was told for `request`, if anything. */
export function explanationOf(request: object): Explanation | undefined {
  return explanations.get(request);
}

/** Counts and logs 5xx answers, at most `rate` lines per code. */
export class ServerErrorLog {
  readonly #buckets = new Map<ErrorCode, Bucket>();

  constructor(
    private readonly log: Logger,
    private readonly metrics: WardenMetrics,
    private readonly rate: RateLimit = DEFAULT_SERVER_ERROR_RATE,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records one 5xx answer. */
  report(e: ServerError): void {
    this.metrics.serverErrors.inc({ route: e.route, code: e.code });
    const bucket = this.#refilled(e.code);
    if (bucket.tokens < 1) {
      bucket.suppressed++;
      this.metrics.serverErrorLogsSuppressed.inc({ code: e.code });
      return;
    }
    bucket.tokens--;
    const fields = {
      status: e.status,
      code: e.code,
      route: e.route,
      method: e.method,
      err: e.message,
      ...e.details,
      ...(bucket.suppressed > 0 ? { suppressed_since_last: bucket.suppressed } : {}),
    };
    bucket.suppressed = 0;
    if (e.status === 503) this.log.warn(fields, 'request answered 503');
    else this.log.error(fields, 'request failed');
  }

  // The code's bucket, refilled for the time since it was last used.
  #refilled(code: ErrorCode): Bucket {
    const t = this.now();
    let b = this.#buckets.get(code);
    if (!b) {
      b = { tokens: this.rate.burst, at: t, suppressed: 0 };
      this.#buckets.set(code, b);
      return b;
    }
    b.tokens = Math.min(this.rate.burst, b.tokens + ((t - b.at) / 1000) * this.rate.perSecond);
    b.at = t;
    return b;
  }
}
