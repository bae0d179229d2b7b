/**
 * The Dockerfile's steps, run as a script in a temp dir. No container builder works
 * here (no registry for node:/golang: base images; see README "Container image"), so
 * each stage's folder stands in for its image:
 *
 * - `COPY` (from the context or `--from=` a stage) copies into that stage's folder, `WORKDIR` is a folder in it;
 * - `RUN npm ci …` needs the registry: it is replaced by a link to this checkout's
 *   node_modules (installed from the same package-lock.json);
 * - the opa stage's `go install` needs the Go module proxy and minutes of build: its
 *   output is .tools/bin/opa, which scripts/install-tools.mjs builds from the same module,
 *   version and tag (checked below); the stage's own check of that binary then runs;
 * - `RUN` steps that need the base image (groupadd/useradd) are not run;
 * - every other `RUN` runs with `sh -ec` in the stage's WORKDIR: the TypeScript build.
 *
 * The final stage's folder is then run as the image would be: ENTRYPOINT + arguments, with its ENV.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/project.js';
import { tempDir } from '../helpers/fs.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly name: string;
  readonly steps: Instruction[];
}

// Instructions with their continuation lines joined; comments and blank lines dropped.
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))) {
    const [op = '', ...rest] = line.split(/\s+/);
    const instr = { op: op.toUpperCase(), args: rest.join(' ') };
    if (instr.op === 'FROM') {
      const m = /\s+AS\s+(\S+)$/i.exec(instr.args);
      stages.push({ name: m?.[1] ?? 'final', steps: [] });
    } else if (stages.length === 0 && instr.op === 'ARG') {
      const [k = '', v = ''] = instr.args.split('=');
      args.set(k, v);
    } else stages.at(-1)?.steps.push(instr);
  }
  return { args, stages };
}

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  config: { opaVersion: string };
};
const dockerfile = parseDockerfile(readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8'));
const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  assert.ok(s, `stage ${name}`);
  return s;
};

describe('Dockerfile', () => {
  it('builds the pinned opa with its wasm engine, as scripts/install-tools.mjs does', () => {
    const opa = stage('opa');
    assert.ok(opa.steps.some((s) => s.op === 'ARG' && s.args === `OPA_VERSION=${pkg.config.opaVersion}`));
    const install = opa.steps.find((s) => s.op === 'RUN' && s.args.includes('go install'));
    assert.match(install?.args ?? '', /-tags opa_wasm github\.com\/open-policy-agent\/opa@v\$\{OPA_VERSION\}/);
    const tools = readFileSync(join(PROJECT_ROOT, 'scripts', 'install-tools.mjs'), 'utf8');
    assert.match(tools, /module: 'github\.com\/open-policy-agent\/opa',\s*tags: \['-tags', 'opa_wasm'\]/);
  });

  it('runs its build steps in a temp dir, the assembled image runs warden and the pinned opa; USER 10001, data on a volume', () => {
    const root = tempDir('warden-image-');
    const env: Record<string, string> = { OPA_VERSION: pkg.config.opaVersion };
    const folders = new Map<string, string>();
    const skipped: string[] = [];
    for (const s of dockerfile.stages) {
      const dir = join(root, s.name);
      folders.set(s.name, dir);
      let workdir = dir;
      if (s.name === 'opa') {
        mkdirSync(join(dir, 'out'), { recursive: true });
        cpSync(join(PROJECT_ROOT, '.tools', 'bin', 'opa'), join(dir, 'out', 'opa'));
      }
      for (const step of s.steps) {
        if (step.op === 'WORKDIR') {
          workdir = join(dir, step.args);
          mkdirSync(workdir, { recursive: true });
        } else if (step.op === 'ENV') {
          for (const m of step.args.matchAll(/(\w+)=(\S+)/g)) env[m[1] ?? ''] = m[2] ?? '';
        } else if (step.op === 'COPY') {
          const parts = step.args.split(/\s+/);
          const from = parts[0]?.startsWith('--from=') ? parts.shift()?.slice('--from='.length) : undefined;
          const dest = parts.pop() ?? '';
          const target = dest.startsWith('/') ? join(dir, dest) : join(workdir, dest);
          for (const src of parts) {
            const origin = from === undefined ? join(PROJECT_ROOT, src) : join(folders.get(from) ?? '', src);
            const to = dest.endsWith('/') ? join(target, basename(src)) : target;
            mkdirSync(join(to, '..'), { recursive: true });
            cpSync(origin, to, { recursive: true, verbatimSymlinks: true });
          }
        } else if (step.op === 'RUN') {
          if (/^npm ci\b/.test(step.args))
            symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(workdir, 'node_modules'));
          else if (/go install/.test(step.args) || /\b(groupadd|useradd)\b/.test(step.args)) skipped.push(step.args);
          else {
            const script = step.args.replaceAll('/out/', `${join(dir, 'out')}/`);
            const res = spawnSync('sh', ['-ec', script], {
              cwd: workdir,
              env: { ...process.env, ...env },
              encoding: 'utf8',
            });
            assert.equal(res.status, 0, `${s.name}: RUN ${step.args}\n${res.stdout}${res.stderr}`);
          }
        }
      }
    }
    assert.equal(skipped.length, 2, skipped.join('\n'));

    const final = stage('final');
    const user = final.steps.find((s) => s.op === 'USER')?.args;
    assert.equal(user, '10001:10001');
    assert.ok(final.steps.some((s) => s.op === 'VOLUME' && s.args.includes('/var/lib/warden')));
    const entrypoint = JSON.parse(final.steps.find((s) => s.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    const cmd = JSON.parse(final.steps.find((s) => s.op === 'CMD')?.args ?? '[]') as string[];
    assert.deepEqual(cmd, ['agent', '--config', '/etc/warden/config.yaml']);
    const image = folders.get('final') ?? '';
    // ENTRYPOINT ["node", "/app/bin/warden.js"], paths inside the image folder; ENV as the image sets it.
    const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(process.execPath, [join(image, entrypoint[1] ?? ''), ...args], {
        env: { ...process.env, ...env, WARDEN_OPA: join(image, env.WARDEN_OPA ?? '') },
        encoding: 'utf8',
      });
    const version = run('--version');
    assert.equal(version.stdout.trim(), pkg.version, version.stderr);
    const check = run('config', 'check', join(PROJECT_ROOT, 'deploy', 'kubernetes', 'sidecar', 'warden.yaml'));
    assert.equal(check.status, 0, check.stderr);
    const opa = spawnSync(join(image, 'usr', 'local', 'bin', 'opa'), ['version'], { encoding: 'utf8' });
    assert.match(opa.stdout, new RegExp(`^Version: ${pkg.config.opaVersion.replaceAll('.', '\\.')}$`, 'm'));
  });
});
