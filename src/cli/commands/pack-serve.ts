/** `warden pack serve DIR --listen HOST:PORT [--max-wait SECONDS]`: the reference pack server. */
import { Writable } from 'node:stream';
import { isIPv4, isIPv6 } from 'node:net';
import { WardenError } from '../../errors.js';
import { createLogger } from '../../observe/logger.js';
import { MAX_SERVED_BYTES } from '../../pack-server/pack-index.js';
import { PACKS_PREFIX, startPackServer } from '../../pack-server/pack-server.js';
import { parse, required, type CliIO, type Command } from '../command.js';
import { LIMIT_FLAGS, limitsFromFlags } from '../limit-flags.js';
import { summaryOf } from '../registry.js';

const HELP = `Serves every pack in DIR, read-only:
  DIR/NAME.tar.gz                  GET|HEAD /v1/policy/packs/NAME
  DIR/NAME.tar.gz.sigstore.json    GET|HEAD /v1/policy/packs/NAME.sigstore.json
NAME is [A-Za-z0-9._-]+; the file names themselves (NAME.tar.gz, NAME.tar.gz.sigstore.json)
work as URL names too. Responses carry ETag: "sha256:<hex>"; If-None-Match with the current
ETag answers 304. Long polling: If-None-Match plus "Prefer: wait=N" holds the request until
the pack changes (200) or N seconds pass (304).

To publish, rename a complete file over the old one (write a temp file in DIR, then mv):
the signature first, then the pack. Changes are seen within about a second.

options:
  --listen HOST:PORT    address to bind (IPv6 in brackets: [::1]:8282; port 0 picks one)
  --max-wait SECONDS    longest long poll, whatever the client asks (default 60, 0 = off)
  --max-pack-bytes N    files over N bytes are logged and not served (default ${MAX_SERVED_BYTES}, an agent's limits.max_pack_bytes)

Logs one JSON line per request on stderr. Stops cleanly on SIGINT or SIGTERM.`;

const MAX_WAIT_LIMIT = 3600;

export const packServeCommand: Command = {
  name: 'pack serve',
  summary: summaryOf('pack serve'),
  usage: 'warden pack serve DIR --listen HOST:PORT [--max-wait SECONDS] [--max-pack-bytes N]',
  run(argv, io) {
    return servePacks(argv, io, untilSignal);
  },
};

/** The command's body; `stopped` is called before binding and resolves when serving should stop (tests pass their own). */
export async function servePacks(argv: string[], io: CliIO, stopped: () => Promise<unknown>): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { listen: { type: 'string' }, 'max-wait': { type: 'string' }, 'max-pack-bytes': LIMIT_FLAGS['max-pack-bytes'] },
    1,
  );
  if (values.help) {
    io.out(`usage: ${packServeCommand.usage}\n\n${packServeCommand.summary}.\n\n${HELP}`);
    return 0;
  }
  const dir = positionals[0] ?? '';
  const { host, port } = parseListen(required(values.listen, 'listen'));
  const maxWaitSeconds = values['max-wait'] === undefined ? undefined : parseSeconds(values['max-wait']);
  const maxBytes = limitsFromFlags(values).maxCompressedBytes;
  const logger = createLogger('info', lineSink(io.err));
  // Listen for the stop before printing the address: a SIGTERM with no listener kills the process outright.
  const stop = stopped();
  const server = await startPackServer({
    dir,
    host,
    port,
    maxWaitSeconds,
    ...(maxBytes === undefined ? {} : { maxBytes }),
    log: (obj, msg) => logger.info(obj, msg),
  });
  io.out(`serving ${dir} on ${server.url}${PACKS_PREFIX}`);
  await stop;
  await server.close();
  return 0;
}

/** Parses `HOST:PORT` strictly (hostname, IPv4, or [IPv6]; port 0–65535); USAGE otherwise. */
export function parseListen(value: string): { host: string; port: number } {
  const bad = (why: string): WardenError =>
    new WardenError(
      'USAGE',
      `--listen ${JSON.stringify(value)}: ${why} (expected HOST:PORT, e.g. 127.0.0.1:8282 or [::1]:8282)`,
    );
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw bad('no port');
  const rawHost = value.slice(0, colon);
  const rawPort = value.slice(colon + 1);
  if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) > 65535) throw bad('port must be a number from 0 to 65535');
  const bracketed = /^\[(.+)\]$/.exec(rawHost)?.[1];
  if (bracketed !== undefined) {
    if (!isIPv6(bracketed)) throw bad('not an IPv6 address in brackets');
    return { host: bracketed, port: Number(rawPort) };
  }
  if (rawHost.includes(':')) throw bad('IPv6 addresses go in brackets');
  if (!isIPv4(rawHost) && (/^[\d.]+$/.test(rawHost) || !isHostname(rawHost)))
    throw bad('not a host name or IP address');
  return { host: rawHost, port: Number(rawPort) };
}

// --max-wait: whole seconds, 0 (long polling off) up to an hour.
function parseSeconds(value: string): number {
  if (!/^\d{1,4}$/.test(value) || Number(value) > MAX_WAIT_LIMIT) {
    throw new WardenError(
      'USAGE',
      `--max-wait ${JSON.stringify(value)}: expected whole seconds from 0 to ${MAX_WAIT_LIMIT}`,
    );
  }
  return Number(value);
}

// A DNS name (labels of letters, digits and inner hyphens), e.g. localhost.
function isHostname(host: string): boolean {
  return (
    host.length <= 253 &&
    /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host)
  );
}

// Resolves at the first SIGINT or SIGTERM, then stops listening for them.
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

// pino writes whole lines; hand each to the CLI's stderr line writer.
function lineSink(write: (line: string) => void): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line !== '') write(line);
      callback();
    },
  });
}
