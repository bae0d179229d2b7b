/**
 * The wasm entrypoints a pack is compiled with besides its declared ones, so
 * that the embedded engine can answer any path of OPA's data API: every
 * package of the pack's Rego and each of its parent packages (`a/b/c` gives
 * `a`, `a/b`, `a/b/c`), and the data root (the empty entrypoint, which opa
 * compiles as the whole `data` document: every package and every base
 * document of data.json). Evaluating a package entrypoint gives the package
 * object as OPA does (its rules' values, its base documents, its subpackages;
 * undefined rules and functions left out).
 *
 * The pack's manifest still lists only the declared entrypoints: these extra
 * ones are the engine's entrypoints that the manifest does not name.
 */

/** The data root's entrypoint: the whole data document. */
export const ROOT_ENTRYPOINT = '';

// The first `package` line of a module (a quoted segment ends the match: its parent still covers it).
const PACKAGE_LINE = /^\s*package\s+([A-Za-z_][\w.]*)/m;

/** The package and root entrypoints of these modules that are not declared, sorted (the root first). */
export function pathEntrypoints(modules: Iterable<Buffer>, declared: readonly string[]): string[] {
  const out = new Set<string>([ROOT_ENTRYPOINT]);
  for (const src of modules) {
    const pkg = PACKAGE_LINE.exec(src.toString('utf8'))?.[1]?.replace(/^data\./, '');
    if (!pkg || pkg === 'data') continue;
    const parts = pkg.split('.').filter((p) => p !== '');
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('/'));
  }
  for (const d of declared) out.delete(d);
  return [...out].sort();
}
