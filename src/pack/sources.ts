/**
 * Collects what a policy folder contributes to a pack: Rego modules, Rego tests
 * and data files. Hidden entries are skipped, which also skips the `..data` and
 * `..<timestamp>` folders of a mounted Kubernetes ConfigMap (its visible files
 * are symlinks through them and are followed).
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WardenError, messageOf } from '../errors.js';
import { isDataFile } from './data.js';
import { OPTION_LIMIT_KEYS, overLimit, resolveLimits, type LimitSettings } from './limits.js';

/** The folder's files, keyed by path relative to the folder (with `/`). */
export interface PolicySources {
  readonly modules: ReadonlyMap<string, Buffer>;
  readonly tests: ReadonlyMap<string, Buffer>;
  readonly data: ReadonlyMap<string, Buffer>;
}

const MAX_DEPTH = 16;

/**
 * Reads the Rego and data files under dir. The pack limits apply before a file is read:
 * its size (maxFileBytes), the number of files (maxFiles) and their total size
 * (maxUncompressedBytes); a refusal is PACK_SPEC_INVALID naming the file, the limit and its key.
 */
export async function collectSources(dir: string, at: LimitSettings = {}): Promise<PolicySources> {
  const limits = resolveLimits(at.limits);
  const keys = at.limitKeys ?? OPTION_LIMIT_KEYS;
  const modules = new Map<string, Buffer>();
  const tests = new Map<string, Buffer>();
  const data = new Map<string, Buffer>();
  let count = 0;
  let total = 0;

  // Visits one folder; real subfolders are descended, symlinked files followed.
  async function walk(abs: string, rel: string, depth: number): Promise<void> {
    if (depth > MAX_DEPTH) throw new WardenError('PACK_SPEC_INVALID', `${dir}: folders nest deeper than ${MAX_DEPTH}`);
    const entries = await readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const childAbs = join(abs, e.name);
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      const isRealDir = (await lstat(childAbs)).isDirectory();
      if (isRealDir) {
        await walk(childAbs, childRel, depth + 1);
        continue;
      }
      const target = map(childRel);
      if (!target) continue;
      const st = await stat(childAbs);
      if (!st.isFile()) continue;
      if (++count > limits.maxFiles) {
        throw overLimit('PACK_SPEC_INVALID', `${dir} holds`, {
          limit: 'maxFiles',
          value: limits.maxFiles,
          actual: count,
          atLeast: true,
          keys,
        });
      }
      if (st.size > limits.maxFileBytes) {
        throw overLimit('PACK_SPEC_INVALID', `${childRel} is`, {
          limit: 'maxFileBytes',
          value: limits.maxFileBytes,
          actual: st.size,
          keys,
          details: { path: childRel },
        });
      }
      total += st.size;
      if (total > limits.maxUncompressedBytes) {
        throw overLimit('PACK_SPEC_INVALID', `the policy files up to ${childRel} are`, {
          limit: 'maxUncompressedBytes',
          value: limits.maxUncompressedBytes,
          actual: total,
          keys,
          details: { path: childRel },
        });
      }
      target.set(childRel, await readFile(childAbs));
    }
  }

  // Picks the collection a file belongs to, or none.
  function map(rel: string): Map<string, Buffer> | undefined {
    if (rel.endsWith('_test.rego')) return tests;
    if (rel.endsWith('.rego')) return modules;
    if (isDataFile(rel)) return data;
    return undefined;
  }

  try {
    await walk(dir, '', 0);
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError('IO_FAILED', `cannot read policy folder ${dir}: ${messageOf(err)}`, { cause: err });
  }
  if (modules.size === 0) throw new WardenError('PACK_SPEC_INVALID', `${dir}: no .rego files`);
  return { modules, tests, data };
}

/** The first segment of each Rego package and of each top-level data key: the default roots. */
export function defaultRoots(sources: PolicySources, dataDoc: Record<string, unknown>): string[] {
  const roots = new Set<string>();
  for (const src of sources.modules.values()) {
    const pkg = /^\s*package\s+([A-Za-z_][\w.]*)/m.exec(src.toString('utf8'))?.[1];
    const first = pkg?.replace(/^data\./, '').split('.')[0];
    if (first) roots.add(first);
  }
  for (const key of Object.keys(dataDoc)) roots.add(key);
  return [...roots].sort();
}

/** SHA-256 over every source path and content (and warden.yaml): equal digests, equal policy. */
export function sourcesDigest(sources: PolicySources, spec: Buffer | undefined): string {
  const h = createHash('sha256');
  for (const group of [sources.modules, sources.tests, sources.data]) {
    for (const [path, bytes] of [...group].sort(([a], [b]) => a.localeCompare(b))) {
      h.update(`${path}\0${bytes.length}\0`).update(bytes);
    }
  }
  if (spec) h.update('warden.yaml\0').update(spec);
  return `sha256:${h.digest('hex')}`;
}
