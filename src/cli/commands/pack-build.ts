/** `warden pack build DIR --out FILE`: compiles a policy folder into a pack. */
import { WardenError } from '../../errors.js';
import { buildPack } from '../../pack/build.js';
import { CLI_LIMIT_KEYS } from '../../pack/limits.js';
import { parse, required, type Command } from '../command.js';
import { LIMIT_FLAGS, LIMIT_HELP, LIMIT_USAGE, limitsFromFlags } from '../limit-flags.js';
import { summaryOf } from '../registry.js';

export const packBuildCommand: Command = {
  name: 'pack build',
  summary: summaryOf('pack build'),
  usage: `warden pack build DIR --out FILE [--sequence N] [--revision R] [--opa PATH] ${LIMIT_USAGE}`,
  async run(argv, io) {
    const opts = {
      out: { type: 'string' },
      sequence: { type: 'string' },
      revision: { type: 'string' },
      opa: { type: 'string' },
      ...LIMIT_FLAGS,
    } as const;
    const { values, positionals } = parse(argv, opts, 1);
    if (values.help) {
      io.out(
        `usage: ${this.usage}\n\n${this.summary}.\nDIR holds warden.yaml (name, entrypoints, golden cases), .rego files, _test.rego tests and data.json/data.yaml.\n--sequence sets the monotonic marker (default: now in ms); a pack with a lower sequence is refused as a downgrade.\n\nLimits: the folder's files and the pack written must fit them (an agent reads packs with the same limits and defaults, its limits.* keys):\n${LIMIT_HELP}`,
      );
      return 0;
    }
    const sequence = values.sequence === undefined ? undefined : Number(values.sequence);
    if (sequence !== undefined && (!Number.isSafeInteger(sequence) || sequence < 0)) {
      throw new WardenError('USAGE', `--sequence must be a non-negative integer, got ${values.sequence}`);
    }
    const limits = limitsFromFlags(values);
    const built = await buildPack({
      dir: positionals[0] ?? '',
      limits,
      limitKeys: CLI_LIMIT_KEYS,
      out: required(values.out, 'out'),
      ...(sequence === undefined ? {} : { sequence }),
      ...(values.revision === undefined ? {} : { revision: values.revision }),
      ...(values.opa === undefined ? {} : { opaPath: values.opa }),
    });
    const marker = built.manifest.metadata.warden;
    io.out(
      `built ${values.out} ${built.digest} pack=${marker.pack} revision=${built.manifest.revision} sequence=${marker.sequence} ` +
        `entrypoints=${built.spec.entrypoints.join(',')} paths=${built.paths.length} tests=${built.testsRun} golden=${built.goldenRun}`,
    );
    return 0;
  },
};
