/**
 * The one way to get a metric: by its catalogue name (src/observe/catalogue.ts),
 * which fixes its type, help, labels and buckets. A metric already in the
 * registry under that name is reused (two buses, caches or validators on one
 * registry share it), so nothing registers a metric twice or one the catalogue
 * lacks. Without a registry the metric counts but is exposed nowhere (tests,
 * tools). The hot-path shapes — FastHistogram and scraped counters — take
 * their definitions from the same catalogue (see fast-histogram.ts and
 * scraped-counter.ts for why they exist).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CATALOGUE, type LabelOf, type MetricName, type NameOf } from './catalogue.js';
import { FastHistogram } from './fast-histogram.js';

/** The prom-client Counter `name` in `registry`: the one already there, else a new one. */
export function counter<N extends NameOf<'counter'>>(registry: Registry | undefined, name: N): Counter<LabelOf<N>> {
  const existing = reusable(registry, name);
  if (existing instanceof Counter) return existing;
  const { help, labels } = CATALOGUE[name];
  return new Counter<LabelOf<N>>({
    name,
    help,
    labelNames: labels,
    registers: registry === undefined ? [] : [registry],
  });
}

/** The prom-client Gauge `name` in `registry`: the one already there, else a new one. */
export function gauge<N extends NameOf<'gauge'>>(registry: Registry | undefined, name: N): Gauge<LabelOf<N>> {
  const existing = reusable(registry, name);
  if (existing instanceof Gauge) return existing;
  const { help, labels } = CATALOGUE[name];
  return new Gauge<LabelOf<N>>({ name, help, labelNames: labels, registers: registry === undefined ? [] : [registry] });
}

/** The prom-client Histogram `name` in `registry`: the one already there, else a new one. */
export function histogram<N extends NameOf<'histogram'>>(
  registry: Registry | undefined,
  name: N,
): Histogram<LabelOf<N>> {
  const existing = reusable(registry, name);
  if (existing instanceof Histogram) return existing;
  const { help, labels, buckets } = CATALOGUE[name];
  return new Histogram<LabelOf<N>>({
    name,
    help,
    labelNames: labels,
    buckets: [...buckets],
    registers: registry === undefined ? [] : [registry],
  });
}

/** The FastHistogram `name` in `registry` (for a metric observed on every decision): the one already there, else a new one. */
export function fastHistogram(registry: Registry, name: NameOf<'histogram'>): FastHistogram {
  const existing: unknown = registry.getSingleMetric(name);
  if (existing instanceof FastHistogram) return existing;
  if (existing !== undefined) throw mismatch(name);
  const { help, buckets } = CATALOGUE[name];
  return new FastHistogram(name, help, buckets, registry);
}

// The metric `name` already in `registry`, if any; throws if it is not of its catalogue type.
function reusable<N extends MetricName>(
  registry: Registry | undefined,
  name: N,
): Counter<LabelOf<N>> | Gauge<LabelOf<N>> | Histogram<LabelOf<N>> | undefined {
  const existing = registry?.getSingleMetric<LabelOf<N>>(name);
  if (existing === undefined) return undefined;
  const type = CATALOGUE[name].type;
  if (
    (type === 'counter' && existing instanceof Counter) ||
    (type === 'gauge' && existing instanceof Gauge) ||
    (type === 'histogram' && existing instanceof Histogram)
  )
    return existing;
  throw mismatch(name);
}

function mismatch(name: MetricName): Error {
  return new TypeError(
    `metric ${name} is already registered in this registry as another kind of metric than its catalogue ${CATALOGUE[name].type}`,
  );
}
