/**
 * The `warden` command line: dispatches to one command, prints errors as one
 * line `warden: CODE: message` plus a hint, and maps them to exit statuses
 * (2 for usage errors, 1 for every other failure).
 */
import { toWardenError } from '../errors.js';
import { WARDEN_VERSION } from '../project.js';
import type { CliIO } from './command.js';
import { COMMANDS } from './registry.js';

const defaultIO: CliIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Runs `warden argv…`; resolves with the exit status. */
export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return usage(io);
  if (first === '--version') {
    io.out(WARDEN_VERSION);
    return 0;
  }
  const twoWord = COMMANDS.find((c) => c.name === `${first} ${second ?? ''}`);
  const command = twoWord ?? COMMANDS.find((c) => c.name === first);
  if (!command) {
    io.err(`warden: USAGE: unknown command "${[first, second].filter(Boolean).join(' ')}"`);
    io.err('  hint: run `warden --help` for the list of commands');
    return 2;
  }
  try {
    return await (await command.load()).run(argv.slice(twoWord ? 2 : 1), io);
  } catch (err) {
    const e = toWardenError(err);
    io.err(`warden: ${e.code}: ${e.message.split('\n').join('\n  ')}`);
    io.err(`  hint: ${e.hint}`);
    return e.kind === 'usage' ? 2 : 1;
  }
}

// Prints the command list.
function usage(io: CliIO): number {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  io.out(
    `warden ${WARDEN_VERSION}: signed OPA policy packs, verified and hot-reloaded\n\nusage: warden <command> [options]\n`,
  );
  for (const c of COMMANDS) io.out(`  ${c.name.padEnd(width)}  ${c.summary}`);
  io.out('\nRun `warden <command> --help` for its options.');
  return 0;
}
