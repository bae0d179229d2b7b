/**
 * Decision spans (README "Tracing"): a sampled share of verdicts and data-API
 * decisions get a span (`warden.verdict`, `warden.decision`) with the pack,
 * digest, revision, entrypoint, decision id and the result when it is a
 * boolean or a verdict outcome. The input is never an attribute unless
 * `tracing.include_input` is set. A decision not sampled costs one random
 * number and a comparison; with `tracing.decisions.sample: 0` not even that.
 */
import { context, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { ATTR, tracer } from './tracing.js';

/** `tracing:` as the agent passes it. */
export interface DecisionTracingOptions {
  /** The share of decisions traced, 0..1. */
  readonly sample: number;
  /** Add the input (JSON text, cut at INPUT_ATTRIBUTE_CHARS) as `warden.input`. */
  readonly includeInput: boolean;
  /** A seam for tests; default Math.random. */
  readonly random?: () => number;
}

/** The longest input text put in a span. */
export const INPUT_ATTRIBUTE_CHARS = 8192;

/** Which pack version answered, for a span's attributes. */
export interface SpanSource {
  readonly pack: string;
  readonly digest: string;
  readonly revision: string;
  readonly decisionId: string;
}

/** Samples decisions and builds their spans. */
export class DecisionTracing {
  readonly #sample: number;
  readonly #includeInput: boolean;
  readonly #random: () => number;

  constructor(options: DecisionTracingOptions) {
    this.#sample = Math.min(1, Math.max(0, options.sample));
    this.#includeInput = options.includeInput;
    this.#random = options.random ?? Math.random;
  }

  /** True for the sampled share of calls. */
  sampled(): boolean {
    return this.#sample > 0 && (this.#sample >= 1 || this.#random() < this.#sample);
  }

  /** Starts `name` for `entrypoint` (a child of the active span) and the context in which it is active. */
  start(name: string, entrypoint: string): { span: Span; ctx: Context } {
    const span = tracer().startSpan(name, { attributes: { [ATTR.entrypoint]: entrypoint } });
    return { span, ctx: trace.setSpan(context.active(), span) };
  }

  /** Ends a decision span with who answered, the result (only if boolean or a verdict outcome) and, if configured, the input. */
  finish(span: Span, source: SpanSource | undefined, result: string | boolean | undefined, input: () => unknown): void {
    const attributes: Attributes = {};
    if (source !== undefined) {
      attributes[ATTR.pack] = source.pack;
      attributes[ATTR.digest] = source.digest;
      attributes[ATTR.revision] = source.revision;
      attributes[ATTR.decisionId] = source.decisionId;
    }
    if (result !== undefined) attributes[ATTR.result] = result;
    if (this.#includeInput) {
      const text = inputText(input());
      if (text !== undefined) attributes[ATTR.input] = text.slice(0, INPUT_ATTRIBUTE_CHARS);
    }
    span.setAttributes(attributes);
    span.end();
  }
}

/** A result's JSON text as a span's result: true or false, else nothing (no values of other types leave Warden). */
export function booleanResult(resultJson: string | undefined): boolean | undefined {
  if (resultJson === 'true') return true;
  if (resultJson === 'false') return false;
  return undefined;
}

// Text already, or JSON of a value; undefined when it has none.
function inputText(input: unknown): string | undefined {
  if (input === undefined || typeof input === 'string') return input;
  try {
    return JSON.stringify(input);
  } catch {
    return undefined;
  }
}
