#!/usr/bin/env node
// `npm start`: runs the agent on the bundled example with no external service:
// `warden agent --config examples/agent.yaml`: directory sources on examples/authz,
// examples/governance and examples/killswitch.
// Waits until it is ready and prints one example request with its answer. Ctrl-C stops it.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const agent = spawn(
  process.execPath,
  [join(root, 'bin', 'warden.js'), 'agent', '--config', join(root, 'examples', 'agent.yaml')],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => agent.kill(signal));
agent.on('exit', (code) => process.exit(code ?? 0));

const base = 'http://127.0.0.1:8181';
const body = JSON.stringify({
  input: { user: { name: 'vic', roles: ['viewer'], tenant: 'acme' }, action: 'read', resource: { tenant: 'acme' } },
});
for (let i = 0; i < 150; i++) {
  await new Promise((r) => setTimeout(r, 200));
  const ready = await fetch(`${base}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (!ready) continue;
  const answer = await fetch(`${base}/v1/data/authz/allow`, { method: 'POST', body }).then((r) => r.text());
  console.log(
    `\nWarden is listening on ${base}. Try:\n\n  curl -s -X POST ${base}/v1/data/authz/allow -d '${body}'\n\n→ ${answer}\n`,
  );
  const context = JSON.stringify({
    tenant: 'acme',
    subject: 'svc-fraud',
    module: 'ai_inference',
    action: 'invoke',
    resource: 'acme/tx/9',
    purpose: 'fraud_detection',
  });
  const verdict = await fetch(`${base}/v1/verdict`, { method: 'POST', body: context }).then((r) => r.text());
  console.log(`A governance verdict:\n\n  curl -s -X POST ${base}/v1/verdict -d '${context}'\n\n→ ${verdict}\n`);
  console.log(
    'Edit examples/authz/policy.rego (or data.json) and ask again: the agent rebuilds, tests and swaps it in.',
  );
  console.log(
    'Switch a module off in examples/killswitch/data.json ("active": true) and its verdicts answer 503 KILL_SWITCH_ACTIVE.',
  );
  console.log(`Health: curl -s ${base}/healthz   Metrics: curl -s ${base}/metrics   Stop: Ctrl-C\n`);
  break;
}
