#!/usr/bin/env node
// Installs the project's pinned Go tools into .tools/bin with `go install`:
//   opa     (package.json config.opaVersion, built with its wasm engine) — needed to run Warden
//   cosign  (package.json config.cosignVersion) — needed by the tests (signature interop)
// Usage: node scripts/install-tools.mjs [opa] [cosign]. Idempotent: a tool already at
// its pinned version is left alone.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).config;
const binDir = join(root, '.tools', 'bin');

const TOOLS = {
  opa: {
    pin: config.opaVersion,
    module: 'github.com/open-policy-agent/opa',
    tags: ['-tags', 'opa_wasm'],
    // `opa version` prints "Version: 1.22.2" and "WebAssembly: available" when built with opa_wasm.
    check: (out, pin) => new RegExp(`^Version:\\s*${pin}$`, 'm').test(out) && /^WebAssembly:\s*available/m.test(out),
    versionArgs: ['version'],
  },
  cosign: {
    pin: config.cosignVersion,
    module: `github.com/sigstore/cosign/v${config.cosignVersion.split('.')[0]}/cmd/cosign`,
    tags: [],
    check: (out, pin) => new RegExp(`^GitVersion:\\s*v?${pin}$`, 'm').test(out) || new RegExp(`v${pin}\\b`).test(out),
    versionArgs: ['version'],
  },
};

// Prints what the binary says about its version; null if it does not run.
function versionOutput(bin, args) {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return null;
  }
}

// Installs one tool unless the pinned version is already there.
function install(name) {
  const tool = TOOLS[name];
  if (!tool) {
    console.error(`install-tools: unknown tool ${name} (known: ${Object.keys(TOOLS).join(', ')})`);
    process.exit(2);
  }
  const bin = join(binDir, name);
  const have = existsSync(bin) ? versionOutput(bin, tool.versionArgs) : null;
  if (have !== null && tool.check(have, tool.pin)) return;
  if (spawnSync('go', ['version']).status !== 0) {
    console.error(`${name === 'opa' ? 'OPA_NOT_FOUND' : 'TOOL_MISSING'}: Go is needed to install ${name} ${tool.pin}; install Go and re-run \`node scripts/install-tools.mjs ${name}\``);
    process.exit(1);
  }
  mkdirSync(binDir, { recursive: true });
  console.error(`installing ${name} v${tool.pin} into .tools/bin (go install; a few minutes the first time)…`);
  const res = spawnSync('go', ['install', ...tool.tags, `${tool.module}@v${tool.pin}`], {
    stdio: 'inherit',
    env: { ...process.env, GOBIN: binDir, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
  });
  const got = res.status === 0 ? versionOutput(bin, tool.versionArgs) : null;
  if (got === null || !tool.check(got, tool.pin)) {
    console.error(`install-tools: go install of ${name} v${tool.pin} failed or reports another version; check the Go module proxy is reachable`);
    process.exit(1);
  }
  console.error(`${name} ${tool.pin} installed at .tools/bin/${name}`);
}

const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : ['opa']) install(name);
