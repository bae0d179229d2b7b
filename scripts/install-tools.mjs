#!/usr/bin/env node
// Installs the project's pinned Go tools into .tools/bin with `go install`:
//   opa     (package.json config.opaVersion, built with its wasm engine) — needed to run Warden
//   cosign  (package.json config.cosignVersion) — needed by the tests (signature interop)
//   promtool (PROMTOOL_VERSION below, or package.json config.promtoolVersion) — checks and
//           unit-tests deploy/prometheus/warden-alerts.yml (test/observe/alerts.test.ts
//           skips that part when promtool is absent)
//   k6      (K6_VERSION below, or package.json config.k6Version) — drives `npm run load`
//           (load/governance.mjs, scripts/load.mjs)
//   registry (REGISTRY_VERSION below, or package.json config.registryVersion) — CNCF
//           distribution's registry, the real OCI registry the `oci` source tests run on 127.0.0.1
//   oras    (ORAS_VERSION below, or package.json config.orasVersion) — pushes OPA-style
//           artefacts in the OCI interop tests
//   minio   (MINIO_VERSION below, or package.json config.minioVersion) — the S3-compatible
//           server the s3 source's tests run against (test/helpers/minio.ts)
// Usage: node scripts/install-tools.mjs [opa] [cosign] [promtool] [k6] [registry] [oras] [minio]. Idempotent: a tool
// already at its pinned version is left alone.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).config;
const binDir = join(root, '.tools', 'bin');

// Prometheus' Go module version whose cmd/promtool is built (module v0.3XX.Y is
// Prometheus 3.XX.Y, so this is promtool 3.15.0). package.json config.promtoolVersion
// overrides it. v0.316.0, the newest tag, does not build here: the module proxy lacks
// some of its pseudo-version dependencies. The newest tag that builds was chosen.
const PROMTOOL_VERSION = '0.315.0';

// "0.315.0" (Go module) → "3.15.0" (the Prometheus release promtool reports).
const prometheusRelease = (pin) => {
  const [major, minor, patch] = pin.split('.').map(Number);
  return major === 0 && minor >= 100 ? `${Math.floor(minor / 100)}.${minor % 100}.${patch}` : pin;
};

// k6's Go module version. package.json config.k6Version overrides it. The module proxy
// here offers v0.52.0 and v1.8.1; v1.8.1 (go 1.25 in its go.mod) builds with Go 1.26 in ~5 min.
const K6_VERSION = '1.8.1';

// CNCF distribution (the `registry` server) and oras, as served by the Go module proxy.
const REGISTRY_VERSION = '3.1.2';
const ORAS_VERSION = '1.3.6';
// MinIO's Go module version (MinIO publishes no Go module tags: a pseudo-version of its
// main branch, which the module proxy serves; it needs Go ≥ 1.24). package.json
// config.minioVersion overrides it.
const MINIO_VERSION = '0.0.0-20260212201848-7aac2a2c5b7c';

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
  promtool: {
    pin: config.promtoolVersion ?? PROMTOOL_VERSION,
    module: 'github.com/prometheus/prometheus',
    pkg: 'github.com/prometheus/prometheus/cmd/promtool',
    // `promtool --version` prints "promtool, version 3.15.0 (branch: …)"; the version is
    // stamped at build time (-X below), as Prometheus' own release builds do.
    check: (out, pin) =>
      new RegExp(`^promtool, version ${prometheusRelease(pin).replaceAll('.', '\\.')} `, 'm').test(out),
    versionArgs: ['--version'],
    // `go install …/cmd/promtool@vX` is refused: Prometheus' go.mod has replace / exclude
    // directives. Build it inside a throw-away module that carries the same directives.
    build: buildPromtool,
  },
  k6: {
    pin: config.k6Version ?? K6_VERSION,
    module: 'go.k6.io/k6',
    tags: [],
    // `k6 version` prints "k6 v1.8.1 (go1.26.8, linux/amd64)".
    check: (out, pin) => new RegExp(`^k6 v${pin.replaceAll('.', '\\.')}\\b`, 'm').test(out),
    versionArgs: ['version'],
  },
  registry: {
    pin: config.registryVersion ?? REGISTRY_VERSION,
    module: 'github.com/distribution/distribution/v3/cmd/registry',
    tags: [],
    // `registry --version` prints "registry github.com/distribution/distribution/v3 v3.1.2+unknown" (go install stamps the module version).
    check: (out, pin) => new RegExp(`distribution/v3 v${pin.replaceAll('.', '\\.')}\\b`).test(out),
    versionArgs: ['--version'],
  },
  oras: {
    pin: config.orasVersion ?? ORAS_VERSION,
    module: 'oras.land/oras/cmd/oras',
    tags: [],
    // `oras version` prints "Version:    1.3.6".
    check: (out, pin) => new RegExp(`^Version:\\s*${pin.replaceAll('.', '\\.')}\\b`, 'm').test(out),
    versionArgs: ['version'],
  },
  minio: {
    pin: config.minioVersion ?? MINIO_VERSION,
    module: 'github.com/minio/minio',
    tags: [],
    // A `go install` build reports "DEVELOPMENT.GOGET" as its version: the module version
    // is read from the binary's build information instead (`go version -m`).
    check: (out, pin) =>
      new RegExp(`^\\s*mod\\s+github\\.com/minio/minio\\s+v${pin.replaceAll('.', '\\.')}\\s`, 'm').test(out),
    probe: (bin) => versionOutput('go', ['version', '-m', bin]),
  },
};

