/**
 * What changed between two versions of a pack: its Rego modules, the paths of
 * its data document, its manifest (revision, sequence, entrypoints), and a
 * unified diff of the Rego sources and of the data document. Pure and
 * synchronous: it takes two packs' files and touches no disk or network.
 */
import { assembleData } from '../pack/data.js';
import { MANIFEST_PATH, manifestEntrypoints, parseManifest, type PackManifest } from '../pack/manifest.js';
import type { PackFiles } from '../pack/reader.js';
import { diffData, stableJson, type PathChanges } from './diff-data.js';
import { UnifiedWriter, type SideLabels } from './diff-text.js';

export type { PathChanges } from './diff-data.js';
export { formatDiffForTerminal, type TerminalFormatOptions } from './diff-format.js';
export { MAX_DATA_DEPTH, MAX_REPORTED_PATHS } from './diff-data.js';
export { MAX_FILE_EDITS, MAX_UNIFIED_BYTES } from './diff-text.js';

/** The name the assembled data document goes by in the unified diff. */
export const DATA_DOCUMENT_NAME = 'data.json';

/** How the two manifests differ; revision and sequence are given for both sides even when equal. */
export interface ManifestChanges {
  readonly revisionFrom: string;
  readonly revisionTo: string;
  readonly sequenceFrom: number;
  readonly sequenceTo: number;
  /** Entrypoints only `to` declares, in its manifest order. */
  readonly entrypointsAdded: string[];
  /** Entrypoints only `from` declares, in its manifest order. */
  readonly entrypointsRemoved: string[];
}

/** The difference between two packs. */
export interface PackDiff {
  /** `.rego` files by pack path, each list sorted. */
  readonly modules: PathChanges;
  /**
   * Paths in the assembled data document, such as `authz.roles.viewer` or
   * `users[0].name` (keys holding dots or other punctuation are quoted:
   * `hosts."a.example"`). Each list holds at most MAX_REPORTED_PATHS paths,
   * then one "… and N more" entry.
   */
  readonly data: PathChanges;
  readonly manifest: ManifestChanges;
  /**
   * Unified diffs (3 lines of context) of every added, removed or changed
   * `.rego` file, in path order, then of the data document pretty-printed with
   * sorted keys under DATA_DOCUMENT_NAME. At most MAX_UNIFIED_BYTES, then a
   * "… truncated" line. Empty when nothing differs.
   */
  readonly unified: string;
  /** True when modules, data paths, revision, sequence and entrypoints are all the same. */
  readonly identical: boolean;
}

/**
 * Compares two packs. `labels` name the sides in the unified diff's file
 * headers (`a/app.rego`, `b/app.rego` by default). Other files (policy.wasm,
 * golden decisions) are not compared. Throws a WardenError:
 * PACK_MANIFEST_INVALID when a pack has no valid `.manifest`, PACK_DATA_INVALID
 * when its data files do not parse or merge, or nest past MAX_DATA_DEPTH.
 */
export function diffPacks(from: PackFiles, to: PackFiles, labels: SideLabels = { from: 'a', to: 'b' }): PackDiff {
  const manifest = diffManifests(parseManifest(from.get(MANIFEST_PATH)), parseManifest(to.get(MANIFEST_PATH)));
  const fromData = assembleData(from);
  const toData = assembleData(to);
  const data = diffData(fromData, toData);
  const modules = diffModules(from, to);

  const writer = new UnifiedWriter(labels);
  for (const path of [...modules.added, ...modules.removed, ...modules.changed].sort()) {
    writer.add(path, textOf(from, path), textOf(to, path));
  }
  if (!isEmpty(data)) writer.add(DATA_DOCUMENT_NAME, stableJson(fromData), stableJson(toData));

  const identical =
    isEmpty(modules) &&
    isEmpty(data) &&
    manifest.revisionFrom === manifest.revisionTo &&
    manifest.sequenceFrom === manifest.sequenceTo &&
    manifest.entrypointsAdded.length === 0 &&
    manifest.entrypointsRemoved.length === 0;
  return { modules, data, manifest, unified: writer.text(), identical };
}

// Which .rego files were added, removed or changed (byte for byte).
function diffModules(from: PackFiles, to: PackFiles): PathChanges {
  const fromPaths = regoPaths(from);
  const toPaths = regoPaths(to);
  return {
    added: toPaths.filter((p) => !from.has(p)),
    removed: fromPaths.filter((p) => !to.has(p)),
    changed: fromPaths.filter((p) => {
      const other = to.get(p);
      return other !== undefined && !other.equals(from.get(p) ?? Buffer.alloc(0));
    }),
  };
}

// Revision, sequence and entrypoint changes between two manifests.
function diffManifests(from: PackManifest, to: PackManifest): ManifestChanges {
  const fromEntrypoints = manifestEntrypoints(from);
  const toEntrypoints = manifestEntrypoints(to);
  const fromSet = new Set(fromEntrypoints);
  const toSet = new Set(toEntrypoints);
  return {
    revisionFrom: from.revision,
    revisionTo: to.revision,
    sequenceFrom: from.metadata.warden.sequence,
    sequenceTo: to.metadata.warden.sequence,
    entrypointsAdded: toEntrypoints.filter((e) => !fromSet.has(e)),
    entrypointsRemoved: fromEntrypoints.filter((e) => !toSet.has(e)),
  };
}

// The pack's .rego paths, sorted.
function regoPaths(files: PackFiles): string[] {
  return [...files.keys()].filter((p) => p.endsWith('.rego')).sort();
}

// A file's text, or undefined when the pack lacks it.
function textOf(files: PackFiles, path: string): string | undefined {
  return files.get(path)?.toString('utf8');
}

// True when nothing was added, removed or changed.
function isEmpty(changes: PathChanges): boolean {
  return changes.added.length + changes.removed.length + changes.changed.length === 0;
}
