/**
 * Webhook settings: checked, defaulted and frozen in one step. Every bad field
 * of every webhook is listed in one CONFIG_INVALID error.
 */
import { WardenError } from '../errors.js';
import { EVENT_TYPES, type WardenEventType } from './events.js';

/** One webhook as configured (the agent config reads `secret` from its secret file). */
export interface WebhookConfig {
  readonly url: string;
  /** The shared HMAC key, at least 16 bytes: the secret file's contents. */
  readonly secret: Buffer;
  /** The event types to send; default `'*'` (all). */
  readonly events?: readonly WardenEventType[] | '*';
  /** Deadline of one attempt; default 10. */
  readonly timeoutSeconds?: number;
  /** Attempts per event, the first included; default 6. */
  readonly maxAttempts?: number;
  /** Ceiling of the first retry delay and cap of every delay, in ms; default 1000 / 60000. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** NDJSON file of events given up on. */
  readonly deadLetterPath: string;
}

/** A webhook ready to use. */
export interface ResolvedWebhook {
  readonly url: URL;
  /** The URL without credentials or query: for logs, metric labels and dead-letter records. */
  readonly label: string;
  readonly secret: Buffer;
  readonly events: readonly WardenEventType[] | '*';
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly deadLetterPath: string;
}

export const WEBHOOK_DEFAULTS = { timeoutSeconds: 10, maxAttempts: 6, baseMs: 1000, maxMs: 60_000 } as const;
const MIN_SECRET_BYTES = 16;
const MAX_ATTEMPTS = 100;

/** Checks and defaults every webhook; throws CONFIG_INVALID naming each bad field. */
export function resolveWebhooks(configs: readonly WebhookConfig[]): readonly ResolvedWebhook[] {
  const problems: string[] = [];
  const resolved = configs.map((c, i) =>
    resolveOne(c, (field, why) => problems.push(`webhooks[${i}].${field}: ${why}`)),
  );
  if (problems.length > 0) {
    throw new WardenError('CONFIG_INVALID', `invalid webhook settings:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  return Object.freeze(resolved);
}

// Resolves one webhook, reporting each bad field (the result is only used when none is).
function resolveOne(c: WebhookConfig, bad: (field: string, why: string) => void): ResolvedWebhook {
  let url = new URL('http://invalid.invalid/');
  try {
    url = new URL(c.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') bad('url', `must be http or https, not ${url.protocol}`);
  } catch {
    bad('url', 'is not a URL');
  }
  if (c.secret.length < MIN_SECRET_BYTES) bad('secret', `must be at least ${MIN_SECRET_BYTES} bytes`);
  const events = c.events ?? '*';
  if (events !== '*') {
    if (events.length === 0) bad('events', "must name at least one event type (or be '*')");
    for (const t of events)
      if (!(EVENT_TYPES as readonly string[]).includes(t)) bad('events', `unknown event type ${t}`);
  }
  const timeoutSeconds = c.timeoutSeconds ?? WEBHOOK_DEFAULTS.timeoutSeconds;
  if (!(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)) bad('timeoutSeconds', 'must be a positive number');
  const maxAttempts = c.maxAttempts ?? WEBHOOK_DEFAULTS.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS)
    bad('maxAttempts', `must be an integer from 1 to ${MAX_ATTEMPTS}`);
  const baseMs = c.backoff?.baseMs ?? WEBHOOK_DEFAULTS.baseMs;
  const maxMs = c.backoff?.maxMs ?? WEBHOOK_DEFAULTS.maxMs;
  if (!(Number.isFinite(baseMs) && baseMs >= 0)) bad('backoff.baseMs', 'must be a number ≥ 0');
  if (!(Number.isFinite(maxMs) && maxMs >= baseMs)) bad('backoff.maxMs', 'must be a number ≥ backoff.baseMs');
  if (c.deadLetterPath.length === 0) bad('deadLetterPath', 'must name a file');
  return Object.freeze({
    url,
    label: `${url.protocol}//${url.host}${url.pathname}`,
    secret: Buffer.from(c.secret),
    events: events === '*' ? '*' : Object.freeze([...events]),
    timeoutMs: Math.round(timeoutSeconds * 1000),
    maxAttempts,
    baseMs,
    maxMs,
    deadLetterPath: c.deadLetterPath,
  });
}
