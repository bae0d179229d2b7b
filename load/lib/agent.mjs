// The agent under load: `node bin/warden.js agent --config FILE` as a child process, its
// output in a log file, ready when GET /readyz answers 200, stopped with SIGTERM (SIGKILL
// after a grace period).
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** A free loopback port (the OS picks it; closed again before the agent binds it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts the agent; resolves once /readyz is 200, rejects (with the log tail) if it exits or times out.
 * `nodeArgs` go before bin/warden.js (e.g. `--import` of a preload); `env` is added to the runner's.
 */
export async function startAgent({ root, configFile, port, logFile, nodeArgs = [], env = {} }) {
  const log = createWriteStream(logFile);
  const args = [...nodeArgs, join(root, 'bin', 'warden.js'), 'agent', '--config', configFile];
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const agent = { child, url, logFile, exited, stop: () => stopAgent(child, exited, log) };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let gone;
  void exited.then((e) => (gone = e));
  while (Date.now() < deadline) {
    if (gone) throw new Error(`the agent exited (${gone.signal ?? `code ${gone.code}`}) before it was ready:\n${tail(logFile)}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return agent;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await agent.stop();
  throw new Error(`the agent was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${tail(logFile)}`);
}

// SIGTERM (a graceful stop: the decision log flushes), SIGKILL if it takes too long.
async function stopAgent(child, exited, log) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
  await new Promise((resolve) => log.end(resolve));
}

/** The last lines of a log file, for error messages. */
export function tail(file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
