/**
 * The folders of src/ depend on each other without cycles, and the entry
 * points stay at the top. A unit is a folder right under src/ (with its
 * sub-folders: src/cli/commands/ belongs to src/cli/); a folder holding no
 * files of its own, only sub-folders (src/govern/), is a grouping and each of
 * its sub-folders is a unit (src/govern/tenant/, src/govern/verdict/, ...);
 * a file right in src/ (errors.ts, project.ts, index.ts) is a unit by itself.
 * Every relative import counts, type-only and dynamic ones included.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** The .ts files below dir, as absolute paths. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Whether the folder src/<name> holds files of its own (not only sub-folders). */
function holdsFiles(name: string): boolean {
  return readdirSync(join(SRC, name), { withFileTypes: true }).some((e) => e.isFile());
}

/** The unit a file under src/ belongs to: `govern/tenant`, `decide`, `errors.ts`. */
function unitOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  const top = parts[0] ?? '';
  if (parts.length === 1) return top;
  if (parts.length > 2 && !holdsFiles(top)) return `${top}/${parts[1] ?? ''}`;
  return top;
}

/** Relative module specifiers of a source text: import/export ... from, side-effect and dynamic imports. */
function relativeImports(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map(
    (m) => m[1] ?? '',
  );
}

/** Unit -> unit it imports -> one file-to-file import that makes the edge (for the message). */
type Graph = Map<string, Map<string, string>>;

function unitGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of tsFiles(SRC)) {
    const from = unitOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const to = unitOf(target);
      if (to !== from && !edges.has(to)) edges.set(to, `src/${relative(SRC, file)} imports ${spec}`);
    }
  }
  return graph;
}

/** One cycle per strongly connected component of more than one unit, as a unit path back to its start. */
function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = new Set<string>();
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
      onStack.delete(w);
      component.add(w);
    }
    if (component.size > 1) found.push(pathWithin(graph, component, v));
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** A shortest path from start back to start through the component (breadth first). */
function pathWithin(graph: Graph, component: Set<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() ?? start;
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const between: string[] = [];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = previous.get(u)) between.unshift(u);
        return [start, ...between, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component];
}

function describeCycle(graph: Graph, cycle: string[]): string {
  const steps = cycle.slice(1).map((to, i) => `  ${cycle[i]} -> ${to}  (${graph.get(cycle[i] ?? '')?.get(to) ?? '?'})`);
  return [cycle.join(' -> '), ...steps].join('\n');
}

describe('src/ folder dependencies', () => {
  const graph = unitGraph();

  it('reads the imports it checks', () => {
    assert.ok(graph.has('govern/verdict') && graph.has('http') && graph.has('errors.ts'), [...graph.keys()].join(', '));
    assert.ok(graph.get('http')?.has('decide'), 'http/ imports decide/');
  });

  it('finds a cycle where there is one', () => {
    const g: Graph = new Map([
      ['a', new Map([['b', 'a imports b']])],
      ['b', new Map([['c', 'b imports c']])],
      [
        'c',
        new Map([
          ['a', 'c imports a'],
          ['d', 'c imports d'],
        ]),
      ],
      ['d', new Map<string, string>()],
    ]);
    assert.deepEqual(cycles(g), [['a', 'b', 'c', 'a']]);
  });

  it('has no cycles between folders', () => {
    const found = cycles(graph);
    assert.deepEqual(found, [], `folder cycles:\n${found.map((c) => describeCycle(graph, c)).join('\n')}`);
  });

  it('keeps the entry points at the top: nothing imports index.ts or cli/, only they import agent/', () => {
    for (const [from, edges] of graph) {
      for (const [to, why] of edges) {
        assert.ok(to !== 'index.ts' && to !== 'cli', `${from} -> ${to}: ${why}`);
        assert.ok(to !== 'agent' || from === 'cli' || from === 'index.ts', `${from} -> agent: ${why}`);
      }
    }
  });

  it('draws every folder of src/ in the map of docs/architecture.md, and no folder that is gone', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/architecture.md', import.meta.url)), 'utf8');
    const map = doc.slice(doc.indexOf('## Map of `src/`'), doc.indexOf('\n## ', doc.indexOf('## Map of `src/`') + 1));
    // Tree lines: "├── name/  …", nested ones indented under their parent.
    const drawn = new Set<string>();
    const stack: string[] = [];
    for (const line of map.split('\n')) {
      const m = /^ {4}((?:│ {3}| {4})*)[├└]── ([\w.-]+\/)/.exec(line);
      if (!m) continue;
      const depth = (m[1] ?? '').length / 4;
      stack.length = depth;
      stack.push((m[2] ?? '').replace(/\/$/, ''));
      drawn.add(stack.join('/'));
    }
    const folders = (dir: string, prefix: string): string[] =>
      readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .flatMap((e) => [`${prefix}${e.name}`, ...folders(join(dir, e.name), `${prefix}${e.name}/`)]);
    const real = folders(SRC, '').filter((f) => f !== 'cli/commands');
    assert.deepEqual([...drawn].sort(), real.sort());
  });
});
