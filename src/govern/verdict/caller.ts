/**
 * Who is asking, for which tenant: one rule for POST /v1/verdict and the
 * Fastify / Express middleware. With `governance.tenants` the verified JWT
 * decides (its tenant; its `sub` when it has one); a tenant or subject the
 * request states as well must agree with it. Without, the tenant is the one
 * stated or `X-Tenant-ID` (both: they must agree). Repeated headers are
 * refused, never guessed at (a repeated Authorization too: pass the headers
 * through credentialHeaders, which keeps every value). A missing tenant is left to the caller to refuse:
 * there is never a default tenant.
 */
import type { JWTPayload } from 'jose';
import { WardenError } from '../../errors.js';
import type { CredentialHeaders } from '../../util/credential-headers.js';
import type { Governance } from './governance.js';

/** What the request itself says (a verdict body; a service's `context(req)`). */
export interface StatedCaller {
  readonly tenant?: unknown;
  readonly subject?: unknown;
}

/** The tenant and subject to put in the verdict context, and the token's claims if one was verified. */
export interface Caller {
  readonly tenant: unknown;
  readonly subject: unknown;
  readonly claims: Readonly<JWTPayload> | undefined;
}

/** The caller of a request; a coded error (401/403/503, 400 for a contradicting subject) otherwise. */
export async function callerOf(
  governance: Governance,
  headers: CredentialHeaders,
  stated: StatedCaller,
): Promise<Caller> {
  const headerTenant = singleHeader(headers['x-tenant-id'], 'TENANT_MALFORMED');
  if (!governance.verifiesTenants) {
    if (headerTenant !== undefined && stated.tenant !== undefined && stated.tenant !== headerTenant)
      throw mismatch('X-Tenant-ID names another tenant than the context');
    return { tenant: stated.tenant ?? headerTenant, subject: stated.subject, claims: undefined };
  }
  const token = await governance.authenticate(headers); // checks X-Tenant-ID against the token too
  if (stated.tenant !== undefined && stated.tenant !== token.tenant)
    throw mismatch('the context names another tenant than the verified token');
  if (token.subject !== undefined && stated.subject !== undefined && stated.subject !== token.subject) {
    throw new WardenError('DECISION_INPUT_INVALID', 'the context subject contradicts the token subject (sub)', {
      details: { field: 'subject' },
    });
  }
  return { tenant: token.tenant, subject: token.subject ?? stated.subject, claims: token.claims };
}

/** A header sent once, as a string; a repeated one is refused with `code`. */
export function singleHeader(
  value: string | string[] | undefined,
  code: 'TENANT_MALFORMED' | 'DECISION_INPUT_INVALID',
): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value))
    throw new WardenError(code, 'a header is repeated', { details: { reason: 'header_repeated' } });
  return value;
}

function mismatch(message: string): WardenError {
  return new WardenError('TENANT_MISMATCH', message, { details: { reason: 'tenant_mismatch' } });
}
