/**
 * A streaming tar parser. Fed the inflated stream chunk by chunk, it checks
 * each header the moment it is complete (type, path, count, size) so that a
 * hostile entry is refused before any of its body is read, and keeps only the
 * current file's body in flight. Reads ustar, pax ('x'; 'g' is ignored) and
 * GNU long names ('L'); accepts regular files and directories only.
 */
import { WardenError } from '../errors.js';
import { OPTION_LIMIT_KEYS, overLimit, type LimitKeys, type PackLimits } from './limits.js';
import {
  BLOCK,
  PathClaims,
  normalisePackPath,
  parseHeader,
  parsePax,
  quote,
  type PaxOverrides,
  type TarHeader,
} from './tar-header.js';

// Pax and long-name bodies above this are refused: real ones are well under 1 KiB.
const MAX_META_BYTES = 64 * 1024;
const ZEROS = Buffer.alloc(64 * 1024);
const ZERO_BLOCK = ZEROS.subarray(0, BLOCK);

const REFUSED_TYPES: Readonly<Record<string, string>> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  K: 'a GNU long link name',
  S: 'a GNU sparse file',
};

// Where the body being read goes once complete.
type Sink = { kind: 'file'; path: string } | { kind: 'pax' } | { kind: 'long-name' } | { kind: 'skip' };

/** Incremental tar parser: call `write` with each chunk in order, then `end` for the files. */
export class TarReader {
  readonly #limits: PackLimits;
  readonly #files = new Map<string, Buffer>();
  readonly #claims = new PathClaims();
  readonly #header = Buffer.alloc(BLOCK);
  #headerFill = 0;
  #sink: Sink = { kind: 'skip' };
  #body: Buffer | undefined; // the current body, allocated at its declared (already checked) size
  #bodyFill = 0;
  #bodyLeft = 0;
  #paddingLeft = 0;
  #pax: PaxOverrides = {};
  #longName: string | undefined;
  #metaPending = false; // a pax or long-name header awaits its entry
  #entries = 0;
  #zeroBlocks = 0;

  readonly #rootSlash: boolean;
  readonly #keys: LimitKeys;

  /**
   * `limits` must already be resolved (see resolveLimits). `rootSlash` accepts the
   * leading "/" that `opa build` writes on every path; only for opa's own output.
   * `keys` names where the limits were set, for refusals (default: the PackLimits names).
   */
  constructor(limits: PackLimits, options: { rootSlash?: boolean; keys?: LimitKeys } = {}) {
    this.#limits = limits;
    this.#rootSlash = options.rootSlash === true;
    this.#keys = options.keys ?? OPTION_LIMIT_KEYS;
  }

