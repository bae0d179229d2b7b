/**
 * Rewrites a policy.wasm so that the memory it imports (`env.memory`) is a shared
 * one: in the import section, that import's limits become `shared` (flag 0x03)
 * with a maximum. A shared WebAssembly.Memory can then be handed to another
 * thread (structured clone shares it, it is not copied), which is how an engine
 * prepared on the preparer thread is adopted by the agent's thread (workers/preparer.ts).
 *
 * Only the import section changes; every other section is copied byte for byte.
 * Anything unexpected is refused with PACK_MANIFEST_INVALID rather than guessed
 * at: a module that is not wasm version 1, a truncated section, no imported
 * memory, a memory it defines itself, more than one memory, a 64-bit memory.
 */
import { WardenError } from '../errors.js';

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const VERSION = [0x01, 0x00, 0x00, 0x00];
const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const KIND_FUNC = 0;
const KIND_TABLE = 1;
const KIND_MEMORY = 2;
const KIND_GLOBAL = 3;
const KIND_TAG = 4;
const LIMITS_MIN = 0x00;
const LIMITS_MIN_MAX = 0x01;
const LIMITS_SHARED = 0x03;
/** The most pages a 32-bit memory may have. */
export const WASM_MAX_PAGES = 65_536;

function refuse(message: string): never {
  throw new WardenError('PACK_MANIFEST_INVALID', `policy.wasm cannot take a shared memory: ${message}`);
}

/** A cursor over the module's bytes that refuses to read past `end`. */
class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
    readonly end: number,
  ) {}

  byte(): number {
    if (this.at >= this.end) refuse(`truncated at byte ${this.at}`);
    return this.bytes[this.at++] as number;
  }

  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffff_ffff) refuse(`a LEB128 number over 32 bits at byte ${this.at}`);
        return result;
      }
    }
    return refuse(`a LEB128 number longer than 5 bytes at byte ${this.at}`);
  }

  skip(n: number): void {
    if (this.at + n > this.end) refuse(`truncated at byte ${this.at}`);
    this.at += n;
  }

  name(): string {
    const n = this.u32();
    const start = this.at;
    this.skip(n);
    return Buffer.from(this.bytes.subarray(start, this.at)).toString('utf8');
  }

  /** A limits record (min, optional max); refuses shared or 64-bit ones, which an OPA module never declares. */
  limits(): { min: number; max: number | undefined } {
    const flag = this.byte();
    if (flag !== LIMITS_MIN && flag !== LIMITS_MIN_MAX) refuse(`unexpected limits flag 0x${flag.toString(16)}`);
    const min = this.u32();
    return { min, max: flag === LIMITS_MIN_MAX ? this.u32() : undefined };
  }
}

/** Unsigned LEB128. */
export function uleb128(n: number): number[] {
  const out: number[] = [];
  let rest = n;
  do {
    let b = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) b |= 0x80;
    out.push(b);
  } while (rest > 0);
  return out;
}

/**
 * The module with its imported memory declared shared, of at most `maxPages` pages (at
 * least the import's minimum; at most its own declared maximum, if it has one).
 */
export function shareImportedMemory(wasm: Uint8Array, maxPages: number): Uint8Array {
  if (wasm.byteLength < 8 || MAGIC.some((b, i) => wasm[i] !== b)) refuse('not a WebAssembly module');
  if (VERSION.some((b, i) => wasm[4 + i] !== b)) refuse('not WebAssembly binary version 1');
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  const r = new Reader(wasm, 8, wasm.byteLength);
  let patched = false;
  while (r.at < wasm.byteLength) {
    const start = r.at;
    const id = r.byte();
    const size = r.u32();
    const body = r.at;
    r.skip(size);
    if (id === SECTION_MEMORY) refuse('the module defines its own memory');
    if (id !== SECTION_IMPORT) {
      parts.push(wasm.subarray(start, r.at));
      continue;
    }
    const section = patchImports(new Reader(wasm, body, body + size), maxPages);
    parts.push(Uint8Array.of(SECTION_IMPORT, ...uleb128(section.byteLength)), section);
    patched = true;
  }
  if (!patched) refuse('the module imports nothing (no env.memory)');
  return Buffer.concat(parts);
}

// The import section's body with the memory import's limits replaced.
function patchImports(r: Reader, maxPages: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let from = r.at;
  const count = r.u32();
  let memories = 0;
  for (let i = 0; i < count; i++) {
    const module = r.name();
    const field = r.name();
    const kind = r.byte();
    if (kind === KIND_FUNC) r.u32();
    else if (kind === KIND_TABLE) {
      r.byte();
      r.limits();
    } else if (kind === KIND_GLOBAL) r.skip(2);
    else if (kind === KIND_TAG) {
      r.byte();
      r.u32();
    } else if (kind === KIND_MEMORY) {
      memories++;
      if (module !== 'env' || field !== 'memory') refuse(`it imports its memory as ${module}.${field}, not env.memory`);
      const limitsAt = r.at;
      const { min, max } = r.limits();
      const top = Math.min(maxPages, max ?? WASM_MAX_PAGES, WASM_MAX_PAGES);
      if (top < min) refuse(`its memory needs ${min} pages, more than the ${top} allowed`);
      parts.push(r.bytes.subarray(from, limitsAt), Uint8Array.of(LIMITS_SHARED, ...uleb128(min), ...uleb128(top)));
      from = r.at;
    } else refuse(`unknown import kind ${kind}`);
  }
  if (r.at !== r.end) refuse('the import section has trailing bytes');
  if (memories !== 1) refuse(memories === 0 ? 'it does not import env.memory' : 'it imports more than one memory');
  parts.push(r.bytes.subarray(from, r.end));
  return Buffer.concat(parts);
}
