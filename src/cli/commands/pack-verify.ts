/**
 * `warden pack verify FILE (--public-key PUB… | --trusted-root ROOT --issuer I --subject-regex R)`:
 * digest, signature and identity, then the pack's contents through the safe reader.
 */
import { loadTrust } from '../../config/trust-files.js';
import { manifestEntrypoints, MANIFEST_PATH, parseManifest } from '../../pack/manifest.js';
import { CLI_LIMIT_KEYS } from '../../pack/limits.js';
import { readPack } from '../../pack/reader.js';
import { verifyPack } from '../../verify/verify.js';
import { parse, readOrFail, type Command } from '../command.js';
import { LIMIT_FLAGS, LIMIT_HELP, LIMIT_USAGE, limitsFromFlags } from '../limit-flags.js';
import { summaryOf } from '../registry.js';
import { readSignature, trustFiles, VERIFY_FLAGS, VERIFY_USAGE } from '../verify-flags.js';

export const packVerifyCommand: Command = {
  name: 'pack verify',
  summary: summaryOf('pack verify'),
  usage: `warden pack verify FILE ${VERIFY_USAGE} [--json] ${LIMIT_USAGE}`,
  async run(argv, io) {
    const opts = {
      ...VERIFY_FLAGS,
      json: { type: 'boolean' },
      ...LIMIT_FLAGS,
    } as const;
    const { values, positionals } = parse(argv, opts, 1);
    if (values.help) {
      io.out(
        `usage: ${this.usage}\n\n${this.summary}.\nExit 0 if valid; otherwise one line with the error code. No network is used.\n\nLimits the contents are read with (an agent's limits.* keys, same defaults):\n${LIMIT_HELP}`,
      );
      return 0;
    }
    const file = positionals[0] ?? '';
    const limits = limitsFromFlags(values);
    const pack = await readOrFail(file);
    const signature = await readSignature(file, values.bundle);
    const trust = await loadTrust(trustFiles(values));
    const verified = verifyPack(
      pack,
      signature,
      trust,
      values.digest === undefined ? {} : { expectedDigest: values.digest },
    );
    const files = await readPack(pack, limits, { limitKeys: CLI_LIMIT_KEYS });
    const manifest = parseManifest(files.get(MANIFEST_PATH));
    const report = {
      file,
      digest: verified.digest,
      signer: verified.signer,
      revision: manifest.revision,
      pack: manifest.metadata.warden.pack,
      sequence: manifest.metadata.warden.sequence,
      created_at: manifest.metadata.warden.created_at,
      entrypoints: manifestEntrypoints(manifest),
      files: files.size,
    };
    if (values.json) io.out(JSON.stringify(report));
    else {
      const who =
        verified.signer.kind === 'key'
          ? `key ${verified.signer.name} (${verified.signer.hint})`
          : `${verified.signer.subject} via ${verified.signer.issuer}`;
      io.out(
        `verified ${file} ${verified.digest} pack=${report.pack} revision=${report.revision} sequence=${report.sequence} signed by ${who}`,
      );
    }
    return 0;
  },
};
