/**
 * The configuration Warden gives its OPA child: one service (Warden's loopback
 * bundle endpoint, with a bearer token), one bundle per pack pulled from it
 * with long polling, and status uploads to it (the acknowledgement source).
 * Connect mode documents the same shape for the user's own OPA.
 */

/** The service name in OPA's config. */
export const SERVICE_NAME = 'warden';

/** The endpoint path of a pack's bundle (relative to the service URL). */
export function bundleResource(pack: string): string {
  return `bundles/${pack}`;
}

/** OPA's configuration for the child, as JSON-able data (OPA reads JSON as YAML). */
export function childOpaConfig(opts: {
  readonly serviceUrl: string;
  readonly token: string;
  readonly packs: readonly string[];
  readonly longPollSeconds: number;
}): Record<string, unknown> {
  const bundles: Record<string, unknown> = {};
  for (const pack of opts.packs) {
    bundles[pack] = {
      service: SERVICE_NAME,
      resource: bundleResource(pack),
      persist: false,
      // Long polling: Warden answers a held request as soon as a pack is delivered; the
      // delays apply only between failed attempts (OPA's own backoff) and before the first.
      polling: { min_delay_seconds: 1, max_delay_seconds: 2, long_polling_timeout_seconds: opts.longPollSeconds },
    };
  }
  return {
    services: { [SERVICE_NAME]: { url: opts.serviceUrl, credentials: { bearer: { token: opts.token } } } },
    bundles,
    status: { service: SERVICE_NAME },
    labels: { app: 'warden-opa-engine' },
  };
}
