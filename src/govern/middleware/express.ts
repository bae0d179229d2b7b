/**
 * The governance step as Connect-style middleware, `(req, res, next)`, typed
 * on Node's own request and response so it serves Express 4/5 and a plain
 * `http` server alike without importing either. A request let through gets
 * `req.governance` and goes on; a refused one is answered with the refusal as
 * JSON and never reaches the handler; an unexpected error goes to `next(err)`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { credentialHeaders } from '../../util/credential-headers.js';
import { createEnforcer, type Enforcement, type EnforcerOptions, type RequestGovernance } from './enforce.js';

declare global {
  // Express's Request extends this global interface (the convention @types/express sets for middleware).
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by wardenExpress for every request it let through. */
      governance?: RequestGovernance;
    }
  }
}

/** A request that went through wardenExpress (for plain `http` servers). */
export type GovernedRequest = IncomingMessage & { governance?: RequestGovernance };

/** The middleware: `(req, res, next)`. */
export type WardenMiddleware<Req extends IncomingMessage = IncomingMessage> = (
  req: Req,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/** Enforces tenant isolation and verdicts: `app.use(wardenExpress({ governance, context }))`. */
export function wardenExpress<Req extends IncomingMessage = IncomingMessage>(
  options: EnforcerOptions<Req>,
): WardenMiddleware<Req> {
  const enforce = createEnforcer(options);
  return (req, res, next) => {
    enforce(credentialHeaders(req), req).then((outcome) => {
      let pass: boolean;
      try {
        pass = settle(outcome, req, res);
      } catch (err) {
        next(err);
        return;
      }
      if (pass) next();
    }, next);
  };
}

// Adds the outcome's headers; sets req.governance (true: go on) or answers the refusal (false).
function settle(outcome: Enforcement, req: GovernedRequest, res: ServerResponse): boolean {
  for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
  if (outcome.ok) {
    req.governance = outcome.governance;
    return true;
  }
  const body = JSON.stringify(outcome.body);
  res.statusCode = outcome.status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
  return false;
}
