/**
 * Server processes a benchmark starts (opa, `warden agent`, `warden pack
 * serve`): output captured line by line with the time each line arrived, and
 * every one killed when the benchmark ends, fails or is interrupted.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** bin/warden.js (runs dist/, which `npm run bench` builds first). */
export const WARDEN_BIN = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));

/** One output line and when this process received it (performance.now()). */
export interface Line {
  readonly text: string;
  readonly at: number;
}

const live = new Set<ServerProcess>();

// A benchmark that throws or is interrupted must not leave servers behind.
process.once('exit', () => {
  for (const p of live) p.child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const p of live) p.child.kill('SIGKILL');
    process.exit(130);
  });
}

/** A running child process. */
export class ServerProcess {
  readonly lines: Line[] = [];
  readonly exited: Promise<number>;
  #waiters: Array<() => void> = [];
  #partial = { stdout: '', stderr: '' };

  private constructor(
    readonly name: string,
    readonly child: ChildProcessByStdio<null, Readable, Readable>,
  ) {
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].on('data', (chunk: Buffer) => this.#collect(stream, chunk.toString('utf8')));
    }
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
    live.add(this);
    void this.exited.then(() => {
      live.delete(this);
      for (const w of this.#waiters) w();
    });
  }

  /** Starts `cmd args…` with piped output. */
  static start(
    name: string,
    cmd: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv = process.env,
  ): ServerProcess {
    return new ServerProcess(name, spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env }));
  }

  /** Starts `warden args…` on this Node. */
  static warden(name: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ServerProcess {
    return ServerProcess.start(name, process.execPath, [WARDEN_BIN, ...args], env);
  }

  /** The process id (for the record). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Resolves with the first line (from index `from`) matching re; rejects on timeout or exit. */
  waitFor(re: RegExp, timeoutMs = 30_000, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = from; i < this.lines.length; i++) {
          const m = re.exec(this.lines[i]?.text ?? '');
          if (m) {
            finish();
            resolve(m);
            return true;
          }
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          finish();
          reject(new Error(`${this.name} exited before printing ${re}:\n${this.tail()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name}: timed out waiting for ${re}:\n${this.tail()}`));
      }, timeoutMs);
      const waiter = (): void => void check();
      const finish = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      if (!check()) this.#waiters.push(waiter);
    });
  }

  /** The JSON (pino) lines, parsed, with their arrival time. */
  jsonLines(from = 0): Array<{ at: number; entry: Record<string, unknown> }> {
    const out: Array<{ at: number; entry: Record<string, unknown> }> = [];
    for (const line of this.lines.slice(from)) {
      if (!line.text.startsWith('{')) continue;
      try {
        out.push({ at: line.at, entry: JSON.parse(line.text) as Record<string, unknown> });
      } catch {
        // not a log line
      }
    }
    return out;
  }

  /** The last lines of output, for error messages. */
  tail(n = 20): string {
    return this.lines
      .slice(-n)
      .map((l) => l.text)
      .join('\n');
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit status. */
  async stop(graceMs = 5_000): Promise<number> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  // Splits output into lines, stamping each with its arrival time.
  #collect(stream: 'stdout' | 'stderr', text: string): void {
    const at = performance.now();
    const parts = (this.#partial[stream] + text).split('\n');
    this.#partial[stream] = parts.pop() ?? '';
    for (const p of parts) if (p !== '') this.lines.push({ text: p, at });
    for (const w of [...this.#waiters]) w();
  }
}

/** Stops every process given, ignoring failures (for `finally`). */
export async function stopAll(procs: ReadonlyArray<ServerProcess | undefined>): Promise<void> {
  await Promise.all(procs.map((p) => (p ? p.stop().catch(() => undefined) : Promise.resolve(undefined))));
}

/** A TCP port free on 127.0.0.1 right now (for servers that cannot report the one they picked). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `warden agent --config FILE`; resolves once it listens (within timeoutMs), with its URL. */
export async function startWardenAgent(
  name: string,
  configPath: string,
  timeoutMs = 30_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ proc: ServerProcess; url: string }> {
  const proc = ServerProcess.warden(name, ['agent', '--config', configPath], env);
  try {
    const m = await proc.waitFor(/^warden agent listening on (http:\/\/\S+)/, timeoutMs);
    return { proc, url: m[1] ?? '' };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Starts `warden pack serve DIR` on a free port; resolves with the server's base URL (http://host:port). */
export async function startPackServer(dir: string): Promise<{ proc: ServerProcess; url: string }> {
  const proc = ServerProcess.warden('pack server', ['pack', 'serve', dir, '--listen', '127.0.0.1:0']);
  try {
    const m = await proc.waitFor(/^serving .* on (http:\/\/[^/\s]+)/);
    return { proc, url: m[1] ?? '' };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
