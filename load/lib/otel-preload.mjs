// `node --import ./load/lib/otel-preload.mjs bin/warden.js agent …` (LOAD_TRACING=1): the
// agent with a real OpenTelemetry SDK registered, as a host would: a BasicTracerProvider,
// an AsyncLocalStorage context manager, and a BatchSpanProcessor whose exporter counts the
// spans and drops them. The SDK's costs (span objects, sampling, batching, the export call)
// are all paid; nothing is sent or written. At exit the counts go to $LOAD_OTEL_REPORT (JSON):
// the proof the SDK was on, read by scripts/load.mjs.
import { writeFileSync } from 'node:fs';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const counts = { ended: 0, exported: 0, exports: 0, by_name: {} };

/** The exporter: counts, then drops the batch. */
const countingExporter = {
  export(spans, done) {
    counts.exports += 1;
    counts.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};

/** Counts every ended span by name, including those still queued in the batch processor at exit. */
const endCounter = {
  onStart() {},
  onEnd(span) {
    counts.ended += 1;
    counts.by_name[span.name] = (counts.by_name[span.name] ?? 0) + 1;
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};

const manager = new AsyncLocalStorageContextManager();
manager.enable();
context.setGlobalContextManager(manager);
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(countingExporter), endCounter] }),
);

const report = process.env.LOAD_OTEL_REPORT;
if (report) process.on('exit', () => writeFileSync(report, `${JSON.stringify(counts)}\n`));
