/**
 * Registry authentication, as the OCI distribution spec and Docker's token
 * protocol define it. A request goes out with what is known for its scope; a
 * 401 names the scheme in `WWW-Authenticate`:
 * - `Basic`: the configured username and password are sent;
 * - `Bearer realm=…,service=…,scope=…`: a token is asked of the realm (with the
 *   username and password as basic auth if configured, anonymously otherwise),
 *   cached for the scope until shortly before it expires, and sent.
 * A configured `token` is sent as `Bearer` on every request (a registry token
 * minted elsewhere); it is never exchanged.
 */
import { WardenError } from '../../errors.js';

/** What the agent (or `pack push`) authenticates with. */
export type OciCredentials =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'token'; readonly token: string };

/** One parsed challenge of a WWW-Authenticate header. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`); undefined when absent or unreadable. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?\s*/g;
  for (const p of (m[2] ?? '').matchAll(re)) {
    const key = (p[1] ?? '').toLowerCase();
    params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

/** The `Authorization` value of basic credentials. */
export function basicAuthorization(c: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/** Bearer tokens obtained by exchange, per scope, with their expiry (ms on the caller's clock). */
export class TokenCache {
  readonly #tokens = new Map<string, { token: string; expiresAt: number }>();

  get(scope: string, now: number): string | undefined {
    const t = this.#tokens.get(scope);
    if (t === undefined || t.expiresAt <= now) return undefined;
    return t.token;
  }

  set(scope: string, token: string, expiresInSeconds: number, now: number): void {
    // Renewed 30 s (or a tenth of its life) early: a token never expires mid-fetch.
    const life = expiresInSeconds * 1000;
    this.#tokens.set(scope, { token, expiresAt: now + life - Math.min(30_000, life / 10) });
  }

  clear(): void {
    this.#tokens.clear();
  }
}

/** The token endpoint's answer: `token` (Docker) or `access_token` (OAuth2), with an optional lifetime. */
export function readTokenAnswer(body: unknown, realm: string): { token: string; expiresIn: number } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const token = typeof b.token === 'string' && b.token !== '' ? b.token : b.access_token;
  if (typeof token !== 'string' || token === '')
    throw new WardenError('OCI_AUTH_FAILED', `the token endpoint ${realm} answered without a token`, {
      details: { realm },
    });
  // The spec's default lifetime is 60 s when none is given.
  const expiresIn = typeof b.expires_in === 'number' && b.expires_in > 0 ? b.expires_in : 60;
  return { token, expiresIn };
}

/** The token request URL of a Bearer challenge for a scope. */
export function tokenUrl(challenge: Challenge, scope: string): string {
  const realm = challenge.params.realm;
  if (realm === undefined || realm === '')
    throw new WardenError('OCI_AUTH_FAILED', 'the registry asked for a bearer token but named no realm', {
      details: { challenge: challenge.params },
    });
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new WardenError('OCI_AUTH_FAILED', `the registry's token realm ${JSON.stringify(realm)} is not a URL`, {
      details: { realm },
    });
  }
  if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
  url.searchParams.set('scope', challenge.params.scope ?? scope);
  return url.toString();
}
