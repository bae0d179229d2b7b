/**
 * Counters of the notification modules, registered in the agent's registry
 * (WardenMetrics.registry) when one is given, else in none (tests, tools).
 */
import { Counter, type Registry } from 'prom-client';

/**
 * A counter named `name` in `registry`: the one already there (a second bus or
 * dispatcher on the same registry shares it), else a new one.
 */
export function counter<L extends string>(registry: Registry | undefined, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry?.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: registry === undefined ? [] : [registry] });
}
