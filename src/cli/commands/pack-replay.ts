/**
 * `warden pack replay CANDIDATE --decisions DIR_OR_FILE… [verify flags]`: the candidate
 * verified and loaded as the agent prepares a pack (activate/prepare.ts: signature,
 * digest, safe read, manifest, engine, golden decisions), then every recorded decision
 * asked again of it (src/replay/). Exit 0, or 3 when a gate (--fail-on, --max-changed)
 * fails; errors exit 2 (usage) or 1 as for every command.
 */
import { loadTrust } from '../../config/trust-files.js';
import { WardenError } from '../../errors.js';
import { prepareCandidate } from '../../activate/prepare.js';
import { CLI_LIMIT_KEYS } from '../../pack/limits.js';
import { CandidateEngine } from '../../replay/candidate-engine.js';
import { gateFailures, GATE_FAILED_STATUS, parseFailOn, parseMaxChanged } from '../../replay/gates.js';
import { decisionFiles } from '../../replay/lines.js';
import { buildReport, formatReport } from '../../replay/report.js';
import { replay } from '../../replay/replay.js';
import type { Tally } from '../../replay/tally.js';
import { normalisePath } from '../../replay/event.js';
import { parse, readOrFail, type Command } from '../command.js';
import { LIMIT_FLAGS, LIMIT_HELP, LIMIT_USAGE, limitsFromFlags } from '../limit-flags.js';
import { summaryOf } from '../registry.js';
import { readSignature, trustFiles, VERIFY_FLAGS, VERIFY_USAGE } from '../verify-flags.js';

const DEFAULTS = { sample: 5, top: 10, maxLineBytes: 1024 * 1024 } as const;

export const packReplayCommand: Command = {
  name: 'pack replay',
  summary: summaryOf('pack replay'),
  usage: `warden pack replay CANDIDATE.tar.gz --decisions DIR_OR_FILE [--decisions …] ${VERIFY_USAGE} [--entrypoint PATH…] [--fail-on deny-to-allow|allow-to-deny|any-change] [--max-changed 0.5%|N] [--sample N] [--top N] [--max-line-bytes N] [--json] ${LIMIT_USAGE}`,
  async run(argv, io) {
    const opts = {
      ...VERIFY_FLAGS,
      decisions: { type: 'string', multiple: true },
      entrypoint: { type: 'string', multiple: true },
      'fail-on': { type: 'string', multiple: true },
      'max-changed': { type: 'string' },
      sample: { type: 'string' },
      top: { type: 'string' },
      'max-line-bytes': { type: 'string' },
      json: { type: 'boolean' },
      ...LIMIT_FLAGS,
    } as const;
    const { values, positionals } = parse(argv, opts, 1);
    if (values.help) {
      io.out(
        `usage: ${this.usage}\n\n${this.summary}.\n\n${HELP}\n\nLimits the candidate is read with (an agent's limits.* keys, same defaults):\n${LIMIT_HELP}`,
      );
      return 0;
    }
    const file = positionals[0] ?? '';
    const decisions = values.decisions ?? [];
    if (decisions.length === 0)
      throw new WardenError('USAGE', '--decisions is required (a folder, a file, a .gz file or -)');
    const gates = {
      failOn: parseFailOn(values['fail-on'] ?? []),
      maxChanged: values['max-changed'] === undefined ? undefined : parseMaxChanged(values['max-changed']),
    };
    const sample = count(values.sample, 'sample', DEFAULTS.sample);
    const top = count(values.top, 'top', DEFAULTS.top);
    const maxLineBytes = count(values['max-line-bytes'], 'max-line-bytes', DEFAULTS.maxLineBytes);
    if (maxLineBytes === 0) throw new WardenError('USAGE', '--max-line-bytes must be positive');
    const limits = limitsFromFlags(values);
    const entrypoints = values.entrypoint === undefined ? undefined : new Set(values.entrypoint.map(normalisePath));

    // As pack verify reads them, then as the agent prepares a pack: fail closed with the same codes.
    const pack = await readOrFail(file);
    const signature = await readSignature(file, values.bundle);
    const trust = await loadTrust(trustFiles(values));
    const candidate = await prepareCandidate(undefined, pack, signature, trust, limits, undefined, {
      limitKeys: CLI_LIMIT_KEYS,
      expectedDigest: values.digest,
    });
    const engine = new CandidateEngine(candidate, file);
    const files = await decisionFiles(decisions);
    const progress = process.stderr.isTTY ? progressLine() : undefined;
    const tally = await replay(engine, {
      files,
      maxLineBytes,
      entrypoints,
      sample,
      onProgress: progress?.update,
    });
    progress?.done();
    const info = {
      file,
      pack: candidate.manifest.metadata.warden.pack,
      revision: candidate.revision,
      sequence: candidate.sequence,
      digest: candidate.digest,
    };
    const failures = gateFailures(tally, gates);
    const report = buildReport(info, files.length, tally, top, failures);
    if (values.json) io.out(JSON.stringify(report));
    else io.out(formatReport(report).join('\n'));
    return failures.length === 0 ? 0 : GATE_FAILED_STATUS;
  },
};

const HELP = `Verifies CANDIDATE as the agent would (signature, digest, contents, golden decisions) and asks it
every decision recorded in the logs: Warden's decision log (a folder: every decisions-*.ndjson, rotated
and .gz ones, oldest first) or OPA's (opa run decision logs to the console or a file). Files may be
gzipped (.gz); - reads standard input. Decisions of paths the candidate does not own are out of scope.

  --entrypoint PATH      replay only these paths (authz/allow; repeatable)
  --fail-on WHAT         deny-to-allow, allow-to-deny or any-change: exit ${GATE_FAILED_STATUS} if any such change (repeatable)
  --max-changed LIMIT    exit ${GATE_FAILED_STATUS} if more decisions changed than 0.5% of those replayed, or than a count (25)
  --sample N             changed decisions shown in full (default ${DEFAULTS.sample})
  --top N                groups of changed inputs shown (default ${DEFAULTS.top})
  --max-line-bytes N     a longer line is counted as malformed (default ${DEFAULTS.maxLineBytes})
  --json                 the report as one JSON object

Exit 0: replayed and every gate held; ${GATE_FAILED_STATUS}: a gate failed; 1: the candidate was refused or a log
could not be read (one line with the error code); 2: usage.`;

// A non-negative integer flag, or its default.
function count(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n))
    throw new WardenError('USAGE', `--${flag} must be a non-negative integer, got ${value}`);
  return n;
}

// One line on stderr, rewritten in place (stderr is a TTY), at most every 200 ms.
function progressLine(): { update: (tally: Tally, file: string) => void; done: () => void } {
  let last = 0;
  return {
    update: (tally, file) => {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      process.stderr.write(
        `\r\x1b[2Kreplaying ${file}: ${tally.lines} lines, ${tally.replayed} replayed, ${tally.changed} changed`,
      );
    },
    done: () => process.stderr.write('\r\x1b[2K'),
  };
}
