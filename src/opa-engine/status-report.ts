/**
 * OPA's status upload (`POST <service>/status`, the status plugin) read down to
 * what the acknowledgement needs: which OPA instance sent it and, per bundle,
 * the active revision and the errors of the last attempt.
 */

/** One bundle in a status upload. */
export interface BundleReport {
  readonly activeRevision?: string;
  /** OPA's code for a failed download or activation (e.g. `bundle_error`); absent when the last attempt succeeded. */
  readonly code?: string;
  readonly message?: string;
  readonly errors: readonly unknown[];
  /** last_request as epoch ms (fractional): when OPA sent the request whose outcome this is. */
  readonly lastRequestMs?: number;
}

/** A status upload. */
export interface StatusReport {
  /** labels.id: random per OPA process, so a report from a dead process can be told apart. */
  readonly instance?: string;
  readonly bundles: ReadonlyMap<string, BundleReport>;
}

const record = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Parses a status body; undefined when it is not a JSON object. */
export function parseStatusReport(body: string): StatusReport | undefined {
  let doc: Record<string, unknown> | undefined;
  try {
    doc = record(JSON.parse(body));
  } catch {
    return undefined;
  }
  if (doc === undefined) return undefined;
  const bundles = new Map<string, BundleReport>();
  for (const [name, raw] of Object.entries(record(doc.bundles) ?? {})) {
    const b = record(raw);
    if (b === undefined) continue;
    const activeRevision = text(b.active_revision);
    const code = text(b.code);
    const message = text(b.message);
    const lastRequestMs = epochMs(b.last_request);
    bundles.set(name, {
      ...(lastRequestMs !== undefined ? { lastRequestMs } : {}),
      ...(activeRevision !== undefined ? { activeRevision } : {}),
      ...(code !== undefined ? { code } : {}),
      ...(message !== undefined ? { message } : {}),
      errors: Array.isArray(b.errors) ? (b.errors as unknown[]) : [],
    });
  }
  const instance = text(record(doc.labels)?.id);
  return { ...(instance !== undefined ? { instance } : {}), bundles };
}

// An RFC 3339 UTC time with up to nanoseconds (Go's format) as epoch ms, keeping the sub-millisecond part.
function epochMs(v: unknown): number | undefined {
  const m = typeof v === 'string' ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(v) : null;
  if (m?.[1] === undefined) return undefined;
  const seconds = Date.parse(`${m[1]}Z`);
  return Number.isNaN(seconds) ? undefined : seconds + Number(`0.${m[2] ?? '0'}`) * 1000;
}

/** One line naming OPA's refusal: its message and each error's message. */
export function describeRefusal(report: BundleReport): string {
  const details = report.errors
    .map((e) => {
      const r = record(e);
      const loc = record(r?.location);
      const where = loc ? `${String(loc.file)}:${String(loc.row)}: ` : '';
      return `${where}${typeof r?.message === 'string' ? r.message : JSON.stringify(e)}`;
    })
    .filter(Boolean);
  return [report.message ?? report.code ?? 'refused', ...details].join('; ');
}
