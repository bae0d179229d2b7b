// Builds raw tar and gzip fixtures in code, including hostile ones the writer refuses to make.
import { once } from 'node:events';
import { createGzip, gzipSync } from 'node:zlib';

export const BLOCK = 512;
/** Two zero blocks: the tar end-of-archive marker. */
export const END = Buffer.alloc(2 * BLOCK);

export interface HeaderSpec {
  name: string;
  size?: number;
  /** Typeflag character; '0' unless given. */
  type?: string;
  prefix?: string;
  linkname?: string;
  /** 'posix' writes "ustar\000" (the default), 'gnu' writes "ustar  \0". */
  magic?: 'posix' | 'gnu';
  /** Raw bytes for the 12-byte size field (e.g. GNU base-256), instead of octal `size`. */
  sizeField?: Uint8Array;
  /** Adds this to the correct checksum, to make a bad one. */
  checksumDelta?: number;
}

/** One 512-byte tar header block as described, with a checksum that is valid unless told otherwise. */
export function header(spec: HeaderSpec): Buffer {
  const block = Buffer.alloc(BLOCK);
  Buffer.from(spec.name, 'utf8').copy(block, 0, 0, 100);
  block.write('0000644\0', 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  if (spec.sizeField) Buffer.from(spec.sizeField).copy(block, 124);
  else block.write(`${(spec.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  block.write('00000000000\0', 136, 'latin1');
  block.write(spec.type ?? '0', 156, 'latin1');
  Buffer.from(spec.linkname ?? '', 'utf8').copy(block, 157, 0, 100);
  block.write(spec.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000', 257, 'latin1');
  Buffer.from(spec.prefix ?? '', 'utf8').copy(block, 345, 0, 155);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${(sum + (spec.checksumDelta ?? 0)).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

/** A header followed by `data` padded to a whole block; size defaults to the data's length. */
export function entry(spec: HeaderSpec, data: string | Buffer = ''): Buffer {
  const body = Buffer.from(data);
  return Buffer.concat([header({ size: body.length, ...spec }), body, pad(body.length)]);
}

/** A pax extended header ('x') carrying `records`. */
export function paxEntry(records: Record<string, string>): Buffer {
  const body = Buffer.concat(
    Object.entries(records).map(([key, value]) => {
      const rest = Buffer.byteLength(` ${key}=${value}\n`);
      let length = rest + String(rest).length;
      length = rest + String(length).length;
      return Buffer.from(`${length} ${key}=${value}\n`);
    }),
  );
  return entry({ name: 'PaxHeaders/x', type: 'x' }, body);
}

/** A GNU long-name entry ('L') naming the entry after it. */
export function longNameEntry(name: string): Buffer {
  return entry({ name: '././@LongLink', type: 'L', magic: 'gnu' }, Buffer.from(`${name}\0`));
}

/** A whole gzip-compressed tar of the given parts, with the end marker appended. */
export function tarGz(...parts: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...parts, END]));
}

/** Raw tar bytes gzipped as they are, with no end marker added (for truncated archives). */
export function gzipRaw(tar: Buffer): Buffer {
  return gzipSync(tar);
}

/** A tar of `count` one-byte files named f/000000…, gzipped. */
export function manyFilesTarGz(count: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) parts.push(entry({ name: `f/${String(i).padStart(6, '0')}` }, 'x'));
  return tarGz(...parts);
}

/** `head` followed by `zeroBytes` zero bytes, gzipped by a streaming deflate without ever holding the zeros. */
export async function gzipWithZeros(head: Buffer, zeroBytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const done = once(gzip, 'end');
  const zeros = Buffer.alloc(1024 * 1024);
  gzip.write(head);
  for (let left = zeroBytes; left > 0; left -= zeros.length) {
    if (!gzip.write(zeros.subarray(0, Math.min(left, zeros.length)))) await once(gzip, 'drain');
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}

// Zero bytes padding a body of `size` bytes to a whole block.
function pad(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}
