#!/usr/bin/env node
// Installs the pinned opa (with its wasm engine) into .tools/bin via `go install`.
// Idempotent: does nothing when the binary there already reports the pinned version.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pin = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).config.opaVersion;
const binDir = join(root, '.tools', 'bin');
const opa = join(binDir, 'opa');

// Reads `opa version` of a binary; null if it does not run.
function versionOf(bin) {
  try {
    const out = execFileSync(bin, ['version'], { encoding: 'utf8' });
    return {
      version: /^Version:\s*(\S+)/m.exec(out)?.[1] ?? null,
      wasm: /^WebAssembly:\s*available/m.test(out),
    };
  } catch {
    return null;
  }
}

const have = existsSync(opa) ? versionOf(opa) : null;
if (have?.version === pin && have.wasm) process.exit(0);

const go = spawnSync('go', ['version'], { encoding: 'utf8' });
if (go.status !== 0) {
  console.error('OPA_NOT_FOUND: Go is needed to install opa ' + pin + ' (install Go 1.22+ and re-run `npm run install-opa`)');
  process.exit(1);
}
mkdirSync(binDir, { recursive: true });
console.error(`installing opa v${pin} into .tools/bin (go install, takes a few minutes the first time)…`);
const res = spawnSync(
  'go',
  ['install', '-tags', 'opa_wasm', `github.com/open-policy-agent/opa@v${pin}`],
  { stdio: 'inherit', env: { ...process.env, GOBIN: binDir, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' } },
);
if (res.status !== 0) {
  console.error(`OPA_NOT_FOUND: go install of opa v${pin} failed (see above); check the Go module proxy is reachable`);
  process.exit(1);
}
const got = versionOf(opa);
if (got?.version !== pin || !got.wasm) {
  console.error(`OPA_VERSION_MISMATCH: installed opa reports ${JSON.stringify(got)}, expected ${pin} with WebAssembly`);
  process.exit(1);
}
console.error(`opa ${pin} installed at .tools/bin/opa`);
