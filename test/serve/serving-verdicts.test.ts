/**
 * Verdicts with http_processes: 2. Each serving process answers `POST /v1/verdict` itself,
 * with governance wired over its own copies of the governance and kill-switch packs, as the
 * primary does. A kill switch the primary activates blocks the module in every process.
 * Each request opens its own connection, so both processes are reached.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { ALLOW_AI, DENY, governancePack, governanceYaml, killSwitchPack } from '../helpers/governance.js';
import { p256 } from '../helpers/packs.js';
import { publish } from '../helpers/variants.js';
import { eventually } from '../helpers/wait.js';

interface VerdictAnswer {
  readonly status: number;
  readonly body: { decision_id?: string; result?: string; allow?: boolean; code?: string };
}

// One verdict on a connection of its own.
function verdict(url: string, context: unknown): Promise<VerdictAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/verdict`, { method: 'POST', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as VerdictAnswer['body'] }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(context));
  });
}

// Which process answered: a decision id's first four groups are its process's own.
const processOf = (a: VerdictAnswer): string => (a.body.decision_id ?? '').slice(0, 23);

describe('verdicts in the serving processes (http_processes: 2)', () => {
  const key = p256();
  const dir = tempDir();
  const packs = join(dir, 'packs');
  let agent: RunningAgent;

  before(async () => {
    await writeTree(dir, { 'policy.pub': key.publicPem, 'packs/.keep': '' });
    await publish(packs, 'governance', await governancePack(1), key.privateKey);
    await publish(packs, 'killswitches', await killSwitchPack(1, {}), key.privateKey);
    const yaml = governanceYaml({
      killSwitchSource: '{ file: { path: packs/killswitches.tar.gz, poll_seconds: 0.05 } }',
      extra: ['http_processes: 2'],
    }).replace('log_level: info', 'log_level: silent');
    agent = await startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
  });

  after(() => agent.close());

  // Asks `context` on fresh connections until both processes answered; each answer goes through `check`.
  async function fromBoth(context: unknown, check: (a: VerdictAnswer) => void): Promise<void> {
    const seen = new Set<string>();
    await eventually(
      async () => {
        for (const a of await Promise.all(Array.from({ length: 8 }, () => verdict(agent.url, context)))) {
          check(a);
          seen.add(processOf(a));
        }
        return seen.size === 2;
      },
      { what: 'verdicts from both serving processes', everyMs: 1 },
    );
  }

  it('answers allow and deny in both processes, as the primary would', async () => {
    await fromBoth(ALLOW_AI, (a) => assert.deepEqual([a.status, a.body.result], [200, 'allow']));
    await fromBoth(DENY, (a) => assert.deepEqual([a.status, a.body.result], [200, 'deny']));
    assert.equal(agent.governance?.verdict(ALLOW_AI).result, 'allow', 'the primary agrees');
  });

  it('blocks a module in every process once the primary activated its kill switch', async () => {
    await publish(
      packs,
      'killswitches',
      await killSwitchPack(2, { ai_inference: { active: true, reason: 'model incident 42' } }),
      key.privateKey,
    );
    await eventually(() => agent.governance?.verdict(ALLOW_AI).result === 'blocked', { what: 'the switch active' });
    // Every process takes the commit right after the primary activated: wait until both block.
    const blocked = new Set<string>();
    await eventually(
      async () => {
        // A batch at a time: which process accepts a connection is the kernel's choice.
        for (const a of await Promise.all(Array.from({ length: 4 }, () => verdict(agent.url, ALLOW_AI))))
          if (a.status === 503 && a.body.code === 'KILL_SWITCH_ACTIVE') blocked.add(processOf(a));
        return blocked.size === 2;
      },
      { what: 'both processes blocking ai_inference', everyMs: 1 },
    );
    await fromBoth(ALLOW_AI, (a) => assert.deepEqual([a.status, a.body.code], [503, 'KILL_SWITCH_ACTIVE']));
  });
});
