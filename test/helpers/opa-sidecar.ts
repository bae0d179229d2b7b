/**
 * OPA sidecar engines for tests: a child-mode sidecar in a temp run folder with
 * a silent logger, and OPA bundles made from a few Rego/data files.
 */
import { createLogger } from '../../src/observe/logger.js';
import { opaBundleOf } from '../../src/opa-engine/bundle-of.js';
import { OpaSidecar } from '../../src/opa-engine/sidecar.js';
import type { OpaSidecarOptions } from '../../src/opa-engine/types.js';
import { tempDir } from './fs.js';

const live = new Set<OpaSidecar>();

/** Starts a child-mode sidecar serving `packs`; closed by closeAllSidecars(). */
export async function startSidecar(
  packs: readonly string[],
  overrides: Partial<OpaSidecarOptions> = {},
): Promise<OpaSidecar> {
  const sidecar = new OpaSidecar({
    mode: 'child',
    runDir: tempDir('wsc-'),
    packs,
    activationTimeoutMs: 15_000,
    logger: createLogger('silent'),
    restartBackoff: { baseMs: 20, maxMs: 200 },
    ...overrides,
  });
  live.add(sidecar);
  await sidecar.start();
  return sidecar;
}

/** Closes every sidecar started here (for `after` hooks). */
export async function closeAllSidecars(): Promise<void> {
  await Promise.all([...live].map((s) => s.close()));
  live.clear();
}

/** The OPA bundle of a few files (path → text), at `revision` with `roots`. */
export function regoBundle(files: Record<string, string>, revision: string, roots: readonly string[]): Buffer {
  return opaBundleOf(new Map(Object.entries(files).map(([p, t]) => [p, Buffer.from(t)])), revision, roots);
}
