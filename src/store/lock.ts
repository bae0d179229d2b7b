/**
 * The agent lock `data_dir/LOCK`: one agent per data_dir. It holds
 * `{pid, hostname, startedAt, token}` and is created complete: the record is
 * written and fsynced to a temp file which is then `link()`ed to LOCK (link
 * never replaces an existing name, so it is an atomic create-if-absent, and no
 * reader ever sees a half-written LOCK that it could mistake for garbage).
 *
 * Taking over a stale lock (holder dead, or garbage) needs compare-and-delete,
 * which POSIX lacks: "read, see stale, unlink, link" lets a slow starter unlink
 * the fresh lock a faster one just linked, and both win. So a stale lock is
 * removed only by the holder of its *claim*, a file whose name is derived from
 * the stale lock's identity (inode + content hash) and which is itself created
 * with link(). Exactly one starter can hold the claim for a given stale lock;
 * while it holds it, that lock cannot change (only a claimer removes it), so
 * "re-read, still the same lock → unlink" is safe. Everyone then races on the
 * plain link(), which exactly one wins. A claim left by a crashed claimer is a
 * stale lock of its own and is removed by the same rule, one level deeper.
 * Claims and temps carry TEMP_PREFIX, so the store's start-up sweep clears leftovers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, open, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { WardenError, messageOf } from '../errors.js';
import { TEMP_PREFIX, fsyncDir } from '../util/atomic-write.js';

/** Name of the lock file inside data_dir. */
export const LOCK_FILE = 'LOCK';
const MAX_ATTEMPTS = 200;
const MAX_CLAIM_DEPTH = 3;
const BUSY_WAIT_MS = 10;

/** A held agent lock. */
export interface StoreLock {
  readonly path: string;
  /** Removes LOCK if it is still this holder's; safe to call twice. */
  release(): Promise<void>;
}

// pid must be positive: process.kill(0 or -n) would signal a whole process group.
const recordSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: z.string(),
  token: z.string().min(1),
});
type LockRecord = z.infer<typeof recordSchema>;

/** One read of a lock or claim file: what it says and which inode said it. */
interface Snapshot {
  readonly bytes: Buffer;
  readonly ino: number;
  readonly record: LockRecord | undefined;
}

/** Tokens of locks held (or being acquired) by this process, so its own pid is not taken for a live stranger. */
const liveTokens = new Set<string>();

