import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { WardenError } from '../../src/errors.js';
import { acquireLock, claimPath, LOCK_FILE } from '../../src/store/lock.js';
import { PackStore } from '../../src/store/store.js';
import { TEMP_PREFIX } from '../../src/util/atomic-write.js';
import { tempDir } from '../helpers/fs.js';
import { rejectsCode } from '../helpers/errors.js';

const SRC = (file: string): string => pathToFileURL(join(import.meta.dirname, '../../src/store', file)).href;

// A pid that certainly ran on this host and has exited (and was reaped).
const DEAD_PID = ((): number => {
  const res = spawnSync(process.execPath, ['-e', '']);
  assert.ok(res.pid !== undefined && res.pid > 0);
  return res.pid;
})();

// A lock record as another process would have written it.
function record(pid: number, host = hostname()): string {
  return JSON.stringify({ pid, hostname: host, startedAt: '2026-01-01T00:00:00.000Z', token: `t${pid}` });
}

// Starts `node --import tsx -e code` and resolves once it printed a first line (with that line).
function startChild(code: string, env: Record<string, string>): Promise<{ child: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, line: out.slice(0, nl) });
    });
    child.on('error', reject);
    child.on('exit', (c) => reject(new Error(`child exited ${c} before reporting`)));
  });
}

// Kills a child with SIGKILL (no clean-up: its lock stays behind) and waits until it is reaped.
function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

// Parsed content of data_dir/LOCK.
async function lockOf(dir: string): Promise<{ pid: number; token: string }> {
  return JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number; token: string };
}

const OPEN_AND_WAIT = `
const { PackStore } = await import(process.env.STORE_URL);
await PackStore.open(process.env.DATA_DIR, { historyLimit: 3 });
console.log('ready');
setInterval(() => {}, 60_000);
`;

describe('store lock', () => {
  it('refuses a second open of a data_dir that this process holds', async () => {
    const dir = tempDir();
    const first = await PackStore.open(dir, { historyLimit: 3 });
    try {
      const e = await rejectsCode(PackStore.open(dir, { historyLimit: 3 }), 'STORE_LOCKED');
      assert.match(e.message, new RegExp(`pid ${process.pid}\\b`));
      assert.equal(e.details.pid, process.pid);
    } finally {
      await first.close();
    }
    await (await PackStore.open(dir, { historyLimit: 3 })).close();
  });

  it('refuses an open while another process holds the lock, and takes it over once that process is killed', async () => {
    const dir = tempDir();
    const { child, line } = await startChild(OPEN_AND_WAIT, { STORE_URL: SRC('store.ts'), DATA_DIR: dir });
    try {
      assert.equal(line, 'ready');
      const e = await rejectsCode(PackStore.open(dir, { historyLimit: 3 }), 'STORE_LOCKED');
      assert.equal(e.details.pid, child.pid);
      assert.match(e.message, new RegExp(`pid ${child.pid}\\b`));
    } finally {
      await killHard(child);
    }
    const store = await PackStore.open(dir, { historyLimit: 3 });
    assert.equal((await lockOf(dir)).pid, process.pid);
    await store.close();
    assert.ok(!existsSync(join(dir, LOCK_FILE)));
  });

  it('takes over a lock left by a dead pid, or one that is garbage', async () => {
    for (const content of [
      record(DEAD_PID),
      '',
      '{"pid":',
      JSON.stringify({ pid: 0, hostname: hostname(), startedAt: 'x', token: 'y' }),
    ]) {
      const dir = tempDir();
      await writeFile(join(dir, LOCK_FILE), content);
      const lock = await acquireLock(dir);
      assert.equal((await lockOf(dir)).pid, process.pid, `took over ${JSON.stringify(content)}`);
      await lock.release();
      assert.ok(!existsSync(join(dir, LOCK_FILE)));
    }
  });

  it('treats a lock of another host as held, naming that host', async () => {
    const dir = tempDir();
    await writeFile(join(dir, LOCK_FILE), record(DEAD_PID, 'elsewhere.example'));
    const e = await rejectsCode(acquireLock(dir), 'STORE_LOCKED');
    assert.match(e.message, /elsewhere\.example/);
  });

  it('takes over a lock left by an earlier process that had our pid (pid 1 in a container)', async () => {
    const dir = tempDir();
    await writeFile(join(dir, LOCK_FILE), record(process.pid));
    const lock = await acquireLock(dir);
    assert.notEqual((await lockOf(dir)).token, `t${process.pid}`);
    await lock.release();
  });

  it('releases only a lock that is still its own', async () => {
    const dir = tempDir();
    const lock = await acquireLock(dir);
    await writeFile(join(dir, LOCK_FILE), record(process.pid + 1_000_000));
    await lock.release();
    assert.equal((await lockOf(dir)).pid, process.pid + 1_000_000);
    await lock.release();
  });

  it('lets exactly one of several concurrent takeovers of one stale lock win, every time', async () => {
    for (let round = 0; round < 25; round++) {
      const dir = tempDir();
      await writeFile(join(dir, LOCK_FILE), record(DEAD_PID));
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => acquireLock(dir)));
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, `round ${round}: ${won.length} winners`);
      for (const r of results)
        if (r.status === 'rejected') assert.equal((r.reason as WardenError).code, 'STORE_LOCKED');
      await won[0]?.value.release();
      assert.deepEqual(
        (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX)),
        [],
        'claims and temps are cleaned up',
      );
    }
  });

  it('lets exactly one of several processes taking over one stale lock win', async () => {
    const dir = tempDir();
    await writeFile(join(dir, LOCK_FILE), record(DEAD_PID));
    // Each child waits for a common start time, so their takeovers really overlap.
    const code = `
const { acquireLock } = await import(process.env.LOCK_URL);
await new Promise((r) => setTimeout(r, Number(process.env.START_AT) - Date.now()));
try { await acquireLock(process.env.DATA_DIR); console.log('won'); } catch (e) { console.log(e.code ?? String(e)); }
setInterval(() => {}, 60_000);
`;
    const env = { LOCK_URL: SRC('lock.ts'), DATA_DIR: dir, START_AT: String(Date.now() + 1200) };
    const children = await Promise.all(Array.from({ length: 3 }, () => startChild(code, env)));
    try {
      assert.deepEqual(children.map((c) => c.line).sort(), ['STORE_LOCKED', 'STORE_LOCKED', 'won']);
      const winner = children.find((c) => c.line === 'won');
      assert.equal((await lockOf(dir)).pid, winner?.child.pid);
    } finally {
      await Promise.all(children.map((c) => killHard(c.child)));
    }
  });

  it('takes over a stale lock even when an earlier takeover crashed holding its claim', async () => {
    const dir = tempDir();
    const lockPath = join(dir, LOCK_FILE);
    await writeFile(lockPath, record(DEAD_PID));
    const { ino } = await stat(lockPath);
    const claim = claimPath(dir, { bytes: await readFile(lockPath), ino });
    await writeFile(claim, record(DEAD_PID));
    const lock = await acquireLock(dir);
    assert.equal((await lockOf(dir)).pid, process.pid);
    assert.ok(!existsSync(claim));
    await lock.release();
  });
});
