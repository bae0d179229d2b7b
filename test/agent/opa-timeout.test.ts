/**
 * engine: opa past its time limit: a decision OPA does not answer within
 * opa.decision_timeout_ms fails open with the configured answer for its path,
 * or closed (503 OPA_DECISION_TIMEOUT) for a path without one; both counted.
 * The slowness is real: the policy counts through millions of numbers in OPA.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { tempDir, writeTree } from '../helpers/fs.js';

const POLICY = {
  'warden.yaml': 'name: slow\nentrypoints: [slow/allow, slow/other]\nengine: opa\n',
  'slow.rego': [
    'package slow',
    '',
    'default allow := false',
    '',
    'allow if input.fast',
    '',
    '# Seconds of work in OPA: far past the 1000 ms limit below.',
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

describe('engine: opa past opa.decision_timeout_ms', () => {
  let agent: RunningAgent;

  before(async () => {
    const dir = tempDir();
    await writeTree(join(dir, 'slow'), POLICY);
    const yaml = [
      'listen: 127.0.0.1:0',
      'data_dir: data',
      'log_level: silent',
      'engine: opa',
      'opa:',
      '  decision_timeout_ms: 1000',
      '  on_timeout: fail_open',
      '  fail_open: { slow/allow: false }',
      'packs:',
      '  - name: slow',
      '    source: { directory: { path: slow } }',
      '    verify: { unsigned: true }',
    ].join('\n');
    agent = await startAgent(parseConfig(yaml, join(dir, 'agent.yaml')), createLogger('silent'));
  });

  after(() => agent?.close());

  const post = (path: string, input: unknown): Promise<Response> =>
    fetch(`${agent.url}/v1/data/${path}`, { method: 'POST', body: JSON.stringify({ input }) });

  const timeouts = async (action: string): Promise<number> => {
    const text = await (await fetch(`${agent.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('opa_engine_decision_timeouts_total{') && l.includes(action));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it("answers from OPA within the limit, and a path's fail-open answer past it", async () => {
    const fast = await post('slow/allow', { fast: true });
    assert.equal(fast.status, 200);
    assert.equal(((await fast.json()) as { result: boolean }).result, true);
    const slow = await post('slow/allow', { slow: true });
    assert.equal(slow.status, 200);
    assert.equal(((await slow.json()) as { result: boolean }).result, false, 'the configured fail-open answer');
    assert.equal(await timeouts('action="fail_open"'), 1);
  });

  it('fails closed with 503 OPA_DECISION_TIMEOUT for a path without a fail-open answer', async () => {
    const res = await post('slow/other', { slow: true });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { warden_code: string };
    assert.equal(body.warden_code, 'OPA_DECISION_TIMEOUT');
    assert.equal(await timeouts('action="fail_closed"'), 1);
  });
});