/** Takes `data_dir/LOCK`, taking over a stale one; STORE_LOCKED if a live agent holds it. */
export async function acquireLock(dataDir: string): Promise<StoreLock> {
  const path = join(dataDir, LOCK_FILE);
  const mine: LockRecord = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    token: randomBytes(16).toString('hex'),
  };
  liveTokens.add(mine.token);
  const tmp = await writeTemp(dataDir, mine);
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const linked = await tryLink(tmp, path, mine);
      if (linked) {
        await fsyncDir(dataDir);
        return { path, release: () => release(path, mine.token) };
      }
      const current = await readSnapshot(path);
      if (current === undefined) continue; // removed meanwhile: race for it again
      if (current.record !== undefined && isAlive(current.record)) throw lockedBy(path, current.record);
      await removeStale(dataDir, path, current, mine, 0);
    }
    throw new WardenError('STORE_LOCKED', `could not take over the stale lock ${path} after ${MAX_ATTEMPTS} attempts`, {
      details: { path },
    });
  } catch (err) {
    liveTokens.delete(mine.token);
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Path of the claim that guards removal of one particular stale lock or claim (exported for tests). */
export function claimPath(dataDir: string, stale: { readonly bytes: Buffer; readonly ino: number }): string {
  const id = createHash('sha256').update(`${stale.ino}:`).update(stale.bytes).digest('hex').slice(0, 32);
  return join(dataDir, `${TEMP_PREFIX}${LOCK_FILE}.claim.${id}`);
}

// Removes `path` if it still is the stale file `stale`, under that file's claim (see the file comment).
async function removeStale(
  dataDir: string,
  path: string,
  stale: Snapshot,
  mine: LockRecord,
  depth: number,
): Promise<void> {
  const claim = claimPath(dataDir, stale);
  const tmp = await writeTemp(dataDir, mine);
  try {
    if (!(await tryLink(tmp, claim, mine))) {
      const holder = await readSnapshot(claim);
      if (holder === undefined) return; // released meanwhile: the caller looks again
      if (holder.record !== undefined && isAlive(holder.record)) return sleep(BUSY_WAIT_MS); // another starter is on it
      if (depth >= MAX_CLAIM_DEPTH)
        throw new WardenError(
          'STORE_LOCKED',
          `stale takeover files in ${dataDir}; stop every agent and remove ${path} and ${TEMP_PREFIX}* files`,
          { details: { path } },
        );
      return removeStale(dataDir, claim, holder, mine, depth + 1);
    }
    try {
      const now = await readSnapshot(path);
      if (now !== undefined && now.ino === stale.ino && now.bytes.equals(stale.bytes)) await rm(path, { force: true });
    } finally {
      await rm(claim, { force: true });
    }
  } finally {
    await rm(tmp, { force: true });
  }
}

// link(tmp, target): true if created; false if target exists. A temp swept away by a holder's start-up sweep is rewritten.
async function tryLink(tmp: string, target: string, mine: LockRecord): Promise<boolean> {
  try {
    await link(tmp, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') {
      // Our temp was swept by a holder's start-up sweep: write it again and let the caller look again.
      await writeFile(tmp, JSON.stringify(mine), { flag: 'wx', mode: 0o644 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST')
          throw new WardenError('IO_FAILED', `cannot write ${tmp}: ${e.message}`, { cause: e, details: { path: tmp } });
      });
      return false;
    }
    throw new WardenError('IO_FAILED', `cannot create ${target}: ${messageOf(err)}`, {
      cause: err,
      details: { path: target },
    });
  }
}

// Writes the record, fsynced, to a fresh temp file in dataDir.
async function writeTemp(dataDir: string, record: LockRecord): Promise<string> {
  const tmp = join(dataDir, `${TEMP_PREFIX}${LOCK_FILE}.${randomBytes(6).toString('hex')}`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(JSON.stringify(record));
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new WardenError('IO_FAILED', `cannot write ${tmp}: ${messageOf(err)}`, {
      cause: err,
      details: { path: tmp },
    });
  }
  return tmp;
}

// Reads a file and its inode through one descriptor, so both describe the same file.
async function readSnapshot(path: string): Promise<Snapshot | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WardenError('IO_FAILED', `cannot read ${path}: ${messageOf(err)}`, { cause: err, details: { path } });
  }
  try {
    const { ino } = await fh.stat();
    const bytes = await fh.readFile();
    return { bytes, ino, record: parseRecord(bytes) };
  } finally {
    await fh.close();
  }
}

// The lock record in bytes, or undefined for garbage (which counts as a dead holder).
function parseRecord(bytes: Buffer): LockRecord | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

// Whether a holder may still be running. Another host's pid cannot be checked, so it counts as alive.
function isAlive(rec: LockRecord): boolean {
  if (rec.hostname !== hostname()) return true;
  if (rec.pid === process.pid) return liveTokens.has(rec.token); // our pid, but maybe a previous life's (pid 1 in a container)
  try {
    process.kill(rec.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

// The STORE_LOCKED error naming the live holder.
function lockedBy(path: string, rec: LockRecord): WardenError {
  const where =
    rec.hostname === hostname()
      ? ''
      : ` on host ${rec.hostname} (cannot be checked from here; delete ${path} if no agent runs there)`;
  return new WardenError('STORE_LOCKED', `${path} is held by pid ${rec.pid}${where}, since ${rec.startedAt}`, {
    details: { path, pid: rec.pid, hostname: rec.hostname, startedAt: rec.startedAt },
  });
}

// Removes LOCK only if it still carries our token (a stale-lock takeover may have replaced it).
// The token stays live until the file is gone, so no one in this process takes it for stale meanwhile.
async function release(path: string, token: string): Promise<void> {
  if (!liveTokens.has(token)) return;
  try {
    const current = await readSnapshot(path);
    if (current?.record?.token === token) await rm(path, { force: true });
  } finally {
    liveTokens.delete(token);
  }
}

// Waits a little before looking again.
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
