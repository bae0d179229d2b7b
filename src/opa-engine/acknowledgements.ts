/**
 * The deliveries waiting for OPA's word, one per pack at most. A delivery is
 * settled by the first status report after its bytes were served to OPA: the
 * revision reported active (acknowledged), or an error code for the bundle
 * (refused); or by its deadline. Reports from before the bytes were served
 * cannot settle it (each delivery has its own ETag, so "served" is exact), nor
 * can an error about a bundle request OPA sent before it got this delivery.
 */
import { WardenError } from '../errors.js';
import { describeRefusal, type BundleReport } from './status-report.js';

/** How a delivery ended. */
export type DeliveryEnd =
  | { readonly kind: 'activated' }
  | { readonly kind: 'refused'; readonly error: WardenError; readonly errors: readonly unknown[] }
  | { readonly kind: 'timeout'; readonly error: WardenError };

interface Pending {
  readonly revision: string;
  readonly etag: string;
  served: boolean;
  // When the endpoint answered OPA before serving this delivery: refusals about older requests are stale.
  servedSince: number;
  readonly end: (how: DeliveryEnd) => void;
}

/** The pending deliveries. */
export class Acknowledgements {
  readonly #pending = new Map<string, Pending>();

  /** Waits for OPA's word on `revision` of `pack`, served under `etag`; resolves with how it ended (never rejects). */
  wait(pack: string, revision: string, etag: string, timeoutMs: number): Promise<DeliveryEnd> {
    this.#pending.get(pack)?.end({
      kind: 'timeout',
      error: new WardenError('OPA_ACTIVATION_TIMEOUT', `delivery of ${pack} was replaced by another`),
    });
    return new Promise((resolve) => {
      const timer = setTimeout(
        () =>
          entry.end({
            kind: 'timeout',
            error: new WardenError(
              'OPA_ACTIVATION_TIMEOUT',
              `OPA did not report revision ${revision} of ${pack} active within ${timeoutMs} ms`,
              { details: { pack, revision, timeout_ms: timeoutMs, served: entry.served } },
            ),
          }),
        timeoutMs,
      );
      const entry: Pending = {
        revision,
        etag,
        served: false,
        servedSince: 0,
        end: (how) => {
          if (this.#pending.get(pack) !== entry) return;
          this.#pending.delete(pack);
          clearTimeout(timer);
          resolve(how);
        },
      };
      this.#pending.set(pack, entry);
    });
  }

  /** The endpoint wrote `etag` of `pack` to OPA, in answer to a request sent after `since` (wall-clock ms). */
  served(pack: string, etag: string, since: number): void {
    const entry = this.#pending.get(pack);
    if (entry?.etag !== etag) return;
    entry.served = true;
    entry.servedSince = since;
  }

  /** OPA reported on `pack`: settles its delivery if the report is about it. */
  report(pack: string, report: BundleReport): void {
    const entry = this.#pending.get(pack);
    if (entry === undefined || !entry.served) return;
    if (report.activeRevision === entry.revision) {
      entry.end({ kind: 'activated' });
    } else if (report.code !== undefined && (report.lastRequestMs ?? Infinity) >= entry.servedSince) {
      // OPA keeps a refusal in its status until it activates again: only an error about the
      // request that got this delivery counts (one about an earlier request is stale).
      const why = describeRefusal(report);
      entry.end({
        kind: 'refused',
        errors: report.errors,
        error: new WardenError('OPA_BUNDLE_REFUSED', `OPA refused revision ${entry.revision} of ${pack}: ${why}`, {
          details: {
            pack,
            revision: entry.revision,
            active_revision: report.activeRevision,
            code: report.code,
            message: report.message,
            errors: report.errors,
          },
        }),
      });
    }
  }

  /** Ends every pending delivery with `error` (the sidecar is closing). */
  abandon(error: WardenError): void {
    for (const entry of [...this.#pending.values()]) entry.end({ kind: 'timeout', error });
  }
}
