/**
 * The decision budget (`governance.budget`, docs/architecture.md#decision-budgets):
 * how long the policy engine may take per decision, and what happens past it.
 *
 * A timer cannot preempt a synchronous wasm evaluation on this thread (every
 * verdict, and data-API decisions when `decision_workers: 0`): such an overrun
 * is found once the answer is back, and the answer stands. Whatever
 * `on_exceed` says, the action taken there is `warn`. Where the answer comes
 * asynchronously (a decision worker, or OPA for `engine: opa`), the deadline
 * is a timer: `fail_closed` answers DECISION_BUDGET_EXCEEDED (503) at the
 * deadline, `fail_open` answers the path's configured `fail_open` value (a
 * path without one fails closed, as `opa.on_timeout` does), `warn` waits for
 * the answer and reports the overrun. The late answer is dropped.
 *
 * Every overrun is counted (`governance_budget_exceeded_total{pack,action}`),
 * added as a `warden.budget_exceeded` event to the active span (when nothing
 * records one, a span of its own is started back-dated to the decision's
 * start, so the overrun is traced), and logged as a warning at most once per
 * log interval, with how many were not logged since.
 */
import { SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import type { Counter, Registry } from 'prom-client';
import type { RemoteEvaluation } from '../engine/engine.js';
import { WardenError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { counter } from '../observe/register.js';
import { ATTR, tracer } from '../observe/tracing.js';

/** What `on_exceed` may say. */
export type BudgetAction = 'warn' | 'fail_open' | 'fail_closed';

/** `governance.budget` as the agent passes it. */
export interface DecisionBudgetOptions {
  readonly ms: number;
  readonly onExceed: BudgetAction;
  /** fail_open: the answer by decision path; a path without one fails closed. */
  readonly failOpen: Readonly<Record<string, unknown>>;
  readonly registry?: Registry | undefined;
  readonly log: Logger;
  /** At most one warning line per this many ms (default 10 000). */
  readonly logIntervalMs?: number;
}

/** One decision over its budget. */
export interface Overrun {
  readonly path: string;
  readonly pack: string;
  readonly digest: string;
  readonly elapsedMs: number;
  readonly action: BudgetAction;
}

/** Where a decision was answered, for an overrun. */
export interface BudgetTarget {
  readonly name: string;
  readonly digest: string;
}

const DEFAULT_LOG_INTERVAL_MS = 10_000;

/** A per-decision time budget. */
export class DecisionBudget {
  readonly ms: number;
  /** The budget in ns, for the synchronous path's comparison. */
  readonly ns: number;
  readonly action: BudgetAction;
  readonly #failOpen: Readonly<Record<string, unknown>>;
  readonly #exceeded: Counter<'pack' | 'action'>;
  readonly #log: Logger;
  readonly #logIntervalMs: number;
  #lastLogAt = -Infinity;
  #unlogged = 0;

  constructor(o: DecisionBudgetOptions) {
    this.ms = o.ms;
    this.ns = o.ms * 1e6;
    this.action = o.onExceed;
    this.#failOpen = o.failOpen;
    this.#exceeded = counter(o.registry, 'governance_budget_exceeded_total');
    this.#log = o.log;
    this.#logIntervalMs = o.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS;
  }

  /** A synchronous evaluation took `ns`: past the budget it is reported with action `warn` (it cannot be preempted). */
  checkSync(path: string, active: BudgetTarget, ns: number): void {
    if (ns > this.ns)
      this.report({ path, pack: active.name, digest: active.digest, elapsedMs: ns / 1e6, action: 'warn' });
  }

  /**
   * An asynchronous answer under the deadline: `asked` as it settles within the budget; past it, on_exceed
   * (fail_closed: rejects DECISION_BUDGET_EXCEEDED; fail_open: the path's answer, else fail_closed; warn: waits).
   */
  bound(path: string, active: BudgetTarget, asked: Promise<RemoteEvaluation>): Promise<RemoteEvaluation> {
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;
    if (this.action === 'warn') {
      return asked.then((answer) => {
        const ms = elapsed();
        if (ms > this.ms)
          this.report({ path, pack: active.name, digest: active.digest, elapsedMs: ms, action: 'warn' });
        return answer;
      });
    }
    return new Promise<RemoteEvaluation>((resolve, reject) => {
      const timer = setTimeout(() => {
        const ms = elapsed();
        const open = this.action === 'fail_open' && Object.hasOwn(this.#failOpen, path);
        this.report({
          path,
          pack: active.name,
          digest: active.digest,
          elapsedMs: ms,
          action: open ? 'fail_open' : 'fail_closed',
        });
        if (open) resolve({ resultJson: JSON.stringify(this.#failOpen[path]), ns: Math.round(ms * 1e6) });
        else reject(exceeded(path, active, this.ms));
      }, this.ms);
      asked.finally(() => clearTimeout(timer)).then(resolve, reject);
    });
  }

  /** Counts, traces and (rate-bounded) logs one overrun. */
  report(o: Overrun): void {
    this.#exceeded.inc({ pack: o.pack, action: o.action });
    this.#trace(o);
    const now = performance.now();
    if (now - this.#lastLogAt < this.#logIntervalMs) {
      this.#unlogged++;
      return;
    }
    const unlogged = this.#unlogged;
    this.#lastLogAt = now;
    this.#unlogged = 0;
    this.#log.warn(
      {
        code: 'DECISION_BUDGET_EXCEEDED',
        pack: o.pack,
        digest: o.digest,
        entrypoint: o.path,
        elapsed_ms: Math.round(o.elapsedMs * 1000) / 1000,
        budget_ms: this.ms,
        action: o.action,
        unlogged_since_last: unlogged,
      },
      'decision over its time budget',
    );
  }

  // The event on the recording span of this decision (or the host's request); else a span of its own.
  #trace(o: Overrun): void {
    const attributes: Attributes = {
      [ATTR.pack]: o.pack,
      [ATTR.digest]: o.digest,
      [ATTR.entrypoint]: o.path,
      'warden.budget.elapsed_ms': o.elapsedMs,
      'warden.budget.ms': this.ms,
      'warden.budget.action': o.action,
    };
    const active = trace.getActiveSpan();
    if (active?.isRecording() === true) {
      active.addEvent('warden.budget_exceeded', attributes);
      return;
    }
    const span = tracer().startSpan('warden.decision', {
      startTime: Date.now() - o.elapsedMs,
      attributes: { [ATTR.pack]: o.pack, [ATTR.digest]: o.digest, [ATTR.entrypoint]: o.path },
    });
    span.addEvent('warden.budget_exceeded', attributes);
    if (o.action !== 'warn') span.setStatus({ code: SpanStatusCode.ERROR, message: 'decision over its time budget' });
    span.end();
  }
}

function exceeded(path: string, active: BudgetTarget, ms: number): WardenError {
  return new WardenError(
    'DECISION_BUDGET_EXCEEDED',
    `no answer to ${path} from pack ${active.name} within the ${ms} ms budget (governance.budget.verdict_ms)`,
    { details: { entrypoint: path, pack: active.name, digest: active.digest, budget_ms: ms } },
  );
}
