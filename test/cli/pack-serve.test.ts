import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseListen, servePacks } from '../../src/cli/commands/pack-serve.js';
import { isWardenError } from '../../src/errors.js';
import { tempDir } from '../helpers/fs.js';
import { pack } from '../helpers/pack-server.js';
import { eventually } from '../helpers/wait.js';

describe('warden pack serve', () => {
  it('parses HOST:PORT strictly', () => {
    assert.deepEqual(parseListen('127.0.0.1:8282'), { host: '127.0.0.1', port: 8282 });
    assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
    assert.deepEqual(parseListen('[::1]:8282'), { host: '::1', port: 8282 });
    for (const bad of [
      '8282',
      ':8282',
      '127.0.0.1:',
      '127.0.0.1:65536',
      '127.0.0.1:80x',
      '::1:8282',
      '[nope]:1',
      '999.1.1.1:80',
      'a b:80',
      'host:-1',
    ]) {
      assert.throws(
        () => parseListen(bad),
        (err) => isWardenError(err, 'USAGE'),
        bad,
      );
    }
  });

  it('prints where it serves, serves until told to stop, and exits 0', async () => {
    const dir = tempDir('warden-serve-cli-');
    await writeFile(join(dir, 'authz.tar.gz'), pack(7));
    const out: string[] = [];
    const err: string[] = [];
    let stop = (): void => undefined;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const running = servePacks(
      [dir, '--listen', '127.0.0.1:0', '--max-wait', '2'],
      { out: (l) => out.push(l), err: (l) => err.push(l) },
      () => stopped,
    );
    await eventually(() => out.length > 0);
    const url = /^serving .* on (http:\/\/127\.0\.0\.1:\d+\/v1\/policy\/packs\/)$/.exec(out[0] ?? '')?.[1];
    assert.ok(url, out[0]);
    assert.equal((await fetch(`${url}authz`, { method: 'HEAD' })).status, 200);
    stop();
    assert.equal(await running, 0);
    const logged = JSON.parse(err.at(-1) ?? '{}') as { status?: number; msg?: string };
    assert.equal(logged.status, 200);
  });

  it('refuses a bad --listen or --max-wait with USAGE', async () => {
    const io = { out: () => undefined, err: () => undefined };
    const never = (): Promise<void> => new Promise(() => undefined);
    await assert.rejects(servePacks(['.', '--listen', 'nowhere'], io, never), (e) => isWardenError(e, 'USAGE'));
    await assert.rejects(servePacks(['.', '--listen', '127.0.0.1:0', '--max-wait', 'soon'], io, never), (e) =>
      isWardenError(e, 'USAGE'),
    );
  });
});
