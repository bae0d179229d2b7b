/**
 * JSON logs (pino). Every line about a fetch or reload carries its
 * `correlation_id`; every failure carries `code`.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** The log levels a configuration may name. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** A logger writing JSON lines to stdout (or to `destination`, for tests). */
export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { service: 'warden' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
