/**
 * The shadows' evaluator: the one place shadow decisions are evaluated, off the
 * request path. Every `intervalMs` (a timer of this thread) it takes each
 * running shadow's sampled decisions in batches of at most `batchSize`, asks
 * the shadow version (on this thread, or in the decision workers when the pack
 * is answered there), compares each answer with the active one's using the
 * replay's `classify` (src/replay/compare.ts), counts the outcome
 * (`policy_shadow_decisions_total{pack,outcome}`), appends the changed ones with
 * both answers to the pack's shadow log (shadow-log.ts), and asks the gate
 * (gate.ts). Between batches it yields a turn, so decisions answered on this
 * thread wait for at most one batch.
 */
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { GateVerdict, ShadowRun, ShadowStarter } from '../activate/shadow.js';
import type { ActivePack } from '../activate/types.js';
import type { Engine } from '../engine/engine.js';
import { engineJsonText } from '../engine/json-text.js';
import { messageOf, toWardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { counter } from '../observe/register.js';
import { classify, type Answer } from '../replay/compare.js';
import { LiveShadow } from './run.js';
import type { ShadowSettings } from './settings.js';
import { ShadowLog } from './shadow-log.js';
import type { SampledDecision } from './slots.js';

/** How the evaluator runs. */
export interface ShadowEvaluatorOptions {
  /** Folder of the shadow logs (the agent: `<data_dir>/shadow`). */
  readonly dir: string;
  readonly log: Logger;
  /** Where the policy_shadow_* counters are registered; none if absent. */
  readonly registry?: Registry | undefined;
  /** How often queued shadow decisions are evaluated; default 50 ms. */
  readonly intervalMs?: number;
  /** Decisions evaluated per turn at most; default 16 (a verdict arriving meanwhile waits for one batch: ~0.1–0.4 ms, docs/benchmarks.md "Shadow evaluation cost"). */
  readonly batchSize?: number;
}

/** Evaluates every running shadow's sampled decisions, off the request path. */
export class ShadowEvaluator {
  readonly #runs = new Set<LiveShadow>();
  readonly #logs = new Map<string, ShadowLog>();
  readonly #decisions;
  readonly #dropped;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  #timer: NodeJS.Timeout | undefined;
  #pumping: Promise<void> | undefined;

  constructor(private readonly opts: ShadowEvaluatorOptions) {
    this.#decisions = counter(opts.registry, 'policy_shadow_decisions_total');
    this.#dropped = counter(opts.registry, 'policy_shadow_dropped_total');
    this.#intervalMs = opts.intervalMs ?? 50;
    this.#batchSize = opts.batchSize ?? 16;
  }

  /** The starter of one pack's shadows (the activator calls it for each new shadow). */
  starter(settings: ShadowSettings): ShadowStarter {
    return (pack: ActivePack, onVerdict: (run: ShadowRun, verdict: GateVerdict) => void) => {
      const run = new LiveShadow(pack, settings, onVerdict, (r) => this.#runs.delete(r));
      this.#runs.add(run);
      return run;
    };
  }

  /** Starts the timer (idempotent). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#pump(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Evaluates everything queued now (tests, benchmarks and close). */
  async drain(): Promise<void> {
    while (this.#pumping !== undefined || [...this.#runs].some((r) => r.ring.length > 0)) await this.#pump();
  }

  /** Stops the timer after the batch in flight; what is queued is not evaluated. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pumping;
  }

  // One evaluation loop at a time; callers during a loop share it.
  #pump(): Promise<void> {
    this.#pumping ??= this.#evaluateAll()
      .catch((err: unknown) =>
        this.opts.log.error({ code: 'INTERNAL', err: messageOf(err) }, 'shadow evaluation failed'),
      )
      .finally(() => {
        this.#pumping = undefined;
      });
    return this.#pumping;
  }

  async #evaluateAll(): Promise<void> {
    for (;;) {
      let any = false;
      for (const run of [...this.#runs]) {
        this.#reportDrops(run);
        if (run.ring.length === 0) continue;
        any = true;
        await this.#evaluate(run, run.ring.take(this.#batchSize));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (!any) return;
    }
  }

  // One batch: both answers, compared, counted, the changed ones logged; then the gate.
  async #evaluate(run: LiveShadow, batch: readonly SampledDecision[]): Promise<void> {
    const engine = run.pack.engine;
    const asked = batch.map((d) => askable(d));
    const after = await Promise.all(asked.map(async (q) => (q === undefined ? undefined : answerOf(engine, q))));
    if (run.ended) return;
    const lines: string[] = [];
    asked.forEach((q, i) => {
      const a = after[i];
      if (q === undefined || a === undefined) return;
      const outcome = classify(undefined, q.before, a);
      run.record(outcome);
      this.#decisions.inc({ pack: run.pack.name, outcome });
      if (outcome !== 'unchanged') lines.push(changedLine(run.pack, q, a, outcome));
    });
    run.judge();
    await this.#logOf(run).append(lines);
  }

  #reportDrops(run: LiveShadow): void {
    const dropped = run.ring.dropped - run.droppedReported;
    if (dropped <= 0) return;
    run.droppedReported = run.ring.dropped;
    this.#dropped.inc({ pack: run.pack.name }, dropped);
  }

  #logOf(run: LiveShadow): ShadowLog {
    let log = this.#logs.get(run.pack.name);
    if (!log) {
      log = new ShadowLog(this.opts.dir, run.pack.name, run.settings.logMaxBytes, this.opts.log);
      this.#logs.set(run.pack.name, log);
    }
    return log;
  }
}

/** Where a pack's shadow log is, under the agent's data_dir. */
export function shadowLogDir(dataDir: string): string {
  return join(dataDir, 'shadow');
}

/** A sampled decision as a question: the input's text and the active answer. */
interface Question {
  readonly d: SampledDecision;
  readonly inputJson: string | undefined;
  readonly before: Answer;
}

// The question a sampled decision asks; undefined when its values cannot be serialised (then not compared).
function askable(d: SampledDecision): Question | undefined {
  try {
    const inputJson = d.text ? d.inputJson : d.input === undefined ? undefined : engineJsonText(d.input);
    const resultJson = d.text ? d.resultJson : d.defined ? engineJsonText(d.result) : undefined;
    const before: Answer = resultJson === undefined ? { kind: 'undefined' } : { kind: 'value', json: resultJson };
    return { d, inputJson, before };
  } catch {
    return undefined;
  }
}

// The shadow's answer: on this thread, or in the decision workers; a failure is an error answer.
async function answerOf(engine: Engine, q: Question): Promise<Answer> {
  try {
    const json =
      engine.kind === 'local'
        ? engine.evaluateJson(q.d.path, q.inputJson)
        : (await engine.evaluateJsonAsync(q.d.path, q.inputJson)).resultJson;
    return json === undefined ? { kind: 'undefined' } : { kind: 'value', json };
  } catch (err) {
    return { kind: 'error', code: toWardenError(err, 'DECISION_FAILED').code };
  }
}

// One shadow-log line: the decision, its outcome and both answers (docs/architecture.md#live-shadow-evaluation).
function changedLine(pack: ActivePack, q: Question, after: Answer, outcome: string): string {
  return `{"at":${JSON.stringify(new Date().toISOString())},"pack":${JSON.stringify(pack.name)},"shadow":${JSON.stringify({ digest: pack.digest, revision: pack.revision, number: pack.number })},"decision_id":${JSON.stringify(q.d.decisionId)},"path":${JSON.stringify(q.d.path)},"outcome":${JSON.stringify(outcome)},"input":${q.inputJson ?? 'null'},"active":${answerJson(q.before)},"candidate":${answerJson(after)}}`;
}

// An answer in a log line: {"result": …}, {} for undefined, {"error": CODE}.
function answerJson(a: Answer): string {
  if (a.kind === 'value') return `{"result":${a.json}}`;
  return a.kind === 'undefined' ? '{}' : `{"error":${JSON.stringify(a.code)}}`;
}
