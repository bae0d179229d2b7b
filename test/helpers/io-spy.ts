/**
 * Proof that a piece of code does no file or network I/O: wraps the fs, fs/promises,
 * FileHandle and net.Socket entry points (reads and writes) with call counters
 * until restored. Named ESM imports of node:fs see the wrappers too.
 */
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { tempDir } from './fs.js';

/** Counts per `module.function`, and the undo. */
export interface IoSpy {
  readonly calls: Record<string, number>;
  restore(): void;
}

/** Starts counting calls into fs and net. */
export async function spyIo(): Promise<IoSpy> {
  const fh = await open(join(tempDir(), 'probe'), 'w');
  const fileHandle = Object.getPrototypeOf(fh) as Record<string, unknown>;
  await fh.close();
  const targets: Array<[string, Record<string, unknown>, string[]]> = [
    [
      'fs',
      fs,
      [
        'writeSync',
        'write',
        'writev',
        'writeFileSync',
        'appendFileSync',
        'openSync',
        'open',
        'appendFile',
        'writeFile',
        'mkdir',
        'mkdirSync',
        'fsync',
        'fsyncSync',
        'readFileSync',
        'readFile',
        'readSync',
        'read',
        'statSync',
        'stat',
        'readdirSync',
        'existsSync',
      ],
    ],
    ['fs.promises', fs.promises, ['open', 'appendFile', 'writeFile', 'mkdir', 'readdir', 'rm', 'readFile', 'stat']],
    ['FileHandle', fileHandle, ['write', 'writev', 'writeFile', 'appendFile', 'sync', 'read', 'readFile']],
    ['net', net, ['connect', 'createConnection']],
    ['net.Socket', net.Socket.prototype as unknown as Record<string, unknown>, ['connect', 'write']],
  ];
  const calls: Record<string, number> = {};
  const restores: Array<() => void> = [];
  for (const [label, target, names] of targets) {
    for (const name of names) {
      const original = target[name] as (...args: unknown[]) => unknown;
      target[name] = function (this: unknown, ...args: unknown[]): unknown {
        calls[`${label}.${name}`] = (calls[`${label}.${name}`] ?? 0) + 1;
        return original.apply(this, args);
      };
      restores.push(() => (target[name] = original));
    }
  }
  syncBuiltinESMExports();
  return {
    calls,
    restore(): void {
      for (const r of restores) r();
      syncBuiltinESMExports();
    },
  };
}
