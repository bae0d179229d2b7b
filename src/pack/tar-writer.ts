/**
 * Writes a pack as a deterministic .tar.gz: the same files always give the
 * same bytes (for a given zlib), whatever their order or the machine. Entries
 * are sorted by path and carry no owner, time or mode information beyond
 * 0644 / uid 0 / gid 0 / mtime 0. Paths go through the reader's own rules.
 */
import { gzipSync } from 'node:zlib';
import { WardenError } from '../errors.js';
import { DEFAULT_PACK_LIMITS } from './limits.js';
import { BLOCK, FIELD, PathClaims, checksumOf, normalisePackPath } from './tar-header.js';

/** One file to write: its path inside the pack and its content. */
export interface TarEntry {
  readonly path: string;
  readonly data: Uint8Array;
}

// The largest size an 11-digit octal size field holds.
const MAX_USTAR_SIZE = 0o77777777777;
// gzip header byte 9 (OS); zlib writes the build platform's code, Warden pins "Unix".
const GZIP_OS_OFFSET = 9;
const GZIP_OS_UNIX = 3;

/**
 * Builds a deterministic gzip-compressed ustar archive of `entries`. Throws
 * PACK_UNSAFE_PATH or PACK_DUPLICATE_ENTRY for a path the reader would refuse
 * (a leading "./" is normalised away first), PACK_FILE_TOO_LARGE past 8 GiB.
 */
export function writeTarGz(entries: ReadonlyArray<TarEntry>): Buffer {
  return gzipTar(writeTar(entries));
}

/** The uncompressed ustar archive writeTarGz compresses (its length is what a reader inflates). */
export function writeTar(entries: ReadonlyArray<TarEntry>): Buffer {
  const claims = new PathClaims();
  const files = entries.map((entry) => {
    const path = normalisePackPath(entry.path, false, DEFAULT_PACK_LIMITS.maxPathLength);
    claims.claim(path, false);
    return { path, pathBytes: Buffer.from(path, 'utf8'), data: entry.data };
  });
  files.sort((a, b) => Buffer.compare(a.pathBytes, b.pathBytes));
  const parts: Uint8Array[] = [];
  for (const file of files) {
    if (file.data.length > MAX_USTAR_SIZE) {
      throw new WardenError('PACK_FILE_TOO_LARGE', `${file.path} is too large for a ustar entry`, {
        details: { path: file.path },
      });
    }
    parts.push(...fileHeaders(file.pathBytes, file.data.length), file.data, padding(file.data.length));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** Compresses a tar deterministically (level 9, the OS byte pinned to Unix). */
export function gzipTar(tar: Uint8Array): Buffer {
  const gz = gzipSync(tar, { level: 9 });
  gz[GZIP_OS_OFFSET] = GZIP_OS_UNIX;
  return gz;
}

// The header block(s) for one file: ustar name/prefix when the path fits, else a pax 'x' header first.
function fileHeaders(path: Buffer, size: number): Buffer[] {
  const split = splitUstarPath(path);
  if (split !== undefined) return [headerBlock(split.name, split.prefix, size, '0')];
  const record = paxRecord('path', path);
  const shortName = path.subarray(path.lastIndexOf(0x2f) + 1).subarray(0, 80);
  return [
    headerBlock(Buffer.concat([Buffer.from('PaxHeaders/'), shortName]), Buffer.alloc(0), record.length, 'x'),
    record,
    padding(record.length),
    headerBlock(shortName, Buffer.alloc(0), size, '0'),
  ];
}

// Splits a path into ustar name (≤100 bytes) and prefix (≤155 bytes) at a '/', if possible.
function splitUstarPath(path: Buffer): { name: Buffer; prefix: Buffer } | undefined {
  const [, nameLen] = FIELD.name;
  const [, prefixLen] = FIELD.prefix;
  if (path.length <= nameLen) return { name: path, prefix: Buffer.alloc(0) };
  for (let slash = path.indexOf(0x2f); slash >= 0; slash = path.indexOf(0x2f, slash + 1)) {
    if (slash > prefixLen) return undefined;
    if (path.length - slash - 1 <= nameLen) return { name: path.subarray(slash + 1), prefix: path.subarray(0, slash) };
  }
  return undefined;
}

// One pax record, "LEN key=value\n", where LEN counts its own digits too.
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(` ${key}=`) + value.length + 1;
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length = rest + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from('\n')]);
}

// A ustar header block with Warden's fixed metadata and a valid checksum.
function headerBlock(name: Buffer, prefix: Buffer, size: number, type: '0' | 'x'): Buffer {
  const block = Buffer.alloc(BLOCK);
  name.copy(block, FIELD.name[0]);
  prefix.copy(block, FIELD.prefix[0]);
  writeOctal(block, FIELD.mode, 0o644);
  writeOctal(block, FIELD.uid, 0);
  writeOctal(block, FIELD.gid, 0);
  writeOctal(block, FIELD.size, size);
  writeOctal(block, FIELD.mtime, 0);
  writeOctal(block, FIELD.devmajor, 0);
  writeOctal(block, FIELD.devminor, 0);
  block.write(type, FIELD.type[0], 'latin1');
  block.write('ustar\x0000', FIELD.magic[0], 'latin1');
  const checksum = checksumOf(block);
  block.write(`${checksum.toString(8).padStart(6, '0')}\x00 `, FIELD.checksum[0], 'latin1');
  return block;
}

// Writes a zero-padded octal number that fills the field, NUL-terminated.
function writeOctal(block: Buffer, [at, len]: readonly [number, number], value: number): void {
  block.write(`${value.toString(8).padStart(len - 1, '0')}\x00`, at, 'latin1');
}

// The zero bytes that pad a body of `size` bytes to a whole block.
function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}
