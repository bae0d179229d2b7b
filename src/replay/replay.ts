/**
 * Offline replay: every recorded decision in the logs asked again of a
 * candidate pack, and the two answers compared (compare.ts). Files are read
 * one after the other, line by line (lines.ts); nothing grows with the size of
 * the logs but the bounded tally (tally.ts).
 */
import { WardenError, messageOf } from '../errors.js';
import type { CandidateEngine } from './candidate-engine.js';
import { classify } from './compare.js';
import { parseLine } from './event.js';
import { linesOf, openLog, OVERLONG } from './lines.js';
import { Tally } from './tally.js';

/** What to replay and how. */
export interface ReplayOptions {
  /** Log files in order (decisionFiles() expands folders); `-` is standard input. */
  readonly files: readonly string[];
  /** Longer lines are counted as malformed (overlong). */
  readonly maxLineBytes: number;
  /** Only these paths (absent: every path the candidate owns). */
  readonly entrypoints?: ReadonlySet<string> | undefined;
  /** Changed decisions kept in full. */
  readonly sample: number;
  /** Called about every `progressEvery` lines, and once at the end of each file. */
  readonly onProgress?: ((tally: Tally, file: string) => void) | undefined;
  readonly progressEvery?: number;
}

/** Replays the logs against the candidate. A file that cannot be read is IO_FAILED; a bad line never is. */
export async function replay(engine: CandidateEngine, opts: ReplayOptions): Promise<Tally> {
  const tally = new Tally(opts.sample);
  const every = opts.progressEvery ?? 10_000;
  for (const file of opts.files) {
    try {
      for await (const line of linesOf(openLog(file), opts.maxLineBytes)) {
        tally.lines++;
        if (line === OVERLONG) tally.malformed.overlong++;
        else replayLine(engine, line, opts.entrypoints, tally);
        if (opts.onProgress && tally.lines % every === 0) opts.onProgress(tally, file);
      }
    } catch (err) {
      throw new WardenError('IO_FAILED', `cannot read ${file === '-' ? 'standard input' : file}: ${messageOf(err)}`, {
        cause: err,
        details: { file, lines: tally.lines },
      });
    }
    opts.onProgress?.(tally, file);
  }
  return tally;
}

function replayLine(engine: CandidateEngine, line: string, only: ReadonlySet<string> | undefined, tally: Tally): void {
  const parsed = parseLine(line);
  switch (parsed.kind) {
    case 'malformed':
      tally.malformed.invalid_json++;
      return;
    case 'other':
      tally.other++;
      return;
    case 'not_replayable':
      if (parsed.path !== undefined && !inScope(engine, parsed.path, only)) tally.outOfScope++;
      else tally.notReplayable[parsed.reason]++;
      return;
    case 'decision': {
      if (!inScope(engine, parsed.path, only)) {
        tally.outOfScope++;
        return;
      }
      const after = engine.answer(parsed.path, parsed.inputJson);
      const outcome = classify(undefined, parsed.before, after);
      tally.record(parsed.path, parsed.inputJson, parsed.before, after, outcome, parsed.decisionId);
    }
  }
}

function inScope(engine: CandidateEngine, path: string, only: ReadonlySet<string> | undefined): boolean {
  return only === undefined ? engine.owns(path) : only.has(path);
}
