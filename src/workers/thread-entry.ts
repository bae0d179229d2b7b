/**
 * Where a worker thread's entry module is: the built .js beside the caller when
 * Warden runs from dist/, else the .ts source loaded through tsx (its tests and
 * benches). A worker does not inherit the parent's --import tsx hooks on Node 20,
 * so a one-line module imports the source through tsx's API.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The entry of the worker whose module is `stem`.js / `stem`.ts beside `base` (the caller's import.meta.url). */
export function threadEntry(stem: string, base: string): URL {
  const built = new URL(`./${stem}.js`, base);
  return existsSync(fileURLToPath(built)) ? built : throughTsx(new URL(`./${stem}.ts`, base));
}

function throughTsx(source: URL): URL {
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import { tsImport } from ${JSON.stringify(api)}; await tsImport(${JSON.stringify(source.href)}, ${JSON.stringify(source.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}
