/**
 * The repository explains itself: no file cites a document a clone does not have.
 * Scans the tracked text files of src, test, bench, docs, scripts, load, deploy,
 * examples and README.md for (a) citations of outside design documents (numbered
 * spec or style sections, lettered requirement sections, paths into a sibling
 * `shared` folder or a `requirements/` folder), (b) relative markdown links whose
 * file (or, for a markdown file, heading anchor) does not exist, and (c) mentions
 * of a `*.md` file that is nowhere in the repository. A reference belongs in
 * docs/ (docs/design.md for the design), never outside the clone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/project.js';
import { anchorsOf } from '../helpers/markdown.js';

/** This file: its patterns and self-check name what they catch. */
const SELF = 'test/docs/references.test.ts';

const SCANNED = ['src', 'test', 'bench', 'docs', 'scripts', 'load', 'deploy', 'examples', 'README.md'];

/** Folders never scanned when git cannot list the tracked files. */
const UNTRACKED = new Set(['node_modules', '.tools', 'dist', 'results', '.scratch', '.git']);

/** Citations of documents outside the repository; each with what it catches. */
const OUTSIDE_REFERENCES: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /\bSPEC(?:\.md)? ?§? ?\d/, what: 'a numbered spec section' },
  { pattern: /\bSPEC\s§/, what: 'a spec section' },
  { pattern: /\bSTYLE(?:\.md)? ?§? ?\d/, what: 'a numbered style-guide section' },
  { pattern: /\b(?:SPEC|STYLE)\.md\b/, what: 'an outside spec or style guide' },
  { pattern: /\b[Rr]equirements? \(?[A-F](?:\.\d+)?\b(?![a-z])/, what: 'a lettered requirements section' },
  { pattern: /\b[Rr]equirement (?:documents?|docs?)\b/, what: 'an outside requirement document' },
  { pattern: /\b[a-z]+-[a-z-]+ requirements?\b/, what: 'a named outside requirement document' },
  { pattern: /\b[a-z]+-[a-z-]+ \(?[A-F]\.\d+\b/, what: 'a section of a named outside document' },
  { pattern: /(?:^|[\s`'"(])requirements\/[\w-]+/, what: 'a path into an outside requirements folder' },
  { pattern: /\.\.\/shared\b|\/work\/shared\b/, what: 'a path into an outside shared folder' },
];

/** Tracked files under the scanned paths (every file when git is not there). */
function scannedFiles(): string[] {
  const git = spawnSync('git', ['ls-files', '-z', '--', ...SCANNED], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  if (git.status === 0 && git.stdout.length > 0)
    return git.stdout.split('\0').filter((f) => f && existsSync(join(PROJECT_ROOT, f)));
  const walk = (path: string): string[] => {
    const abs = join(PROJECT_ROOT, path);
    if (!existsSync(abs)) return [];
    if (!statSync(abs).isDirectory()) return [path];
    return readdirSync(abs)
      .filter((n) => !UNTRACKED.has(n))
      .flatMap((n) => walk(join(path, n)));
  };
  return SCANNED.flatMap(walk);
}

/** The file's text, or undefined for a binary file. */
function textOf(path: string): string | undefined {
  const bytes = readFileSync(join(PROJECT_ROOT, path));
  return bytes.includes(0) ? undefined : bytes.toString('utf8');
}

const files = scannedFiles();
const texts = new Map(
  files.flatMap((f) => {
    const t = textOf(f);
    return t === undefined ? [] : [[f, t] as const];
  }),
);
const allTracked = (() => {
  const git = spawnSync('git', ['ls-files', '-z'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  return git.status === 0 ? git.stdout.split('\0').filter(Boolean) : files;
})();
const basenames = new Set(allTracked.map((f) => basename(f)));

/** Line number (1-based) of an offset in a text. */
const lineOf = (text: string, offset: number): number => text.slice(0, offset).split('\n').length;

/** Problems with one relative link target from `from`: a missing file or anchor. */
function checkTarget(from: string, target: string): string | undefined {
  const [pathPart = '', anchor] = target.split('#', 2);
  const path = decodeURIComponent(pathPart.split('?')[0] ?? '');
  const resolved = path === '' ? from : normalize(join(dirname(from), path));
  if (!existsSync(join(PROJECT_ROOT, resolved))) return `links to ${target}: no file ${resolved}`;
  if (anchor && resolved.endsWith('.md') && statSync(join(PROJECT_ROOT, resolved)).isFile()) {
    const anchors = anchorsOf(readFileSync(join(PROJECT_ROOT, resolved), 'utf8'));
    if (!anchors.has(anchor)) return `links to ${target}: ${resolved} has no heading #${anchor}`;
  }
  return undefined;
}

/** Every relative markdown link `[text](target)` of a markdown file that does not resolve. */
function brokenLinks(path: string, text: string): string[] {
  const problems: string[] = [];
  const prose = text.replace(/^```[\s\S]*?^```/gm, (block) => block.replace(/[^\n]/g, ' '));
  for (const m of prose.matchAll(/\[[^\]\n]*\]\(([^)\s]+)(?: "[^"]*")?\)/g)) {
    const target = m[1] ?? '';
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto: …
    const problem = checkTarget(path, target);
    if (problem) problems.push(`${path}:${lineOf(text, m.index)}: ${problem}`);
  }
  return problems;
}

/** Mentions of a `*.md` file (docs/x.md, ../x.md, x.md) that no file of the repository is. */
function missingMarkdownMentions(path: string, text: string): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(/(?<![\w/.<>*{}$-])((?:\.\.?\/)*(?:[\w.-]+\/)*[\w.-]+\.md)\b/g)) {
    const mention = m[1] ?? '';
    if (mention.includes('/')) {
      const fromRoot = normalize(mention);
      const fromFile = normalize(join(dirname(path), mention));
      if (existsSync(join(PROJECT_ROOT, fromRoot)) || existsSync(join(PROJECT_ROOT, fromFile))) continue;
      if (allTracked.includes(fromRoot) || allTracked.includes(fromFile)) continue;
      problems.push(`${path}:${lineOf(text, m.index)}: mentions ${mention}, which is not in the repository`);
    } else if (!basenames.has(mention)) {
      problems.push(`${path}:${lineOf(text, m.index)}: mentions ${mention}, which is not in the repository`);
    }
  }
  return problems;
}

/** Every citation of an outside document in a text. */
function outsideReferences(path: string, text: string): string[] {
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const { pattern, what } of OUTSIDE_REFERENCES) {
      const m = pattern.exec(line);
      if (m) problems.push(`${path}:${i + 1}: "${m[0].trim()}" cites ${what}; say it here or point at docs/`);
    }
  });
  return problems;
}

