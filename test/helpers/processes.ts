/**
 * Real `warden agent` and `warden pack serve` processes on 127.0.0.1, with
 * their output captured and the address they print parsed.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));

const live = new Set<WardenProcess>();

/** A running warden child process. */
export class WardenProcess {
  readonly output: string[] = [];
  readonly exited: Promise<number>;
  #waiters: Array<() => void> = [];

  private constructor(readonly child: ChildProcessByStdio<null, Readable, Readable>) {
    const collect = (chunk: Buffer): void => {
      this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      for (const w of this.#waiters) w();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  /** Kills every process still running (for `after` hooks: a failed test must not leave children behind). */
  static async killAll(): Promise<void> {
    await Promise.all([...live].map((p) => p.stop('SIGKILL')));
  }

  /** Starts `warden args…` (with these environment variables over the test's own). */
  static spawn(args: string[], env: Readonly<Record<string, string>> = {}): WardenProcess {
    return new WardenProcess(
      spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }),
    );
  }

  /** Resolves with the first output line matching re (rejects after timeoutMs or if the process exits first). */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (const line of this.output) {
          const m = re.exec(line);
          if (m) {
            done();
            resolve(m);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${re}; output:\n${this.output.join('\n')}`));
      }, timeoutMs);
      const onExit = (): void => {
        if (!check()) {
          done();
          reject(new Error(`process exited before ${re}; output:\n${this.output.join('\n')}`));
        }
      };
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        this.child.off('exit', onExit);
      };
      const waiter = (): void => void check();
      if (check()) return;
      this.#waiters.push(waiter);
      this.child.on('exit', onExit);
    });
  }

  /** JSON log lines (pino) parsed. */
  logs(): Array<Record<string, unknown>> {
    return this.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Sends a signal and waits for the exit status. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Starts `warden agent --config path` and waits until it listens; returns its base URL. */
export async function startAgentProcess(configPath: string): Promise<{ proc: WardenProcess; url: string }> {
  const proc = WardenProcess.spawn(['agent', '--config', configPath]);
  const m = await proc.waitFor(/^warden agent listening on (http:\/\/\S+)/);
  return { proc, url: m[1] ?? '' };
}

/** One sample of a metric (name and a label substring such as `code="X"`; '' for a metric without labels) from an agent's /metrics; 0 when absent. */
export async function agentMetric(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || (labels === '' && l.startsWith(`${name} `))) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Starts `warden pack serve dir` on a free port; returns its base URL. */
export async function startPackServerProcess(
  dir: string,
  extra: string[] = [],
): Promise<{ proc: WardenProcess; url: string }> {
  const proc = WardenProcess.spawn(['pack', 'serve', dir, '--listen', '127.0.0.1:0', ...extra]);
  const m = await proc.waitFor(/^serving .* on (http:\/\/[^/\s]+)/);
  return { proc, url: m[1] ?? '' };
}
