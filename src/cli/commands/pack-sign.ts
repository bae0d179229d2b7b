/** `warden pack sign FILE --key KEY`: writes FILE.sigstore.json. */
import { parsePrivateKey } from '../../sign/keys.js';
import { signPack } from '../../sign/sign.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { sha256Digest } from '../../verify/digest.js';
import { parse, readOrFail, required, type Command } from '../command.js';
import { summaryOf } from '../registry.js';

export const packSignCommand: Command = {
  name: 'pack sign',
  summary: summaryOf('pack sign'),
  usage: 'warden pack sign FILE --key KEY [--bundle OUT]',
  async run(argv, io) {
    const { values, positionals } = parse(argv, { key: { type: 'string' }, bundle: { type: 'string' } }, 1);
    if (values.help) {
      io.out(`usage: ${this.usage}\n\n${this.summary}.`);
      return 0;
    }
    const file = positionals[0] ?? '';
    const keyPath = required(values.key, 'key');
    const [pack, keyPem] = await Promise.all([readOrFail(file), readOrFail(keyPath)]);
    const bundle = await signPack(pack, parsePrivateKey(keyPem, keyPath));
    const out = values.bundle ?? `${file}.sigstore.json`;
    await writeFileAtomic(out, `${JSON.stringify(bundle, null, 2)}\n`);
    io.out(`signed ${file} ${sha256Digest(pack)} → ${out}`);
    return 0;
  },
};
