/**
 * Unified diffs of pack files under limits, because both sides are pack
 * contents (hostile, docs/design.md#fetched-input-is-hostile): the output stops at a byte budget, and the
 * line diff (Myers: its cost grows with lines × edits and with edits²) gets a
 * work budget. Common first and last lines are set aside first; when the
 * budget does not cover the rest, it shows as one replacement hunk (still a
 * patch that applies).
 */
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch, type StructuredPatch, type StructuredPatchHunk } from 'diff';

/** Most bytes of unified diff text one comparison produces. */
export const MAX_UNIFIED_BYTES = 1024 * 1024;
// Measured (jsdiff 9, Node 20), a diff costs ~edits² (two unrelated 10k-line files give up after ~0.3 s
// at 2,000 edits, ~2 s at 4,000) plus lines × (LINE_COST + edits) units of ~4 ns (100k lines with 2,000
// scattered changes: 3 s; splitting 2.4M lines into tokens: 1.25 s). Aborted attempts are charged in full.
/** Line edits one file's diff may take before its differing part shows as a replacement. */
export const MAX_FILE_EDITS = 2000;
const MAX_TOTAL_EDITS = 10_000;
const LINE_COST = 128;
const MAX_FILE_WORK = 100_000_000; // ~0.4 s
const MAX_TOTAL_WORK = 400_000_000; // ~1.6 s
const CONTEXT_LINES = 3;
const NO_EOL = '\\ No newline at end of file';

/** The name a side is shown under: `label/path`, or /dev/null where the file is absent. */
export interface SideLabels {
  readonly from: string;
  readonly to: string;
}

/** Collects the unified diffs of several files, in the order added, within the limits. */
export class UnifiedWriter {
  private readonly parts: string[] = [];
  private bytesLeft: number;
  private editsLeft = MAX_TOTAL_EDITS;
  private workLeft = MAX_TOTAL_WORK;
  private truncated = false;

  constructor(
    private readonly labels: SideLabels,
    private readonly maxBytes = MAX_UNIFIED_BYTES,
  ) {
    this.bytesLeft = maxBytes;
  }

  /** Adds the diff of one file; `undefined` text means the file is absent on that side. */
  add(path: string, fromText: string | undefined, toText: string | undefined): void {
    if (fromText === toText) return;
    if (this.bytesLeft <= 0) {
      this.truncated = true;
      return;
    }
    const patch = this.patchOf(path, fromText, toText);
    clipHunks(patch.hunks, this.bytesLeft);
    this.append(formatPatch(patch, FILE_HEADERS_ONLY));
  }

  /** The collected text, ending in a "… truncated" line when a limit cut it short. */
  text(): string {
    const note = this.truncated ? `… truncated: the unified diff is longer than ${this.maxBytes} bytes\n` : '';
    return this.parts.join('') + note;
  }

  // A line diff of the part between the common first and last lines while the budgets last, else its replacement.
  private patchOf(path: string, fromText: string | undefined, toText: string | undefined): StructuredPatch {
    const oldFileName = fromText === undefined ? '/dev/null' : `${this.labels.from}/${path}`;
    const newFileName = toText === undefined ? '/dev/null' : `${this.labels.to}/${path}`;
    const { from, to, skipped } = middle(splitLines(fromText ?? ''), splitLines(toText ?? ''));
    const lines = from.length + to.length;
    const work = Math.min(MAX_FILE_WORK, this.workLeft);
    const limit = Math.min(MAX_FILE_EDITS, this.editsLeft, Math.floor(work / Math.max(1, lines)) - LINE_COST);
    let hunks: StructuredPatchHunk[] | undefined;
    if (from.length > 0 && to.length > 0 && limit > 0) {
      const opts = { context: CONTEXT_LINES, maxEditLength: limit };
      const patch = structuredPatch('', '', from.join(''), to.join(''), undefined, undefined, opts);
      const edits = patch === undefined ? limit : countEdits(patch.hunks);
      this.editsLeft -= edits;
      this.workLeft -= (LINE_COST + edits) * lines;
      hunks = patch?.hunks;
    }
    hunks ??= replacement(from, to, this.bytesLeft);
    for (const hunk of hunks) {
      hunk.oldStart += skipped;
      hunk.newStart += skipped;
    }
    return { oldFileName, newFileName, oldHeader: undefined, newHeader: undefined, hunks };
  }

  // Appends text, cutting it at the last whole line that fits the byte budget.
  private append(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (bytes <= this.bytesLeft) {
      this.parts.push(text);
      this.bytesLeft -= bytes;
      return;
    }
    const head = Buffer.from(text).subarray(0, this.bytesLeft).toString('utf8');
    this.parts.push(head.slice(0, head.lastIndexOf('\n') + 1));
    this.bytesLeft = 0;
    this.truncated = true;
  }
}

// Number of removed and added lines in the hunks.
function countEdits(hunks: readonly StructuredPatchHunk[]): number {
  let edits = 0;
  for (const hunk of hunks) for (const line of hunk.lines) if (line.startsWith('+') || line.startsWith('-')) edits++;
  return edits;
}

// One hunk removing every old line and adding every new one; lines past the budget are left out.
function replacement(from: readonly string[], to: readonly string[], budget: number): StructuredPatchHunk[] {
  if (from.length === 0 && to.length === 0) return [];
  const lines: string[] = [];
  const result = [{ oldStart: 1, oldLines: from.length, newStart: 1, newLines: to.length, lines }];
  let size = 0;
  for (const [sign, side] of [
    ['-', from],
    ['+', to],
  ] as const) {
    for (const line of side) {
      if (size > budget) return result;
      const bare = line.endsWith('\n') ? line.slice(0, -1) : line;
      lines.push(sign + bare);
      if (bare === line) lines.push(NO_EOL);
      size += line.length + 1;
    }
  }
  return result;
}

// The lines of a text, each with its newline (the last may lack one).
function splitLines(text: string): string[] {
  const lines: string[] = [];
  for (let at = 0; at < text.length;) {
    const end = text.indexOf('\n', at);
    const next = end === -1 ? text.length : end + 1;
    lines.push(text.slice(at, next));
    at = next;
  }
  return lines;
}

// Both sides without their common first and last lines (bar CONTEXT_LINES each), and how many lines went from the start.
function middle(from: string[], to: string[]): { from: string[]; to: string[]; skipped: number } {
  const shorter = Math.min(from.length, to.length);
  let head = 0;
  while (head < shorter && from[head] === to[head]) head++;
  let tail = 0;
  while (tail < shorter - head && from[from.length - 1 - tail] === to[to.length - 1 - tail]) tail++;
  const skipped = Math.max(0, head - CONTEXT_LINES);
  const kept = Math.max(0, tail - CONTEXT_LINES);
  return { from: from.slice(skipped, from.length - kept), to: to.slice(skipped, to.length - kept), skipped };
}

// Cuts hunk lines past the byte budget, so one huge line or hunk is never formatted whole.
function clipHunks(hunks: StructuredPatchHunk[], budget: number): void {
  let size = 0;
  for (let h = 0; h < hunks.length; h++) {
    const lines = hunks[h]?.lines ?? [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] ?? '';
      size += line.length + 1;
      if (size > budget) {
        lines.splice(i + 1);
        lines[i] = line.slice(0, Math.max(0, line.length - (size - budget)));
        hunks.splice(h + 1);
        return;
      }
    }
  }
}
