#!/usr/bin/env node
// `npm start`: runs the agent on the bundled example with no external service.
// Builds examples/authz into a signed pack under .warden-example/ (key made once),
// starts `warden agent --config examples/agent.yaml`, waits until it is ready and
// prints one example request with its answer. Ctrl-C stops the agent.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, '.warden-example');
const warden = join(root, 'bin', 'warden.js');
const pack = join(work, 'packs', 'authz.tar.gz');

// Runs one warden command, exiting with its status if it fails.
function step(args) {
  const res = spawnSync(process.execPath, [warden, ...args], { cwd: root, stdio: 'inherit' });
  if (res.status !== 0) process.exit(res.status ?? 1);
}

mkdirSync(join(work, 'packs'), { recursive: true });
if (!existsSync(join(work, 'signing.key'))) step(['keygen', '--out', join(work, 'signing')]);
step(['pack', 'build', join(root, 'examples', 'authz'), '--out', pack]);
step(['pack', 'sign', pack, '--key', join(work, 'signing.key')]);

const agent = spawn(process.execPath, [warden, 'agent', '--config', join(root, 'examples', 'agent.yaml')], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => agent.kill(signal));
agent.on('exit', (code) => process.exit(code ?? 0));

const base = 'http://127.0.0.1:8181';
const body = JSON.stringify({ input: { user: { name: 'vic', roles: ['viewer'], tenant: 'acme' }, action: 'read', resource: { tenant: 'acme' } } });
for (let i = 0; i < 100; i++) {
  await new Promise((r) => setTimeout(r, 200));
  const ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
  if (!ready) continue;
  const answer = await fetch(`${base}/v1/data/authz/allow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.text());
  console.log(`\nWarden is listening on ${base}. Try:\n\n  curl -s -X POST ${base}/v1/data/authz/allow -H 'content-type: application/json' \\\n    -d '${body}'\n\n→ ${answer}\n`);
  console.log(`Health: curl -s ${base}/healthz   Metrics: curl -s ${base}/metrics   Stop: Ctrl-C\n`);
  break;
}
