/**
 * Error answers on OPA's routes (`/v1/data/…`, `/v0/data/…`, `POST /`, `/health` and
 * the rest of OPA's `/v0` and `/v1` namespace) in OPA's shape:
 * `{"code": <OPA code>, "message", "errors"?: [{code, message, location?}], "decision_id"?,
 * "warden_code": <Warden code>, "details"?}`, indented with two spaces as OPA indents
 * every error body. Warden's own routes (`/v1/verdict`, `/v1/admin/…`, `/healthz`,
 * `/readyz`, `/metrics`) keep `{code, message, details}` with the Warden code.
 */
import type { FastifyReply } from 'fastify';
import type { WardenError } from '../errors.js';
import { opaCodeOf, type OpaCode } from './opa-codes.js';

/** One entry of an OPA error's `errors`: what OPA reports per failing location. */
export interface OpaErrorDetail {
  readonly code: string;
  readonly message: string;
  readonly location?: { readonly file: string; readonly row: number; readonly col: number };
}

/** True when the request URL is one of OPA's routes, answered in OPA's error shape. */
export function isOpaRoute(url: string): boolean {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/' || path === '/health' || path.startsWith('/health/') || path.startsWith('/v0/')) return true;
  if (!path.startsWith('/v1/')) return false;
  return !(path === '/v1/verdict' || path === '/v1/admin' || path.startsWith('/v1/admin/'));
}

/** The HTTP status OPA gives where Warden's would differ: a body over the limit is OPA's 400, not 413. */
export function opaStatusOf(status: number): number {
  return status === 413 ? 400 : status;
}

// "evaluating authz/allow: x.rego:8:1: var assignment conflict": the engine's runtime
// error, which names the file, row and column of the failing rule.
const LOCATED = /^(?:evaluating \S*: )?([^\s:][^:]*):(\d+):(\d+): ([\s\S]+)$/;

/** The per-location errors of a failed evaluation, as OPA lists them under `errors`. */
export function evaluationErrors(e: WardenError): OpaErrorDetail[] | undefined {
  if (e.code !== 'DECISION_FAILED') return undefined;
  const fromOpa = opaAnswerOf(e)?.errors;
  if (Array.isArray(fromOpa)) return fromOpa as OpaErrorDetail[];
  const m = LOCATED.exec(e.message);
  if (!m) return [{ code: 'eval_internal_error', message: e.message.replace(/^evaluating \S*: /, '') }];
  const [, file = '', row = '0', col = '0', message = ''] = m;
  const code = /conflict|multiple outputs/.test(message) ? 'eval_conflict_error' : 'eval_internal_error';
  return [{ code, message, location: { file, row: Number(row), col: Number(col) } }];
}

// OPA's own error answer, when the failure is a real OPA's (engine: opa): DECISION_FAILED with details.opa.
function opaAnswerOf(e: WardenError): { code?: unknown; errors?: unknown } | undefined {
  const opa = e.details.opa;
  return typeof opa === 'object' && opa !== null ? opa : undefined;
}

/** The OPA-shaped body of `e` answered with `status` (`code` overrides the mapped OPA code). */
export function opaErrorBody(e: WardenError, status: number, code?: OpaCode): string {
  const errors = evaluationErrors(e);
  const decisionId = e.details.decision_id;
  const opaCode = e.code === 'DECISION_FAILED' ? opaAnswerOf(e)?.code : undefined;
  const body = {
    code: code ?? (typeof opaCode === 'string' ? opaCode : opaCodeOf(e.code, status)),
    message: e.message,
    ...(errors ? { errors } : {}),
    ...(typeof decisionId === 'string' ? { decision_id: decisionId } : {}),
    warden_code: e.code,
    ...(Object.keys(e.details).length ? { details: e.details } : {}),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Answers `e` on an OPA route: OPA's status and shape. */
export function sendOpaError(reply: FastifyReply, e: WardenError, status: number, code?: OpaCode): void {
  const answered = opaStatusOf(status);
  void reply
    .code(answered)
    .type('application/json')
    .send(opaErrorBody(e, answered, code));
}
