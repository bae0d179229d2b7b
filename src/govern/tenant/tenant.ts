/**
 * Tenant isolation (docs/design.md#governance): every request carries a JWT,
 * verified with jose against pinned asymmetric algorithms, the issuer, the
 * audience and a required `exp`; its tenant claim must be a string matching
 * the tenant pattern; an `X-Tenant-ID` header, when sent, must name the same
 * tenant. Any failure blocks the request (see tenant-refusal.ts for the 401/403
 * split) and counts `security_tenant_missing_context_total{reason}`. There is
 * never a default tenant. Everything is decided at construction; a call does
 * no I/O unless the token names an unknown key. With tokenCacheSeconds, a
 * token that verified is not verified again for that long (token-cache.ts);
 * a JWKS change drops the cached tokens of the keys it changed, and
 * `forgetTenants` those of named tenants. With a revocation check, every
 * token, cached or just verified, is looked up in the revoked jti/sid set
 * (revocation-list.ts: in memory, O(1)) before it is accepted.
 */
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { Registry } from 'prom-client';
import { WardenError } from '../../errors.js';
import { counter as catalogueCounter } from '../../observe/register.js';
import type { JwksSource } from './jwks.js';
import type { RevocationCheck } from './revocation-list.js';
import { reasonOf, refusal, refusalCounter, type RefusalReason } from './tenant-refusal.js';
import { TokenCache } from './token-cache.js';

export interface TenantValidatorOptions {
  /** The one accepted `iss`. */
  issuer: string;
  /** The accepted `aud` value(s); the token must name one of them. */
  audience: string | string[];
  /** Pinned signature algorithms; asymmetric only: `none` and HS* are refused here. */
  algorithms: string[];
  /** Where the public keys come from (jwksFromFile, jwksFromUrl). */
  keys: JwksSource;
  /** Claim that holds the tenant id. Default `tenant`. */
  tenantClaim?: string;
  /** What a tenant id looks like (token claim and X-Tenant-ID). Default /^[a-z0-9][a-z0-9_-]{0,62}$/. */
  tenantPattern?: RegExp;
  /** Leeway for exp and nbf. Default 0, at most 300. */
  clockToleranceSeconds?: number;
  /** `optional` (default): X-Tenant-ID, if sent, must equal the token's tenant. `required`: it must also be sent. */
  tenantHeader?: 'optional' | 'required';
  /** Where the refusal counter is registered. Default: a private registry. */
  registry?: Registry;
  /**
   * Remember verified tokens (token-cache.ts) for at most this long; 0 or absent: verify every time.
   * A key removed from the JWKS keeps its verified tokens accepted this long at most.
   */
  tokenCacheSeconds?: number;
  /** Tokens remembered at most. Default 10,000. */
  tokenCacheEntries?: number;
  /** Refuses revoked tokens (revocation-redis.ts); absent: no revocation. */
  revocation?: RevocationCheck | undefined;
}

/** Who is calling, for which tenant; frozen. */
export interface TenantContext {
  readonly tenant: string;
  /** The token's `sub`, if it is a string. */
  readonly subject: string | undefined;
  readonly claims: Readonly<JWTPayload>;
}

/** The request headers the validator reads (Node's IncomingHttpHeaders fits). */
export interface TenantHeaders {
  /** A list when the request repeated the header (credential-headers.ts): refused. */
  authorization?: string | readonly string[] | undefined;
  'x-tenant-id'?: string | string[] | undefined;
}

export interface TenantValidator {
  /** The tenant context of a request, or a WardenError whose details give reason, status and wwwAuthenticate. */
  validate(headers: TenantHeaders): Promise<TenantContext>;
  /** Drops the cached verified tokens of these tenants (their configuration changed); returns how many. */
  forgetTenants(tenants: Iterable<string>): number;
  /** Stops listening for key changes. */
  close(): void;
}

