/**
 * What every CLI command is: a name, its help text and a run function that
 * returns an exit status. Argument parsing is node's parseArgs, strict.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WardenError, messageOf } from '../errors.js';

/** Streams a command writes to (tests pass their own). */
export interface CliIO {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** One `warden …` command. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type HelpOption = { help: { type: 'boolean'; short: 'h' } };
type Config<O extends Options> = { args: string[]; options: O & HelpOption; allowPositionals: true; strict: true };
/** What parse returns: node's typed values and positionals. */
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<Config<O>>>;

/** Parses argv strictly; unknown flags or a positional count outside `positionals` (n, or [min, max]) → USAGE. */
export function parse<O extends Options>(
  argv: string[],
  options: O,
  positionals: number | readonly [number, number],
): Parsed<O> {
  const [min, max] = typeof positionals === 'number' ? [positionals, positionals] : positionals;
  const config: Config<O> = {
    args: argv,
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  };
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    throw new WardenError('USAGE', messageOf(err));
  }
  // values' type is computed from the generic O; only `help` is read here.
  const help = (parsed.values as { help?: boolean }).help === true;
  const count = parsed.positionals.length;
  if (!help && (count < min || count > max)) {
    throw new WardenError('USAGE', `expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${count}`);
  }
  return parsed;
}

/** Reads a required string flag or throws USAGE naming it. */
export function required(value: string | boolean | (string | boolean)[] | undefined, flag: string): string {
  if (typeof value !== 'string' || value === '') throw new WardenError('USAGE', `--${flag} is required`);
  return value;
}

/** Reads a file or throws IO_FAILED naming it. */
export async function readOrFail(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new WardenError('IO_FAILED', `cannot read ${path}: ${messageOf(err)}`, { cause: err });
  }
}
