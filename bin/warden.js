#!/usr/bin/env node
// Entry point of the `warden` command: runs the compiled CLI.
import { main } from '../dist/cli/main.js';

// A reader that went away (`warden --help | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2));