// Runs go with the install environment; true on success.
function go(args, cwd) {
  const res = spawnSync('go', args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, GOBIN: binDir, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
  });
  return res.status === 0;
}

// The replace and exclude directives of a module's go.mod (single lines and blocks),
// except replacements by local paths.
function moduleDirectives(goMod) {
  const out = [];
  const lines = goMod.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const m = /^(replace|exclude)\s*(\()?\s*(.*)$/.exec(lines[i].trim());
    if (!m) continue;
    const body = [];
    if (m[2]) {
      for (i += 1; i < lines.length && lines[i].trim() !== ')'; i += 1) body.push(lines[i].trim());
    } else body.push(m[3]);
    for (const line of body.map((l) => l.replace(/\/\/.*$/, '').trim()).filter(Boolean)) {
      if (m[1] === 'replace' && /=>\s*\.{0,2}\//.test(line)) continue;
      out.push(`${m[1]} ${line}`);
    }
  }
  return out;
}

// Builds promtool at its pin into .tools/bin, in a temporary module with Prometheus'
// own replace / exclude directives. True on success.
function buildPromtool(tool, bin) {
  const version = `v${tool.pin}`;
  const info = spawnSync('go', ['mod', 'download', '-json', `${tool.module}@${version}`], {
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-buildvcs=false' },
  });
  let goModPath;
  try {
    goModPath = JSON.parse(info.stdout).GoMod;
  } catch {
    goModPath = undefined;
  }
  if (info.status !== 0 || !goModPath) {
    process.stderr.write(info.stderr ?? '');
    return false;
  }
  const work = mkdtempSync(join(tmpdir(), 'warden-promtool-'));
  try {
    const directives = moduleDirectives(readFileSync(goModPath, 'utf8'));
    writeFileSync(
      join(work, 'go.mod'),
      ['module warden.local/tools/promtool', '', 'go 1.24', '', ...directives, ''].join('\n'),
    );
    const ldflags = `-X github.com/prometheus/common/version.Version=${prometheusRelease(tool.pin)}`;
    return (
      go(['get', `${tool.pkg}@${version}`], work) &&
      go(['build', '-trimpath', '-ldflags', ldflags, '-o', bin, tool.pkg], work)
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

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
  const probe = () => (tool.probe ? tool.probe(bin) : versionOutput(bin, tool.versionArgs));
  const have = existsSync(bin) ? probe() : null;
  if (have !== null && tool.check(have, tool.pin)) return;
  if (spawnSync('go', ['version']).status !== 0) {
    console.error(
      `${name === 'opa' ? 'OPA_NOT_FOUND' : 'TOOL_MISSING'}: Go is needed to install ${name} ${tool.pin}; install Go and re-run \`node scripts/install-tools.mjs ${name}\``,
    );
    process.exit(1);
  }
  mkdirSync(binDir, { recursive: true });
  console.error(
    `installing ${name} v${tool.pin} into .tools/bin (go ${tool.build ? 'build' : 'install'}; a few minutes the first time)…`,
  );
  const built = tool.build ? tool.build(tool, bin) : go(['install', ...tool.tags, `${tool.module}@v${tool.pin}`]);
  const got = built ? probe() : null;
  if (got === null || !tool.check(got, tool.pin)) {
    console.error(
      `install-tools: go install of ${name} v${tool.pin} failed or reports another version; check the Go module proxy is reachable`,
    );
    process.exit(1);
  }
  console.error(`${name} ${tool.pin} installed at .tools/bin/${name}`);
}

const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : ['opa']) install(name);
