/**
 * A pack diff as terminal text: a summary (revision, sequence, entrypoints,
 * modules and data paths added / removed / changed), then the unified diff.
 * Pack contents are hostile, so control and bidi characters from them are
 * shown escaped, never sent to the terminal raw.
 */
import { countPaths, type PathChanges } from './diff-data.js';
import type { PackDiff } from './diff.js';

/** How to format. */
export interface TerminalFormatOptions {
  /** Colour removed lines red and added lines green (ANSI escapes); off by default. */
  readonly color?: boolean;
}

const ANSI = {
  red: '\u001b[31m',
  green: '\u001b[32m',
  cyan: '\u001b[36m',
  bold: '\u001b[1m',
  reset: '\u001b[0m',
} as const;

/** The diff as lines for a terminal, ending in a newline. */
export function formatDiffForTerminal(diff: PackDiff, options: TerminalFormatOptions = {}): string {
  const colour = options.color === true;
  const head = summary(diff)
    .map((line) => escapeControls(line))
    .map((line) => (colour ? paintSummary(line) : line));
  const body =
    diff.unified === ''
      ? []
      : [
          '',
          ...diff.unified
            .replace(/\n$/, '')
            .split('\n')
            .map((line) => escapeControls(line)),
        ];
  return [...head, ...body.map((line) => (colour ? paintUnified(line) : line))].join('\n') + '\n';
}

// The summary lines, before the unified diff.
function summary(diff: PackDiff): string[] {
  const m = diff.manifest;
  if (diff.identical) return [`no differences (revision ${m.revisionFrom}, sequence ${m.sequenceFrom})`];
  const lines = [
    change('revision', m.revisionFrom, m.revisionTo),
    change('sequence', String(m.sequenceFrom), String(m.sequenceTo)),
  ];
  if (m.entrypointsAdded.length + m.entrypointsRemoved.length > 0) {
    lines.push(
      'entrypoints:',
      ...m.entrypointsAdded.map((e) => `  + ${e}`),
      ...m.entrypointsRemoved.map((e) => `  - ${e}`),
    );
  }
  lines.push(...section('modules', diff.modules), ...section('data', diff.data));
  return lines;
}

// "name: a → b", or "name: a (unchanged)".
function change(name: string, from: string, to: string): string {
  return from === to ? `${name}: ${from} (unchanged)` : `${name}: ${from} → ${to}`;
}

// A heading with counts, then one line per added (+), removed (-) and changed (~) entry.
function section(name: string, changes: PathChanges): string[] {
  const counts = [
    `${countPaths(changes.added)} added`,
    `${countPaths(changes.removed)} removed`,
    `${countPaths(changes.changed)} changed`,
  ];
  return [
    `${name}: ${counts.join(', ')}`,
    ...changes.added.map((p) => `  + ${p}`),
    ...changes.removed.map((p) => `  - ${p}`),
    ...changes.changed.map((p) => `  ~ ${p}`),
  ];
}

// Colours a summary entry: additions green, removals red.
function paintSummary(line: string): string {
  if (line.startsWith('  + ')) return paint(ANSI.green, line);
  return line.startsWith('  - ') ? paint(ANSI.red, line) : line;
}

// Colours a unified-diff line by its marker: file headers bold, hunk headers cyan, removals red, additions green.
function paintUnified(line: string): string {
  if (line.startsWith('--- ') || line.startsWith('+++ ')) return paint(ANSI.bold, line);
  if (line.startsWith('@@')) return paint(ANSI.cyan, line);
  if (line.startsWith('-')) return paint(ANSI.red, line);
  return line.startsWith('+') ? paint(ANSI.green, line) : line;
}

// Wraps a line in a colour and a reset.
function paint(colour: string, line: string): string {
  return `${colour}${line}${ANSI.reset}`;
}

// Shows C0/C1 controls (but tab) in caret or <U+XXXX> form, and bidi overrides as <U+XXXX> (Trojan Source).
function escapeControls(line: string): string {
  let out = '';
  for (const ch of line) {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 0x09) out += ch;
    else if (code < 0x20) out += `^${String.fromCharCode(code + 0x40)}`;
    else if (code === 0x7f) out += '^?';
    else if (code < 0xa0 && code > 0x7f) out += unicodeName(code);
    else if (
      code === 0x200e ||
      code === 0x200f ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069)
    )
      out += unicodeName(code);
    else out += ch;
  }
  return out;
}

// "<U+202E>" for a code point.
function unicodeName(code: number): string {
  return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}
