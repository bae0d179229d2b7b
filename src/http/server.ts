/**
 * The agent's HTTP API on Fastify: decisions, verdicts, health, metrics. Errors leave as
 * `{code, message}` with the HTTP status the error registry gives the code (on OPA's
 * routes in OPA's shape, opa-errors.ts), and the request time is observed per route.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify';
import type { Activator } from '../activate/activator.js';
import { WardenError, httpStatusOf, messageOf, toWardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';
import { ServerErrorLog, explain, explanationOf } from '../observe/server-error-log.js';
import { registerDataApi } from './data-api.js';
import type { DecisionLog } from '../decision-log/decision-log.js';
import type { Governance } from '../govern/verdict/governance.js';
import { registerVerdictRoute } from './verdict-route.js';
import { registerHealth, type HealthExtras } from './health.js';
import type { Decider } from '../decide/decider.js';
import { answerClientError } from './client-error.js';
import { jsonDeeperThan } from './json-depth.js';
import { keepBodyText } from './body-text.js';
import { registerCompression } from './compression.js';
import { isOpaRoute, sendOpaError } from './opa-errors.js';
import { markRequestStart, noteInputParse, requestStart } from './opa-metrics.js';

/** Default of limits.max_body_bytes: OPA's own default request limit (256 MiB), after gzip inflation. */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024;

/** Default of limits.max_json_depth: far below the depth at which the engine runs out of stack (~4,000). */
export const DEFAULT_MAX_JSON_DEPTH = 1000;

/** What every API server is built from: the parts the data API needs. */
export interface ApiAppDeps {
  decider: Decider;
  metrics: WardenMetrics;
  log: Logger;
  decisionLog?: Pick<DecisionLog, 'enqueue'> | undefined;
  /** Deepest nesting a request body may have (limits.max_json_depth). */
  maxJsonDepth?: number;
  /** The path `POST /` answers (default_decision); default OPA's `system/main`. */
  defaultDecision?: string;
  /** Largest request body, in bytes after inflation (limits.max_body_bytes). */
  maxBodyBytes?: number;
  /** Where 5xx answers are counted and logged; default: one on deps.log. */
  serverErrors?: ServerErrorLog;
  /** Fastify's serverFactory: a serving process answers some requests before Fastify sees them (src/serve/). */
  serverFactory?: FastifyServerOptions['serverFactory'];
  /** Fastify's trustProxy: the addresses whose X-Forwarded-For names the client (the serving processes' loopback hop). */
  trustProxy?: FastifyServerOptions['trustProxy'];
}

/** Builds (but does not start) the API server. */
export function buildApiServer(
  deps: ApiAppDeps & {
    activators: readonly Activator[];
    governance?: Governance | undefined;
    health?: HealthExtras;
  },
): FastifyInstance {
  const app = buildDataApiServer(deps);
  registerVerdictRoute(app, deps.governance);
  registerHealth(app, deps.activators, deps.metrics, deps.health);
  return app;
}

/**
 * The server with the data API alone: error shapes, body parsing and limits, gzip and
 * request metrics as on every API server. A serving process serves this one.
 */
