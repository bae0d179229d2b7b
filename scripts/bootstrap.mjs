#!/usr/bin/env node
// Makes a fresh checkout runnable: npm packages, the compiled CLI, the pinned opa
// (and, with --test, the pinned cosign the signature-interop tests use, the registry and
// oras the OCI source tests run against, the pinned MinIO the s3 source's tests run
// against (its first build takes several minutes), and Debian's redis-server the
// revocation tests start).
// Each step is skipped when its output is already up to date, so it is cheap to call
// before every `npm start` / `npm test`.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// Runs a command in the project folder; exits with its status on failure.
function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (res.status !== 0) {
    console.error(`bootstrap: \`${cmd} ${args.join(' ')}\` failed`);
    process.exit(res.status ?? 1);
  }
}

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(join(root, 'package-lock.json')) > mtime(installed)) {
  // --ignore-scripts: no dependency needs an install script (esbuild's is an optional check).
  run(npm, ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
}
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
// promtool (for test/observe/alerts.test.ts) is not in the --test list: its Go build takes
// 5–7 minutes on a fresh machine. `node scripts/install-tools.mjs promtool` installs it;
// without it those tests skip the promtool checks and say so.
const tools = process.argv.includes('--test') ? ['opa', 'cosign', 'registry', 'oras', 'minio'] : ['opa'];
run(process.execPath, [join(root, 'scripts', 'install-tools.mjs'), ...tools]);
// redis-server (for the revocation tests) is C, not Go: Debian's package, installed with
// apt-get when missing (as root; otherwise the message says what to run).
if (process.argv.includes('--test')) installDebianPackage('redis-server', 'redis-server');

// Installs the Debian package `pkg` when `binary` is not on PATH.
function installDebianPackage(binary, pkg) {
  if (spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0) return;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!asRoot || !apt) {
    console.error(
      `bootstrap: ${binary} is missing; install the Debian package ${pkg} (sudo apt-get install -y ${pkg})`,
    );
    process.exit(1);
  }
  console.error(`bootstrap: installing ${pkg} (apt-get)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: 'inherit', env }).status === 0;
  if (!install()) {
    // A fresh machine may have no package lists yet.
    run('apt-get', ['update']);
    if (!install()) {
      console.error(`bootstrap: apt-get could not install ${pkg}`);
      process.exit(1);
    }
  }
}