/** Files whose mentions name generated outputs (written by a run, never tracked). */
const GENERATED = new Set(['load/results/summary.md', 'bench/results/summary.md']);

describe('references (the repository explains itself)', () => {
  it('scans the tracked text files', () => {
    assert.ok(texts.has('README.md'), 'README.md is scanned');
    assert.ok(
      [...texts.keys()].some((f) => f.startsWith('src/')),
      'src/ is scanned',
    );
    assert.ok(
      [...texts.keys()].some((f) => f.startsWith('docs/')),
      'docs/ is scanned',
    );
  });

  it('cites no document outside the repository', () => {
    const problems = [...texts]
      .filter(([path]) => path !== SELF)
      .flatMap(([path, text]) => outsideReferences(path, text));
    assert.deepEqual(problems, []);
  });

  it('links only to files and headings that exist', () => {
    const problems = [...texts]
      .filter(([path]) => path.endsWith('.md'))
      .flatMap(([path, text]) => brokenLinks(path, text));
    assert.deepEqual(problems, []);
  });

  it('mentions only markdown files that exist', () => {
    const problems = [...texts]
      .filter(([path]) => path !== SELF)
      .flatMap(([path, text]) => missingMarkdownMentions(path, text))
      .filter(
        (p) =>
          ![...GENERATED].some(
            (g) => p.includes(`mentions ${g}`) || p.endsWith(`mentions ${basename(g)}, which is not in the repository`),
          ),
      );
    assert.deepEqual(problems, []);
  });

  it('names only source files and folders that exist (docs and README follow the code when it moves)', () => {
    const problems = [...texts]
      .filter(([path]) => path.endsWith('.md'))
      .flatMap(([path, text]) =>
        [...text.matchAll(/(?<![\w/.-])(src|test|bench)\/[\w./-]*[\w-](?:\.ts)?\/?/g)]
          .filter((m) => !m[0].startsWith('bench/results/') && !existsSync(join(PROJECT_ROOT, m[0]))) // results are written by runs
          .map((m) => `${path}:${lineOf(text, m.index)}: names ${m[0]}, which is not in the repository`),
      );
    assert.deepEqual(problems, []);
  });

  it('catches an outside citation, a broken link and a missing document (self-check)', () => {
    // Spelled in pieces so a plain `git grep` for outside citations stays silent on this file.
    const [SPEC, STYLE, REQS, SHARED] = ['SP' + 'EC', 'STY' + 'LE', 'require' + 'ments', 'sha' + 'red'];
    assert.equal(outsideReferences('x.ts', `// the store (${SPEC} 7)`).length, 1);
    assert.ok(outsideReferences('x.ts', `// hostile input (${STYLE}.md §8)`).length > 0);
    assert.equal(outsideReferences('x.ts', `// corrupt policy (${REQS} B.2)`).length, 1);
    assert.equal(outsideReferences('x.md', 'the runtime-governance requirements ask').length, 1);
    assert.equal(outsideReferences('x.md', `see ../${SHARED}/notes`).length, 1);
    assert.equal(outsideReferences('x.yml', '# (runtime-governance B.5: alert at once)').length, 1);
    assert.deepEqual(outsideReferences('x.ts', 'throw codedError("PACK_SPEC_INVALID")'), []);
    assert.deepEqual(outsideReferences('x.md', 'the requirements are met'), []);
    assert.equal(brokenLinks('docs/x.md', '[gone](nowhere.md)').length, 1);
    assert.equal(brokenLinks('docs/x.md', '[bad anchor](errors.md#no-such-heading-anywhere)').length, 1);
    assert.deepEqual(brokenLinks('docs/x.md', '[ok](errors.md) [web](https://example.com/a.md)'), []);
    assert.equal(missingMarkdownMentions('src/x.ts', '// see docs/nowhere.md').length, 1);
    assert.deepEqual(missingMarkdownMentions('src/x.ts', '// see docs/errors.md'), []);
  });
});
