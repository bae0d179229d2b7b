/**
 * governance.budget enforced on a real OPA (engine: opa): a decision OPA does
 * not answer within verdict_ms gets the path's fail_open answer, or 503
 * DECISION_BUDGET_EXCEEDED for a path without one, before OPA's own (longer)
 * decision_timeout_ms; quick decisions are OPA's. Each overrun is counted by action.
 * The slowness is real: the policy counts through millions of numbers in OPA.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir, writeTree } from '../helpers/fs.js';
import { exampleGovernanceYaml } from '../helpers/governance.js';

const POLICY = {
  'warden.yaml': 'name: slow\nentrypoints: [slow/allow, slow/other]\nengine: opa\n',
  'slow.rego': [
    'package slow',
    '',
    'default allow := false',
    '',
    'allow if input.fast',
    '',
    '# Seconds of work in OPA: far past the 100 ms budget below.',
    'heavy if count([x | some x in numbers.range(1, 20000000); x % 7 == 0]) > 0',
    '',
    'allow if {',
    '  input.slow',
    '  heavy',
    '}',
    '',
    'other if {',
    '  input.slow',
    '  heavy',
    '}',
    '',
  ].join('\n'),
};

describe('governance.budget on engine: opa', () => {
  let agent: RunningAgent;

  before(async () => {
    const dir = tempDir();
    await writeTree(join(dir, 'slow'), POLICY);
    const yaml = await exampleGovernanceYaml(dir, {
      packs: ['  - name: slow', '    source: { directory: { path: slow } }', '    verify: { unsigned: true }'],
      budget: '{ verdict_ms: 100, on_exceed: fail_open, fail_open: { slow/allow: false } }',
      extra: ['opa: { decision_timeout_ms: 30000 }'],
    });
    agent = await startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
  });

  after(() => agent?.close());

  const post = (path: string, input: unknown): Promise<Response> =>
    fetch(`${agent.url}/v1/data/${path}`, { method: 'POST', body: JSON.stringify({ input }) });

  const exceeded = async (action: string): Promise<number> => {
    const text = await (await fetch(`${agent.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('governance_budget_exceeded_total{') && l.includes(`action="${action}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it("answers from OPA within the budget, and the path's fail_open answer at the deadline", async () => {
    const fast = await post('slow/allow', { fast: true });
    assert.equal(fast.status, 200);
    assert.equal(((await fast.json()) as { result: boolean }).result, true);
    const started = performance.now();
    const slow = await post('slow/allow', { slow: true });
    assert.equal(slow.status, 200);
    assert.equal(((await slow.json()) as { result: boolean }).result, false, 'the configured fail_open answer');
    assert.ok(performance.now() - started < 5000, 'answered at the budget, not when OPA finished');
    assert.equal(await exceeded('fail_open'), 1);
  });

  it('fails closed with 503 DECISION_BUDGET_EXCEEDED for a path without a fail_open answer', async () => {
    const res = await post('slow/other', { slow: true });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { warden_code: string };
    assert.equal(body.warden_code, 'DECISION_BUDGET_EXCEEDED');
    assert.equal(await exceeded('fail_closed'), 1);
  });
});