  /** Parses the next chunk of the tar stream; throws a WardenError at the first refusal. */
  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#zeroBlocks === 2) return refuseNonZero(chunk.subarray(at));
      if (this.#bodyLeft > 0) {
        at = this.#readBody(chunk, at);
      } else if (this.#paddingLeft > 0) {
        const n = Math.min(this.#paddingLeft, chunk.length - at);
        this.#paddingLeft -= n;
        at += n;
      } else {
        at = this.#readHeader(chunk, at);
      }
    }
  }

  /** Checks that the archive ended with its end-of-archive marker and returns its files, path → content. */
  end(): Map<string, Buffer> {
    if (this.#zeroBlocks < 2) {
      throw new WardenError('PACK_MALFORMED', 'the tar archive is truncated (no end-of-archive marker)', {
        details: { entries: this.#entries },
      });
    }
    return this.#files;
  }

  // Copies header bytes from `chunk` and handles the block once it is whole; returns the new offset.
  #readHeader(chunk: Buffer, at: number): number {
    const n = Math.min(BLOCK - this.#headerFill, chunk.length - at);
    chunk.copy(this.#header, this.#headerFill, at, at + n);
    this.#headerFill += n;
    if (this.#headerFill === BLOCK) {
      this.#headerFill = 0;
      this.#onBlock(this.#header);
    }
    return at + n;
  }

  // Counts end-of-archive zero blocks, or parses and dispatches a header.
  #onBlock(block: Buffer): void {
    if (block.equals(ZERO_BLOCK)) {
      if (this.#metaPending) {
        throw new WardenError('PACK_MALFORMED', 'a pax or long-name header is not followed by an entry');
      }
      this.#zeroBlocks += 1;
      return;
    }
    if (this.#zeroBlocks > 0) throw new WardenError('PACK_MALFORMED', 'a tar header follows a lone zero block');
    const header = parseHeader(block);
    if (header.type === 'x' || header.type === 'L') {
      if (header.size > MAX_META_BYTES) {
        throw new WardenError(
          'PACK_MALFORMED',
          `a ${header.type} header body of ${header.size} bytes is over ${MAX_META_BYTES}`,
        );
      }
      this.#startBody(header.size, header.type === 'x' ? { kind: 'pax' } : { kind: 'long-name' });
    } else if (header.type === 'g') {
      this.#startBody(header.size, { kind: 'skip' });
    } else {
      this.#onEntry(header);
    }
  }

  // Applies pending overrides to an entry header and checks it against the type, path and limit rules.
  #onEntry(header: TarHeader): void {
    const raw = this.#pax.path ?? this.#longName ?? header.name;
    const size = this.#pax.size ?? header.size;
    this.#pax = {};
    this.#longName = undefined;
    this.#metaPending = false;
    const isDirectory = header.type === '5';
    if (!isDirectory && header.type !== '0' && header.type !== '\0') {
      const what = REFUSED_TYPES[header.type] ?? `an entry of unknown type ${JSON.stringify(header.type)}`;
      throw new WardenError('PACK_UNSAFE_ENTRY', `pack entry ${quote(raw)} is ${what}`, {
        details: { path: raw, type: header.type },
      });
    }
    this.#entries += 1;
    if (this.#entries > this.#limits.maxFiles) {
      throw overLimit('PACK_TOO_MANY_FILES', 'the pack holds', {
        limit: 'maxFiles',
        value: this.#limits.maxFiles,
        actual: this.#entries,
        atLeast: true,
        keys: this.#keys,
      });
    }
    const unrooted = this.#rootSlash && raw.startsWith('/') && raw !== '/' ? raw.slice(1) : raw;
    const path = normalisePackPath(unrooted, isDirectory, this.#limits.maxPathLength);
    this.#claims.claim(path, isDirectory);
    if (isDirectory) {
      // Directory bodies are ignored by some tools and read by others: refuse the ambiguity.
      if (size !== 0)
        throw new WardenError('PACK_MALFORMED', `directory ${quote(path)} declares ${size} bytes of content`);
      return;
    }
    if (size > this.#limits.maxFileBytes) {
      throw overLimit('PACK_FILE_TOO_LARGE', `pack file ${quote(path)} is`, {
        limit: 'maxFileBytes',
        value: this.#limits.maxFileBytes,
        actual: size,
        keys: this.#keys,
        details: { path, size },
      });
    }
    this.#startBody(size, { kind: 'file', path });
  }

  // Prepares to read a body of `size` bytes (plus padding to the block size) into `sink`.
  #startBody(size: number, sink: Sink): void {
    this.#sink = sink;
    this.#body = sink.kind === 'skip' ? undefined : Buffer.alloc(size);
    this.#bodyFill = 0;
    this.#bodyLeft = size;
    this.#paddingLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.#finishBody();
  }

  // Copies body bytes from `chunk`, finishing the body when complete; returns the new offset.
  #readBody(chunk: Buffer, at: number): number {
    const n = Math.min(this.#bodyLeft, chunk.length - at);
    if (this.#body !== undefined) chunk.copy(this.#body, this.#bodyFill, at, at + n);
    this.#bodyFill += n;
    this.#bodyLeft -= n;
    if (this.#bodyLeft === 0) this.#finishBody();
    return at + n;
  }

  // Hands a complete body to its sink.
  #finishBody(): void {
    const body = this.#body ?? Buffer.alloc(0);
    this.#body = undefined;
    const sink = this.#sink;
    this.#metaPending ||= sink.kind === 'pax' || sink.kind === 'long-name';
    if (sink.kind === 'file') this.#files.set(sink.path, body);
    else if (sink.kind === 'pax') parsePax(body, this.#pax);
    else if (sink.kind === 'long-name') this.#longName = readLongName(body);
  }
}

// A GNU long name is a C string: it ends at the first NUL, as GNU tar reads it.
function readLongName(body: Buffer): string {
  const nul = body.indexOf(0);
  return body.toString('utf8', 0, nul < 0 ? body.length : nul);
}

// Refuses anything but zero bytes after the end-of-archive marker.
function refuseNonZero(rest: Buffer): void {
  for (let at = 0; at < rest.length; at += ZEROS.length) {
    const piece = rest.subarray(at, at + ZEROS.length);
    if (!piece.equals(ZEROS.subarray(0, piece.length))) {
      throw new WardenError('PACK_MALFORMED', 'non-zero data follows the tar end-of-archive marker');
    }
  }
}
