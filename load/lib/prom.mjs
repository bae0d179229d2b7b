// Reads the agent's /metrics (Prometheus text format) and turns two scrapes into the
// deltas the load summary reports: counters summed over matching labels, and quantiles
// estimated from histogram bucket deltas (as PromQL's histogram_quantile does).

/** Fetches /metrics and parses it into samples `{name, labels, value}`. */
export async function scrape(baseUrl) {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return { at: performance.now(), samples: parse(await res.text()) };
}

/** The samples of a Prometheus text exposition (comments and blank lines skipped). */
export function parse(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `match`. */
export function sum(scrapeResult, name, match = {}) {
  let total = 0;
  for (const s of scrapeResult.samples) {
    if (s.name === name && matches(s.labels, match)) total += s.value;
  }
  return total;
}

/** after − before of `sum(name, match)`. */
export function delta(before, after, name, match = {}) {
  return sum(after, name, match) - sum(before, name, match);
}

/**
 * Quantiles (e.g. [0.5, 0.99]) of the observations a histogram received between two
 * scrapes, in the histogram's unit; linear within a bucket. A quantile in the +Inf bucket
 * is reported as the largest finite bound with `above: true`.
 */
export function histogramQuantiles(before, after, name, match, qs) {
  const bounds = new Map();
  for (const s of after.samples) {
    if (s.name !== `${name}_bucket` || !matches(s.labels, match)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    bounds.set(le, (bounds.get(le) ?? 0) + s.value);
  }
  for (const s of before.samples) {
    if (s.name !== `${name}_bucket` || !matches(s.labels, match)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    bounds.set(le, (bounds.get(le) ?? 0) - s.value);
  }
  const sorted = [...bounds.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  return qs.map((q) => {
    if (total <= 0) return { q, value: null, above: false };
    const rank = q * total;
    let prevBound = 0;
    let prevCount = 0;
    for (const [bound, cum] of sorted) {
      if (cum >= rank) {
        if (bound === Infinity) return { q, value: prevBound, above: true };
        const inBucket = cum - prevCount;
        const frac = inBucket > 0 ? (rank - prevCount) / inBucket : 1;
        return { q, value: prevBound + (bound - prevBound) * frac, above: false };
      }
      prevBound = bound;
      prevCount = cum;
    }
    return { q, value: prevBound, above: true };
  });
}

// True when every label in `match` has that value.
function matches(labels, match) {
  for (const [k, v] of Object.entries(match)) if (labels[k] !== v) return false;
  return true;
}
