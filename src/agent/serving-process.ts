/**
 * The entry of a serving process (a node:cluster worker the primary forks,
 * src/serve/processes.ts): takes the primary's messages in order and answers them
 * (src/serve/protocol.ts). With a `governance:` block it answers verdicts too, with
 * governance wired as in the primary (governance-wiring.ts) over this process's packs;
 * boot evidence stays the primary's. It ends when the primary says `close`, or when the
 * primary is gone (the IPC channel closes).
 */
import { createLogger } from '../observe/logger.js';
import { wireError } from '../workers/wire-error.js';
import type { FromServing, ToServing } from '../serve/protocol.js';
import { ServingAgent } from '../serve/serving.js';
import { prepareGovernance, startGovernance } from './governance-wiring.js';

if (process.send === undefined) throw new Error('serving-process.ts runs as a serving process (node:cluster) only');

let agent: ServingAgent | undefined;
let closing: Promise<void> | undefined;
/** Settles once verdicts are wired (at once without governance); listen waits for it. */
let verdictsReady: Promise<void> = Promise.resolve();

// Sends a message; `onSent` runs once the channel took it.
function send(m: FromServing, onSent?: () => void): boolean {
  if (!process.connected) return true;
  return process.send?.(m, undefined, {}, () => onSent?.()) ?? true;
}

process.on('message', (m: ToServing) => {
  if (m.t === 'init') {
    const log = createLogger(m.config.log_level).child({ component: 'serving', pid: process.pid });
    agent = new ServingAgent({
      config: m.config,
      packs: m.packs,
      limits: m.limits,
      primary: m.primary,
      log,
      sendDecisions: (events, at) => send({ t: 'decisions', events, at }, () => agent?.drained()),
    });
    const g = m.config.governance;
    if (g) {
      const parts = prepareGovernance(g, agent.metrics, log);
      verdictsReady = agent.enableVerdicts(async (deps) => {
        const started = await startGovernance(parts, deps);
        return { governance: started.governance, activated: (a) => parts.activated(a), close: () => started.close() };
      });
    }
    return;
  }
  const a = agent;
  if (a === undefined) return;
  switch (m.t) {
    case 'prepare':
      a.prepare(m.id, m.pack).then(
        () => send({ t: 'prepared', id: m.id }),
        (err: unknown) => send({ t: 'prepare-failed', id: m.id, error: wireError(err) }),
      );
      return;
    case 'commit':
      a.commit(m.id, m.seq, m.meta).catch((err: unknown) => {
        a.app.log.error({ err: wireError(err), pack: m.meta.name }, 'serving process could not swap in the pack');
      });
      return;
    case 'drop':
      a.drop(m.id);
      return;
    case 'listen':
      verdictsReady
        .then(() => a.listen())
        .then(
          (port) => send({ t: 'listening', port }),
          (err: unknown) => send({ t: 'listen-failed', error: wireError(err) }),
        );
      return;
    case 'metrics':
      void a.metricsJson().then((metrics) => send({ t: 'metrics', n: m.n, metrics }));
      return;
    case 'close':
      void close(0);
  }
});

send({ t: 'ready' });

// A signal to the whole process group (Ctrl-C) is the primary's to act on: it stops the serving
// processes in order (in-flight requests answered, last decisions logged), or they end with it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);

// The primary is gone: nothing may answer for it.
process.on('disconnect', () => void close(0));

function close(code: number): Promise<void> {
  closing ??= (async () => {
    try {
      await agent?.close();
      // Once 'closed' is sent, every decision-log batch before it was too.
      await new Promise<void>((resolve) => {
        if (process.connected) send({ t: 'closed' }, resolve);
        else resolve();
      });
    } finally {
      process.exit(code);
    }
  })();
  return closing;
}
