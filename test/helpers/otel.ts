/**
 * The real OpenTelemetry SDK for a test: a BasicTracerProvider exporting to an
 * InMemorySpanExporter through a SimpleSpanProcessor, the AsyncLocalStorage
 * context manager and the W3C trace-context propagator, registered globally
 * (as a host would) and removed again by `uninstall`.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** A registered SDK and what it exported. */
export interface InstalledOtel {
  readonly exporter: InMemorySpanExporter;
  /** Finished spans named `name` (all when omitted). */
  spans(name?: string): ReadableSpan[];
  uninstall(): Promise<void>;
}

/** Registers the SDK globally. */
export function installOtel(): InstalledOtel {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    exporter,
    spans: (name) => exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name),
    async uninstall() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The one finished span named `name`; fails the test when there is not exactly one. */
export function onlySpan(otel: InstalledOtel, name: string): ReadableSpan {
  const found = otel.spans(name);
  if (found.length !== 1) throw new Error(`expected one ${name} span, found ${found.length}`);
  return found[0] as ReadableSpan;
}
