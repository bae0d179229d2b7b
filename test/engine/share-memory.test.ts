/**
 * share-memory.ts on a real policy.wasm (the authz example, built with the real opa):
 * the patched module imports a shared memory of the given maximum, V8 accepts it and it
 * answers like the original; everything else in the module is byte for byte the same;
 * malformed and unexpected modules are refused with PACK_MANIFEST_INVALID.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadWasmEngine } from '../../src/engine/wasm.js';
import { shareImportedMemory, uleb128, WASM_MAX_PAGES } from '../../src/engine/share-memory.js';
import { buildPack } from '../../src/pack/build.js';
import { isWardenError, messageOf } from '../../src/errors.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
// The parts of the WebAssembly global used here (the project's TypeScript libs do not declare it).
interface WasmApi {
  Module: { imports(module: object): Array<{ module: string; name: string; kind: string }> };
  compile(bytes: Uint8Array): Promise<object>;
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => {
    buffer: ArrayBuffer | SharedArrayBuffer;
  };
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

// A section: id, size, body.
function section(id: number, body: number[]): number[] {
  return [id, ...uleb128(body.length), ...body];
}
function name(s: string): number[] {
  const b = [...Buffer.from(s)];
  return [...uleb128(b.length), ...b];
}
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
// A module whose only import is env.memory with the given limits bytes.
function memoryImport(limits: number[], module = 'env', field = 'memory'): Uint8Array {
  return Uint8Array.from([...HEADER, ...section(2, [1, ...name(module), ...name(field), 2, ...limits])]);
}
function refused(bytes: Uint8Array, message: RegExp, maxPages = 65_535): void {
  assert.throws(
    () => shareImportedMemory(bytes, maxPages),
    (err: unknown) => isWardenError(err, 'PACK_MANIFEST_INVALID') && message.test(messageOf(err)),
  );
}

describe('shareImportedMemory', () => {
  let wasm: Uint8Array;
  before(async () => {
    const pack = await buildPack({ dir: join(EXAMPLES, 'authz'), sequence: 1 });
    const bytes = pack.files.get('policy.wasm');
    assert.ok(bytes);
    wasm = bytes;
  });

  it('makes the real module import a shared memory that V8 accepts', async () => {
    const before = WA.Module.imports(await WA.compile(wasm)).find((i) => i.kind === 'memory');
    assert.deepEqual(before, { module: 'env', name: 'memory', kind: 'memory' });
    const patched = shareImportedMemory(wasm, 65_535);
    const module = await WA.compile(patched);
    const memory = new WA.Memory({ initial: 10, maximum: 65_535, shared: true });
    assert.ok(memory.buffer instanceof SharedArrayBuffer);
    const noop = (): number => 0;
    const env = {
      memory,
      opa_abort: noop,
      opa_println: noop,
      opa_builtin0: noop,
      opa_builtin1: noop,
      opa_builtin2: noop,
      opa_builtin3: noop,
      opa_builtin4: noop,
    };
    const instance = new WA.Instance(module, { env });
    assert.equal(typeof instance.exports.opa_eval, 'function');
    // An unshared memory no longer fits the import.
    assert.throws(() => new WA.Instance(module, { env: { ...env, memory: new WA.Memory({ initial: 10 }) } }));
  });

  it('changes only the memory limits: every other byte is the same', () => {
    const patched = shareImportedMemory(wasm, 65_535);
    // The original import is min only (flag 0, min 2: two bytes); the patched one is flag 3, min, max 65535 (3 bytes).
    assert.equal(patched.byteLength - wasm.byteLength, 4);
    assert.equal(shareImportedMemory(wasm, 100).byteLength - wasm.byteLength, 1);
    assert.deepEqual(Buffer.from(patched.subarray(-1000)), Buffer.from(wasm.subarray(-1000)));
  });

  it('answers like the unpatched module (through the shared load)', async () => {
    const { loadSharedWasmEngine } = await import('../../src/engine/wasm.js');
    const data = new TextEncoder().encode('{}');
    const plain = await loadWasmEngine(wasm, data);
    const { engine: shared } = await loadSharedWasmEngine(wasm, data);
    assert.deepEqual(shared.entrypoints, plain.entrypoints);
    for (const input of [undefined, '{}', '{"user":"alice"}', '[1,2]']) {
      for (const e of plain.entrypoints) assert.equal(shared.evaluateJson(e, input), plain.evaluateJson(e, input));
    }
  });

  it('keeps a declared maximum that is lower, and refuses one below the minimum', () => {
    const out = shareImportedMemory(memoryImport([1, 2, 8]), 65_535);
    assert.deepEqual([...out.subarray(-3)], [3, 2, 8]);
    const big = shareImportedMemory(memoryImport([0, 2]), WASM_MAX_PAGES);
    assert.deepEqual([...big.subarray(-5)], [3, 2, ...uleb128(65_536)]);
    refused(memoryImport([0, 20]), /needs 20 pages, more than the 10 allowed/, 10);
    refused(memoryImport([1, 20, 8]), /needs 20 pages, more than the 8 allowed/);
  });

  it('refuses malformed and unexpected modules with a clear error', () => {
    refused(Uint8Array.from([1, 2, 3]), /not a WebAssembly module/);
    refused(Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x02, 0, 0, 0]), /not WebAssembly binary version 1/);
    refused(Uint8Array.from(HEADER), /imports nothing/);
    // A section claiming more bytes than there are.
    refused(Uint8Array.from([...HEADER, 2, 50, 1]), /truncated/);
    // A LEB128 that never ends.
    refused(Uint8Array.from([...HEADER, 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), /LEB128/);
    // A module that defines its own memory.
    refused(Uint8Array.from([...HEADER, ...section(5, [1, 0, 1])]), /defines its own memory/);
    refused(memoryImport([0, 2], 'env', 'mem'), /imports its memory as env\.mem/);
    refused(memoryImport([3, 2, 8]), /unexpected limits flag 0x3/);
    refused(memoryImport([4, 2]), /unexpected limits flag 0x4/);
    // Only a function import: no memory.
    refused(
      Uint8Array.from([...HEADER, ...section(2, [1, ...name('env'), ...name('f'), 0, 0])]),
      /does not import env\.memory/,
    );
    // Two memories.
    refused(
      Uint8Array.from([
        ...HEADER,
        ...section(2, [2, ...name('env'), ...name('memory'), 2, 0, 1, ...name('env'), ...name('memory'), 2, 0, 1]),
      ]),
      /more than one memory/,
    );
    refused(Uint8Array.from([...HEADER, ...section(2, [1, ...name('env'), ...name('x'), 9])]), /unknown import kind 9/);
    refused(Uint8Array.from([...HEADER, ...section(2, [0, 7])]), /trailing bytes/);
  });
});