/** Signature algorithms a public JWKS can satisfy. */
const ASYMMETRIC = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);
/** Longest token read; a compact JWS of ordinary claims is well under 4 KiB. */
const MAX_TOKEN_CHARS = 16 * 1024;
/** What a tenant id looks like unless configured otherwise. */
export const DEFAULT_TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Builds a validator; throws CONFIG_INVALID listing every bad option. */
export function createTenantValidator(options: TenantValidatorOptions): TenantValidator {
  checkOptions(options);
  const claim = options.tenantClaim ?? 'tenant';
  const given = options.tenantPattern ?? DEFAULT_TENANT_PATTERN;
  const pattern = new RegExp(given.source, given.flags.replace(/[gy]/g, '')); // no lastIndex state
  const headerRequired = options.tenantHeader === 'required';
  const registry = options.registry ?? new Registry();
  const counter = refusalCounter(registry);
  const verifyOptions: JWTVerifyOptions = Object.freeze({
    algorithms: [...options.algorithms],
    issuer: options.issuer,
    audience: typeof options.audience === 'string' ? options.audience : [...options.audience],
    requiredClaims: ['exp'],
    clockTolerance: options.clockToleranceSeconds ?? 0,
  });
  const keys = options.keys;
  const seconds = options.tokenCacheSeconds ?? 0;
  const tokens =
    seconds > 0 ? new TokenCache(options.tokenCacheEntries ?? 10_000, seconds * 1000, Date.now, claim) : undefined;
  const revocation = options.revocation;
  const forgotten = catalogueCounter(registry, 'governance_token_cache_forgotten_total');
  forgotten.inc({ reason: 'jwks_change' }, 0);
  forgotten.inc({ reason: 'tenant_change' }, 0);
  // A key that changed or left the JWKS: its verified tokens are verified again (or refused) on their next use.
  const stopWatching =
    tokens && keys.onChange?.((kids) => forgotten.inc({ reason: 'jwks_change' }, tokens.forgetKeys(kids)));
  const getKey: JWTVerifyGetKey = (header, token) => keys.getKey(header, token);
  const refuse = (reason: RefusalReason, cause?: unknown, extra?: Record<string, unknown>): WardenError => {
    counter.inc({ reason });
    return refusal(reason, cause, extra);
  };

  return {
    async validate(headers) {
      const authorization = headers.authorization;
      if (typeof authorization === 'object') throw refuse('authorization_repeated');
      const match = BEARER.exec(authorization ?? '');
      const token = match?.[1];
      if (token === undefined) throw refuse('no_token');
      if (token.length > MAX_TOKEN_CHARS) throw refuse('malformed');
      let payload = tokens?.get(token);
      if (payload === undefined) {
        let kid: string | undefined;
        try {
          let protectedHeader;
          ({ payload, protectedHeader } = await jwtVerify(token, getKey, verifyOptions));
          kid = protectedHeader.kid;
        } catch (err) {
          throw refuse(reasonOf(err), err);
        }
        tokens?.set(token, payload, kid);
      }
      if (revocation !== undefined) {
        const answer = revocation.check(payload);
        if (answer === 'revoked') throw refuse('revoked');
        if (answer === 'unavailable') throw refuse('revocation_unavailable');
      }

      const raw = Object.hasOwn(payload, claim) ? payload[claim] : undefined;
      if (raw === undefined || raw === null || raw === '') throw refuse('tenant_missing', undefined, { claim });
      if (typeof raw !== 'string' || !pattern.test(raw)) throw refuse('tenant_malformed', undefined, { claim });

      const addressed = headers['x-tenant-id'];
      if (addressed === undefined) {
        if (headerRequired) throw refuse('tenant_header_missing');
      } else if (typeof addressed !== 'string' || !pattern.test(addressed)) {
        throw refuse('tenant_header_malformed'); // repeated headers arrive as an array or "a, b"
      } else if (addressed !== raw) {
        throw refuse('tenant_mismatch', undefined, { tokenTenant: raw, addressedTenant: addressed });
      }
      return Object.freeze({
        tenant: raw,
        subject: typeof payload.sub === 'string' ? payload.sub : undefined,
        claims: Object.freeze(payload),
      });
    },
    forgetTenants(tenants) {
      const dropped = tokens?.forgetTenants(new Set(tenants)) ?? 0;
      forgotten.inc({ reason: 'tenant_change' }, dropped);
      return dropped;
    },
    close() {
      stopWatching?.();
    },
  };
}

// Every problem with the options at once, as one CONFIG_INVALID.
function checkOptions(o: TenantValidatorOptions): void {
  const problems: string[] = [];
  if (typeof o.issuer !== 'string' || o.issuer === '') problems.push('issuer: must be a non-empty string');
  const audiences: unknown[] = Array.isArray(o.audience) ? o.audience : [o.audience];
  if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === ''))
    problems.push('audience: must be a non-empty string or list of them');
  if (!Array.isArray(o.algorithms) || o.algorithms.length === 0)
    problems.push('algorithms: pin at least one algorithm');
  for (const alg of Array.isArray(o.algorithms) ? o.algorithms : []) {
    if (String(alg).toLowerCase() === 'none') problems.push('algorithms: "none" is never accepted (unsigned tokens)');
    else if (/^HS/i.test(String(alg)))
      problems.push(
        `algorithms: ${alg} is refused: the keys are public, and HMAC with a public key as secret is the classic confusion attack`,
      );
    else if (!ASYMMETRIC.has(alg))
      problems.push(`algorithms: ${alg} is not a known asymmetric JWS algorithm (${[...ASYMMETRIC].join(', ')})`);
  }
  if (typeof o.keys?.getKey !== 'function') problems.push('keys: must be a JWKS source (jwksFromFile, jwksFromUrl)');
  if (o.revocation !== undefined && typeof o.revocation?.check !== 'function')
    problems.push('revocation: must be a revocation check (RedisRevocation)');
  if (o.tenantClaim !== undefined && (typeof o.tenantClaim !== 'string' || o.tenantClaim === ''))
    problems.push('tenantClaim: must be a non-empty string');
  if (o.tenantPattern !== undefined && !(o.tenantPattern instanceof RegExp))
    problems.push('tenantPattern: must be a RegExp');
  const tol = o.clockToleranceSeconds;
  if (tol !== undefined && !(Number.isFinite(tol) && tol >= 0 && tol <= 300))
    problems.push('clockToleranceSeconds: must be a number from 0 to 300');
  if (o.tenantHeader !== undefined && o.tenantHeader !== 'optional' && o.tenantHeader !== 'required')
    problems.push('tenantHeader: must be "optional" or "required"');
  const cache = o.tokenCacheSeconds;
  if (cache !== undefined && !(Number.isFinite(cache) && cache >= 0 && cache <= 3600))
    problems.push('tokenCacheSeconds: must be a number from 0 to 3600');
  const entries = o.tokenCacheEntries;
  if (entries !== undefined && !(Number.isSafeInteger(entries) && entries >= 1))
    problems.push('tokenCacheEntries: must be a positive integer');
  if (problems.length > 0) {
    throw new WardenError('CONFIG_INVALID', `tenant validator: ${problems.join('; ')}`, { details: { problems } });
  }
}
