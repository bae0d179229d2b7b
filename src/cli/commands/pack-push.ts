/**
 * `warden pack push FILE REF [--key KEY | --bundle BUNDLE] [auth] [--insecure-http] [--ca-file CA]`:
 * publishes a pack to an OCI registry as an OPA bundle artefact under REF's tag,
 * with its Sigstore bundle (made now with --key, as `pack sign` does, or an
 * existing one) attached as a referrer (src/source/oci/push.ts).
 */
import { basename } from 'node:path';
import { getRegistryCredentials } from '@sigstore/oci';
import { WardenError } from '../../errors.js';
import { parsePrivateKey } from '../../sign/keys.js';
import { signPack } from '../../sign/sign.js';
import type { OciCredentials } from '../../source/oci/auth.js';
import { OciClient } from '../../source/oci/client.js';
import { pushPack } from '../../source/oci/push.js';
import { parseOciReference } from '../../source/oci/reference.js';
import { parse, readOrFail, type Command } from '../command.js';
import { summaryOf } from '../registry.js';

export const packPushCommand: Command = {
  name: 'pack push',
  summary: summaryOf('pack push'),
  usage:
    'warden pack push FILE REGISTRY/REPO:TAG [--key KEY | --bundle BUNDLE] [--username-file F --password-file F | --token-file F] [--insecure-http] [--ca-file CA] [--timeout-seconds N]',
  async run(argv, io) {
    const { values, positionals } = parse(
      argv,
      {
        key: { type: 'string' },
        bundle: { type: 'string' },
        'username-file': { type: 'string' },
        'password-file': { type: 'string' },
        'token-file': { type: 'string' },
        'insecure-http': { type: 'boolean' },
        'ca-file': { type: 'string' },
        'timeout-seconds': { type: 'string' },
      },
      2,
    );
    if (values.help) {
      io.out(
        `usage: ${this.usage}\n\n${this.summary}.\n--key signs the pack now (as \`pack sign\`); --bundle attaches an existing .sigstore.json; without either the pack is pushed unsigned (an agent refuses it).\nCredentials: the files given, else the Docker config ($HOME/.docker/config.json; DOCKER_CONFIG is not read), else anonymous.`,
      );
      return 0;
    }
    const [file = '', refText = ''] = positionals;
    if (values.key !== undefined && values.bundle !== undefined)
      throw new WardenError('USAGE', '--key and --bundle exclude each other');
    const ref = parseOciReference(refText);
    if (ref.pinned) throw new WardenError('USAGE', 'push to a tag (registry/repo:tag), not to a digest');
    const pack = await readOrFail(file);
    let bundle: Buffer | undefined;
    if (values.key !== undefined) {
      const keyPem = await readOrFail(values.key);
      bundle = Buffer.from(JSON.stringify(await signPack(pack, parsePrivateKey(keyPem, values.key))));
    } else if (values.bundle !== undefined) bundle = await readOrFail(values.bundle);
    const timeout = Number(values['timeout-seconds'] ?? '30');
    if (!Number.isFinite(timeout) || timeout <= 0) throw new WardenError('USAGE', '--timeout-seconds must be > 0');
    const client = new OciClient({
      ref,
      credentials: await credentials(values, ref.registry),
      insecureHttp: values['insecure-http'] === true,
      ...(values['ca-file'] === undefined ? {} : { ca: await readOrFail(values['ca-file']) }),
      timeoutMs: timeout * 1000,
      push: true,
    });
    try {
      const pushed = await pushPack(client, ref.reference, pack, basename(file), bundle);
      io.out(
        `pushed ${file} ${pushed.layer} → ${ref.registry}/${ref.repository}@${pushed.manifest} (tag ${ref.reference})`,
      );
      if (pushed.signature !== undefined) io.out(`signature attached as referrer ${pushed.signature}`);
      else io.err('warning: pushed without a signature; agents refuse unsigned packs');
    } finally {
      await client.close();
    }
    return 0;
  },
};

// The credentials the flags name, else the Docker config's for the registry, else anonymous.
async function credentials(
  values: { 'username-file'?: string; 'password-file'?: string; 'token-file'?: string },
  registry: string,
): Promise<OciCredentials> {
  const text = async (path: string): Promise<string> => (await readOrFail(path)).toString('utf8').replace(/\r?\n$/, '');
  if (values['token-file'] !== undefined) return { kind: 'token', token: await text(values['token-file']) };
  const user = values['username-file'];
  const pass = values['password-file'];
  if ((user === undefined) !== (pass === undefined))
    throw new WardenError('USAGE', '--username-file and --password-file go together');
  if (user !== undefined && pass !== undefined)
    return { kind: 'basic', username: await text(user), password: await text(pass) };
  try {
    // @sigstore/oci reads $HOME/.docker/config.json as docker login writes it (DOCKER_CONFIG is not consulted).
    const c = getRegistryCredentials(`${registry}/x`);
    return { kind: 'basic', username: c.username, password: c.password };
  } catch {
    return { kind: 'anonymous' };
  }
}
