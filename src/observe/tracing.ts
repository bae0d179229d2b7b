/**
 * OpenTelemetry spans (README "Tracing"). Warden depends on `@opentelemetry/api`
 * only: the host registers an SDK (tracer provider, context manager,
 * propagator) and Warden's spans go wherever it sends them. Without one the
 * API is a no-op: spans are non-recording, inject writes nothing, and the
 * decision hot path does not even start a span unless a decision is sampled
 * (decision-tracing.ts).
 *
 * Pipeline spans: `warden.fetch` (one poll of an http or file source; an http
 * source's requests carry its W3C traceparent) is the parent of `warden.reload` (one update
 * through the pipeline), whose children are `warden.verify`, `warden.store`
 * and `warden.activate`. Every one carries `warden.correlation_id`, the id on
 * the log lines and sent to the pack server as `x-correlation-id`.
 */
import {
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { WARDEN_VERSION } from '../project.js';

/** The instrumentation scope of every Warden span. */
export const TRACER_NAME = 'warden';

/** Span attribute names (one place, so docs and tests agree). */
export const ATTR = {
  pack: 'warden.pack',
  correlationId: 'warden.correlation_id',
  source: 'warden.source',
  url: 'url.full',
  digest: 'warden.digest',
  revision: 'warden.revision',
  outcome: 'warden.outcome',
  entrypoint: 'warden.entrypoint',
  result: 'warden.result',
  decisionId: 'warden.decision_id',
  cached: 'warden.cached',
  input: 'warden.input',
  errorCode: 'warden.error.code',
} as const;

/** The header carrying Warden's correlation id to a pack server (besides `x-request-id`). */
export const CORRELATION_HEADER = 'x-correlation-id';

/** The tracer; asked of the global provider each time, so a provider the host registers later is used. */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME, WARDEN_VERSION);
}

/**
 * Runs fn inside a new active span (a child of the active one), ends it when
 * fn settles; a thrown error is recorded (status ERROR, `warden.error.code`)
 * and rethrown.
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** inSpan for synchronous work. */
export function inSpanSync<T>(name: string, attributes: Attributes, fn: (span: Span) => T): T {
  return tracer().startActiveSpan(name, { attributes }, (span) => {
    try {
      return fn(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks a span failed with the error's message and code. */
export function failed(span: Span, err: unknown): void {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  if (code !== undefined) span.setAttribute(ATTR.errorCode, code);
}

/** The W3C trace headers of `ctx` (default: the active context) added to headers; none without a registered propagator. */
export function injectTraceHeaders(headers: Record<string, string>, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers);
}
