/**
 * The agent's event plumbing: every event an activator emits is numbered and
 * persisted by the on-disk event log (SSE replay), then fanned out through the
 * bus to in-process subscribers and webhooks. Emitting never blocks or throws:
 * events are chained in order off the caller's path.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentConfig } from '../config/load.js';
import type { WebhookConfig } from '../notify/webhook-config.js';
import { WardenError, messageOf } from '../errors.js';
import { EventBus, type EventHandler } from '../notify/bus.js';
import { EventLog } from '../notify/event-log.js';
import type { NewEvent, WardenEventType } from '../notify/events.js';
import { WebhookDispatcher } from '../notify/webhooks.js';
import type { Logger } from '../observe/logger.js';
import type { WardenMetrics } from '../observe/metrics.js';

type WebhookSection = AgentConfig['events']['webhooks'][number];

/** The running event machinery of one agent. */
export interface AgentEvents {
  readonly log: EventLog;
  /** Numbers, persists and publishes an event; never throws. A function, so it can be handed around detached. */
  readonly emit: (event: NewEvent) => void;
  /** In-process subscription; returns the unsubscribe function. */
  subscribe(types: readonly WardenEventType[] | '*', handler: EventHandler, name?: string): () => void;
  /** Waits for events in flight, drains subscribers and webhooks, closes the log. */
  close(): Promise<void>;
}

/** Opens the event log, the bus and the configured webhooks. */
export async function startEvents(config: AgentConfig, log: Logger, metrics: WardenMetrics): Promise<AgentEvents> {
  const eventLog = await EventLog.open(join(config.data_dir, 'events.ndjson'), { maxEvents: config.events.max_events });
  const bus = new EventBus({ log, registry: metrics.registry });
  const webhooks = new WebhookDispatcher({
    bus,
    log,
    registry: metrics.registry,
    webhooks: await Promise.all(
      config.events.webhooks.map(async (w) => webhookConfigFrom(w, await readSecret(w.secret_file), config.data_dir)),
    ),
  });
  let chain: Promise<unknown> = Promise.resolve();
  return {
    log: eventLog,
    emit(event) {
      chain = chain
        .then(() => eventLog.append(event))
        .then((numbered) => {
          log.info({ event: numbered.type, event_id: numbered.id, pack: numbered.pack }, 'event');
          bus.publish(numbered);
        })
        .catch((err: unknown) =>
          log.error({ code: 'IO_FAILED', err: messageOf(err), event: event.type }, 'event not recorded'),
        );
    },
    subscribe: (types, handler, name) => bus.subscribe(types, handler, name ? { name } : {}),
    async close() {
      await chain;
      await webhooks.close(5_000); // waits for deliveries in flight, then dead-letters what is left
      await bus.close();
      await eventLog.close();
    },
  };
}

/** One webhook's settings from its `events.webhooks[]` entry (the secret read from its file); dead letters go under data_dir. */
export function webhookConfigFrom(w: WebhookSection, secret: Buffer, dataDir: string): WebhookConfig {
  return {
    url: w.url,
    secret,
    ...(w.events ? { events: w.events } : {}),
    timeoutSeconds: w.timeout_seconds,
    maxAttempts: w.max_attempts,
    backoff: { baseMs: w.backoff_base_seconds * 1000, maxMs: w.backoff_max_seconds * 1000 },
    deadLetterPath: join(dataDir, 'webhooks.dead-letter.ndjson'),
  };
}

// Reads a webhook's HMAC key file; surrounding whitespace (a trailing newline) is not part of the key.
async function readSecret(path: string): Promise<Buffer> {
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'utf8');
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `cannot read webhook secret_file ${path}: ${messageOf(err)}`, {
      cause: err,
    });
  }
}
