/**
 * The kubelet's AtomicWriter (kubernetes pkg/volume/util/atomic_writer.go), as
 * it projects a ConfigMap into a volume, step for step:
 *
 *   DIR/..2026_11_22_11_35_00.123456789/NAME   the files of one version
 *   DIR/..data -> ..2026_11_22_11_35_00.123456789
 *   DIR/NAME   -> ..data/NAME                   what the pod sees
 *
 * An update writes a new timestamped folder, points `..data_tmp` at it,
 * renames `..data_tmp` over `..data` (the one atomic step), creates missing
 * visible links, removes visible links of files no longer in the ConfigMap,
 * then removes the previous timestamped folder. A payload equal to what is
 * on disk writes nothing, as the kubelet does.
 */
import { randomInt } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const DATA = '..data';
const DATA_TMP = '..data_tmp';

/** What one write did; `renamedAt` is `performance.now()` just before the `..data` rename (for timing). */
export interface ConfigMapWrite {
  readonly written: boolean;
  readonly timestampDir: string | undefined;
  readonly renamedAt: number | undefined;
}

/** Hooks into a write, for benchmarks that time from the atomic step. */
export interface WriteHooks {
  /** Runs just before `..data_tmp` is renamed over `..data`. */
  readonly beforeRename?: () => void;
}

/**
 * Projects `files` (name → content; names may hold `/`) into the ConfigMap
 * volume at dir, exactly in the kubelet's order. Creates dir if it is missing.
 */
export async function writeConfigMap(
  dir: string,
  files: Readonly<Record<string, string>>,
  hooks: WriteHooks = {},
): Promise<ConfigMapWrite> {
  for (const name of Object.keys(files)) validatePath(name);
  await mkdir(dir, { recursive: true });
  // (2) the current version, from the ..data link
  const oldTsDir = await readlink(join(dir, DATA)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  let pathsToRemove: string[] = [];
  let shouldWrite = true;
  if (oldTsDir !== undefined) {
    // (3) paths of the old version that the payload no longer has; (4) does any file differ?
    pathsToRemove = await removedPaths(join(dir, oldTsDir), files);
    shouldWrite = pathsToRemove.length > 0 || (await payloadDiffers(join(dir, oldTsDir), files));
  }
  let timestampDir: string | undefined;
  let renamedAt: number | undefined;
  if (shouldWrite) {
    // (5) a new timestamped folder; (6) the payload in it
    timestampDir = await newTimestampDir(dir);
    for (const [name, content] of Object.entries(files)) {
      const full = join(dir, timestampDir, name);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, content, { mode: 0o644 });
      await chmod(full, 0o644);
    }
    // (8) ..data_tmp → the new folder (relative); (9) renamed over ..data: the atomic switch
    await symlink(timestampDir, join(dir, DATA_TMP));
    hooks.beforeRename?.();
    renamedAt = performance.now();
    await rename(join(dir, DATA_TMP), join(dir, DATA));
  }
  // (10) visible links for new top-level names
  for (const name of new Set(Object.keys(files).map((f) => f.split('/')[0] ?? f))) {
    const visible = join(dir, name);
    const exists = await readlink(visible).then(
      () => true,
      (err: NodeJS.ErrnoException) => err.code !== 'ENOENT',
    );
    if (!exists) await symlink(join(DATA, name), visible);
  }
  // (11) visible links of names no longer in the payload (top level only)
  for (const p of pathsToRemove) if (!p.includes('/')) await rm(join(dir, p), { force: true });
  // (12) the previous version's folder
  if (shouldWrite && oldTsDir !== undefined) await rm(join(dir, oldTsDir), { recursive: true, force: true });
  return { written: shouldWrite, timestampDir, renamedAt };
}

/** Removes the whole volume folder (a ConfigMap volume torn down, or the mount gone). */
export async function removeConfigMap(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

// The kubelet's MkdirTemp(dir, "..2006_01_02_15_04_05."): UTC time plus a random suffix, created exclusively.
async function newTimestampDir(dir: string): Promise<string> {
  const t = new Date().toISOString(); // 2026-11-22T11:35:00.123Z
  const stamp = `..${t.slice(0, 4)}_${t.slice(5, 7)}_${t.slice(8, 10)}_${t.slice(11, 13)}_${t.slice(14, 16)}_${t.slice(17, 19)}.`;
  for (;;) {
    const name = `${stamp}${String(randomInt(1_000_000_000)).padStart(9, '0')}`;
    try {
      await mkdir(join(dir, name), { mode: 0o755 });
      await chmod(join(dir, name), 0o755);
      return name;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

// Every path (files and folders, relative) under the old version that the payload does not contain.
async function removedPaths(oldDir: string, files: Readonly<Record<string, string>>): Promise<string[]> {
  const keep = new Set<string>();
  for (const f of Object.keys(files)) {
    const parts = f.split('/');
    for (let i = 1; i <= parts.length; i++) keep.add(parts.slice(0, i).join('/'));
  }
  const existing = await walk(oldDir, '').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return existing.filter((p) => !keep.has(p));
}

// Relative paths of everything under dir.
async function walk(dir: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(dir, p)));
  }
  return out;
}

// Whether any payload file is missing from, or differs from, the old version.
async function payloadDiffers(oldDir: string, files: Readonly<Record<string, string>>): Promise<boolean> {
  for (const [name, content] of Object.entries(files)) {
    const path = join(oldDir, name);
    if (
      !(await lstat(path).then(
        () => true,
        () => false,
      ))
    )
      return true;
    if (!(await readFile(path)).equals(Buffer.from(content))) return true;
  }
  return false;
}

// The kubelet's validatePath: relative, no `..` element, not starting with `..`.
function validatePath(p: string): void {
  const parts = p.split('/');
  if (p === '' || p.startsWith('/') || parts.includes('..') || (parts[0] ?? '').startsWith('..')) {
    throw new Error(`invalid ConfigMap key path: ${JSON.stringify(p)}`);
  }
}
