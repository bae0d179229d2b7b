/**
 * What the agent adds to every decision: the time budget (`governance.budget`,
 * src/decide/budget.ts) and sampled decision spans (`tracing`,
 * src/observe/decision-tracing.ts).
 */
import type { AgentConfig } from '../config/load.js';
import { DecisionBudget } from './budget.js';
import { DecisionTracing } from '../observe/decision-tracing.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';

/** The Decider's budget and tracing from the configuration. */
export function deciderOptionsFrom(
  config: AgentConfig,
  metrics: WardenMetrics,
  log: Logger,
): { budget: DecisionBudget | undefined; tracing: DecisionTracing } {
  const b = config.governance?.budget;
  const budget =
    b === undefined
      ? undefined
      : new DecisionBudget({
          ms: b.verdict_ms,
          onExceed: b.on_exceed,
          failOpen: b.fail_open,
          registry: metrics.registry,
          log: log.child({ component: 'budget' }),
        });
  const t = config.tracing;
  const tracing = new DecisionTracing({ sample: t.decisions.sample, includeInput: t.include_input });
  return { budget, tracing };
}
