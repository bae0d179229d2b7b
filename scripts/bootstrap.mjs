#!/usr/bin/env node
// Makes a fresh checkout runnable: npm packages, the compiled CLI, the pinned opa
// (and, with --test, the pinned cosign the signature-interop tests use and the pinned
// MinIO the s3 source's tests run against; MinIO's first build takes several minutes).
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
const tools = process.argv.includes('--test') ? ['opa', 'cosign', 'minio'] : ['opa'];
run(process.execPath, [join(root, 'scripts', 'install-tools.mjs'), ...tools]);
