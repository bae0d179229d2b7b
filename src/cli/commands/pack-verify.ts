/**
 * `warden pack verify FILE (--public-key PUB… | --trusted-root ROOT --issuer I --subject-regex R)`:
 * digest, signature and identity, then the pack's contents through the safe reader.
 */
import { existsSync } from 'node:fs';
import { loadTrust, type TrustFiles } from '../../config/trust-files.js';
import { WardenError } from '../../errors.js';
import { manifestEntrypoints, MANIFEST_PATH, parseManifest } from '../../pack/manifest.js';
import { CLI_LIMIT_KEYS } from '../../pack/limits.js';
import { readPack } from '../../pack/reader.js';
import { verifyPack } from '../../verify/verify.js';
import { parse, readOrFail, type Command } from '../command.js';
import { LIMIT_FLAGS, LIMIT_HELP, LIMIT_USAGE, limitsFromFlags } from '../limit-flags.js';
import { summaryOf } from '../registry.js';

export const packVerifyCommand: Command = {
  name: 'pack verify',
  summary: summaryOf('pack verify'),
  usage: `warden pack verify FILE (--public-key PUB [--public-key PUB2…] | --trusted-root ROOT --issuer I --subject-regex R) [--bundle B] [--digest sha256:…] [--json] ${LIMIT_USAGE}`,
  async run(argv, io) {
    const opts = {
      'public-key': { type: 'string', multiple: true },
      'trusted-root': { type: 'string' },
      issuer: { type: 'string' },
      'subject-regex': { type: 'string' },
      bundle: { type: 'string' },
      digest: { type: 'string' },
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
    const bundlePath = values.bundle ?? `${file}.sigstore.json`;
    const pack = await readOrFail(file);
    // A missing bundle is "unsigned", not an I/O error: that is the verdict the operator needs.
    const signature = values.bundle !== undefined || existsSync(bundlePath) ? await readOrFail(bundlePath) : undefined;
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

// Picks key-based or keyless trust from the flags; both or neither → USAGE.
function trustFiles(v: {
  'public-key'?: string[];
  'trusted-root'?: string;
  issuer?: string;
  'subject-regex'?: string;
}): TrustFiles {
  const keys = v['public-key'] ?? [];
  const keyless = v['trusted-root'] !== undefined || v.issuer !== undefined || v['subject-regex'] !== undefined;
  if (keys.length > 0 && keyless)
    throw new WardenError('USAGE', 'give either --public-key or --trusted-root/--issuer/--subject-regex, not both');
  if (keys.length > 0) return { publicKeys: keys };
  if (!v['trusted-root'] || !v.issuer || !v['subject-regex']) {
    throw new WardenError(
      'USAGE',
      'keyless verification needs --trusted-root, --issuer and --subject-regex (or use --public-key)',
    );
  }
  return { trustedRoot: v['trusted-root'], issuer: v.issuer, subjectRegex: v['subject-regex'] };
}