export function buildDataApiServer(deps: ApiAppDeps): FastifyInstance {
  const maxDepth = deps.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const bodyLimit = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const serverErrors = deps.serverErrors ?? new ServerErrorLog(deps.log.child({ component: 'http' }), deps.metrics);
  // Typed as Fastify's base logger so the instance keeps Fastify's default generics.
  const logger: FastifyBaseLogger = deps.log.child({ component: 'http' });
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    clientErrorHandler: answerClientError,
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
    ...(deps.trustProxy === undefined ? {} : { trustProxy: deps.trustProxy }),
  });
  app.addHook('onRequest', (request, _reply, done) => {
    markRequestStart(request);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const started = requestStart(request);
    const route = request.routeOptions.url ?? 'unmatched';
    if (started !== undefined) {
      deps.metrics.httpDuration.observe(
        { route, method: request.method, status_code: String(reply.statusCode), middleware: middlewareOf(route) },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    }
    if (reply.statusCode >= 500) {
      const why = explanationOf(request) ?? {
        code: 'INTERNAL',
        message: `answered ${reply.statusCode} without an error code`,
      };
      serverErrors.report({ status: reply.statusCode, route, method: request.method, ...why });
    }
    done();
  });
  // OPA reads any POST body as JSON whatever its Content-Type (curl -d sends form encoding).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    const parseStart = process.hrtime.bigint();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      done(new WardenError('DECISION_INPUT_INVALID', `the body is not JSON: ${messageOf(err)}`), undefined);
      return;
    }
    if (jsonDeeperThan(text, maxDepth)) {
      done(
        new WardenError(
          'INPUT_TOO_DEEP',
          `the body nests arrays and objects more than ${maxDepth} levels deep (limits.max_json_depth)`,
          { details: { limit: maxDepth } },
        ),
        undefined,
      );
      return;
    }
    keepBodyText(request, text);
    noteInputParse(request, parseStart);
    done(null, value);
  });
  app.setErrorHandler((err, request, reply) => {
    const e = fromFastify(err, bodyLimit);
    const challenge = e.details.wwwAuthenticate;
    if (typeof challenge === 'string') void reply.header('www-authenticate', challenge);
    explain(request, { code: e.code, message: e.message, details: e.details });
    if (isOpaRoute(request.url)) {
      sendOpaError(reply, e, statusOf(e, err));
      return;
    }
    void reply
      .code(statusOf(e, err))
      .send({ code: e.code, message: e.message, ...(Object.keys(e.details).length ? { details: e.details } : {}) });
  });
  app.setNotFoundHandler((request, reply) => {
    const message = `no route ${request.method} ${request.url}`;
    if (isOpaRoute(request.url)) {
      sendOpaError(reply, new WardenError('DECISION_PATH_UNKNOWN', message), 404, 'resource_not_found');
      return;
    }
    void reply.code(404).send({ code: 'DECISION_PATH_UNKNOWN', message });
  });
  registerCompression(app);
  registerDataApi(app, deps.decider, {
    decisionLog: deps.decisionLog,
    defaultDecision: deps.defaultDecision ?? 'system/main',
    maxJsonDepth: maxDepth,
  });
  return app;
}

// The middleware label of a route: 'data' (decision API), 'governance' (verdicts), else 'none'.
function middlewareOf(route: string): string {
  return route.startsWith('/v1/data') ? 'data' : route === '/v1/verdict' ? 'governance' : 'none';
}

// Fastify's own body errors (too large, bad length) and zlib's (a corrupt gzip body) become
// DECISION_INPUT_INVALID; a body over the limit names the limit and the key that raises it.
function fromFastify(err: unknown, bodyLimit: number): WardenError {
  const code = (err as { code?: unknown }).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new WardenError(
      'DECISION_INPUT_INVALID',
      `the body is larger than ${bodyLimit} bytes (after gzip inflation); limits.max_body_bytes raises the limit`,
      { details: { limit: bodyLimit, key: 'limits.max_body_bytes' } },
    );
  if (typeof code === 'string' && code.startsWith('FST_ERR_CTP'))
    return toWardenError(new Error(messageOf(err)), 'DECISION_INPUT_INVALID');
  if (typeof code === 'string' && code.startsWith('Z_'))
    return new WardenError('DECISION_INPUT_INVALID', `the gzip body does not inflate: ${messageOf(err)}`);
  return toWardenError(err);
}

// HTTP status for an error (a body over the limit keeps Fastify's 413).
function statusOf(e: WardenError, original: unknown): number {
  if (e.code === 'DECISION_INPUT_INVALID' && (original as { statusCode?: unknown }).statusCode === 413) return 413;
  return httpStatusOf(e.code);
}
