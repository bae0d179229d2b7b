/** `warden keygen --out PREFIX`: writes an ECDSA P-256 key pair. */
import { generateKeys } from '../../sign/keygen.js';
import { parse, required, type Command } from '../command.js';
import { summaryOf } from '../registry.js';

export const keygenCommand: Command = {
  name: 'keygen',
  summary: summaryOf('keygen'),
  usage: 'warden keygen --out PREFIX',
  async run(argv, io) {
    const { values } = parse(argv, { out: { type: 'string' } }, 0);
    if (values.help) return help(io);
    const keys = await generateKeys(required(values.out, 'out'));
    io.out(`wrote ${keys.privatePath} (private, mode 0600) and ${keys.publicPath}; key hint ${keys.hint}`);
    return 0;
  },
};

// Prints this command's usage.
function help(io: { out: (l: string) => void }): number {
  io.out(`usage: ${keygenCommand.usage}\n\n${keygenCommand.summary}. Existing files are never overwritten.`);
  return 0;
}
