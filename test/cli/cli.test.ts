import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/project.js';
import { tempDir } from '../helpers/fs.js';
import { warden } from '../helpers/cli.js';

const example = join(PROJECT_ROOT, 'examples', 'authz');
const cosign = join(PROJECT_ROOT, '.tools', 'bin', 'cosign');

describe('warden CLI: keygen → pack build → sign → verify', () => {
  const dir = tempDir();
  const pack = join(dir, 'authz.tar.gz');

  before(() => {
    assert.equal(warden(['keygen', '--out', join(dir, 'release')]).status, 0);
    const built = warden(['pack', 'build', example, '--out', pack, '--sequence', '5']);
    assert.equal(built.status, 0, built.stderr);
    assert.match(
      built.stdout,
      /^built .* sha256:[0-9a-f]{64} pack=authz revision=1\.0\.0 sequence=5 .*tests=2 golden=4$/m,
    );
  });

  it('writes the private key with mode 0600 and refuses to overwrite it', () => {
    assert.equal(statSync(join(dir, 'release.key')).mode & 0o777, 0o600);
    const again = warden(['keygen', '--out', join(dir, 'release')]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^warden: IO_FAILED: /);
  });

  it('verifies a pack it signed, reporting digest, marker and signer', () => {
    assert.equal(warden(['pack', 'sign', pack, '--key', join(dir, 'release.key')]).status, 0);
    const res = warden(['pack', 'verify', pack, '--public-key', join(dir, 'release.pub'), '--json']);
    assert.equal(res.status, 0, res.stderr);
    const report = JSON.parse(res.stdout) as {
      digest: string;
      pack: string;
      sequence: number;
      signer: { kind: string };
      entrypoints: string[];
    };
    assert.equal(report.pack, 'authz');
    assert.equal(report.sequence, 5);
    assert.equal(report.signer.kind, 'key');
    assert.deepEqual(report.entrypoints, ['authz/allow', 'authz/reasons']);
  });

  it('exits 1 with one coded line when the pack was changed after signing', () => {
    const tampered = join(dir, 'tampered.tar.gz');
    const bytes = readFileSync(pack);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(tampered, bytes);
    writeFileSync(`${tampered}.sigstore.json`, readFileSync(`${pack}.sigstore.json`));
    const res = warden(['pack', 'verify', tampered, '--public-key', join(dir, 'release.pub')]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^warden: DIGEST_MISMATCH: .*\n {2}hint: /);
  });

  it('exits 1 with SIGNATURE_MISSING for an unsigned pack', () => {
    const unsigned = join(dir, 'unsigned.tar.gz');
    writeFileSync(unsigned, readFileSync(pack));
    const res = warden(['pack', 'verify', unsigned, '--public-key', join(dir, 'release.pub')]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^warden: SIGNATURE_MISSING: /);
  });

  it('refuses an unanchored subject pattern before looking at the pack', () => {
    const root = join(dir, 'root.json');
    writeFileSync(root, '{}');
    const res = warden([
      'pack',
      'verify',
      pack,
      '--trusted-root',
      root,
      '--issuer',
      'https://issuer',
      '--subject-regex',
      'acme',
    ]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^warden: TRUST_CONFIG_INVALID: subject_regex "acme" must be anchored/);
  });

  it('verifies a bundle made by cosign sign-blob with a cosign key', () => {
    const env = { ...process.env, COSIGN_PASSWORD: 'test-only' };
    execFileSync(cosign, ['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')], { env, stdio: 'pipe' });
    const bundle = join(dir, 'cosign.sigstore.json');
    execFileSync(
      cosign,
      [
        'sign-blob',
        '--key',
        join(dir, 'cosign.key'),
        '--bundle',
        bundle,
        '--use-signing-config=false',
        '--tlog-upload=false',
        '--yes',
        pack,
      ],
      { env, stdio: 'pipe' },
    );
    const res = warden(['pack', 'verify', pack, '--public-key', join(dir, 'cosign.pub'), '--bundle', bundle]);
    assert.equal(res.status, 0, res.stderr);
    const wrongKey = warden(['pack', 'verify', pack, '--public-key', join(dir, 'release.pub'), '--bundle', bundle]);
    assert.equal(wrongKey.status, 1);
    assert.match(wrongKey.stderr, /^warden: SIGNATURE_KEY_UNKNOWN: /);
  });

  it('makes bundles that cosign verify-blob accepts', () => {
    const bundle = join(dir, 'for-cosign.sigstore.json');
    assert.equal(warden(['pack', 'sign', pack, '--key', join(dir, 'release.key'), '--bundle', bundle]).status, 0);
    const out = execFileSync(
      cosign,
      [
        'verify-blob',
        '--key',
        join(dir, 'release.pub'),
        '--bundle',
        bundle,
        '--insecure-ignore-tlog=true',
        '--use-signed-timestamps=false',
        pack,
      ],
      { stdio: 'pipe' },
    );
    assert.equal(out.toString(), '');
  });
});

describe('warden CLI: usage and errors', () => {
  it('prints help for every command and exits 0', () => {
    for (const args of [
      ['--help'],
      ['keygen', '--help'],
      ['pack', 'build', '--help'],
      ['pack', 'sign', '--help'],
      ['pack', 'verify', '--help'],
      ['config', 'check', '--help'],
    ]) {
      const res = warden(args);
      assert.equal(res.status, 0, args.join(' '));
      assert.match(res.stdout, /usage: warden/);
    }
  });

  it('exits 2 with USAGE on an unknown command, an unknown flag or a missing argument', () => {
    for (const args of [
      ['frobnicate'],
      ['pack', 'build', example, '--bogus'],
      ['pack', 'sign', 'x.tar.gz'],
      ['pack', 'build'],
    ]) {
      const res = warden(args);
      assert.equal(res.status, 2, args.join(' '));
      assert.match(res.stderr, /^warden: USAGE: /);
    }
  });

  it('pack build: a data.json over --max-file-bytes is refused naming the flag, the limit and the size; raised, it builds', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'warden.yaml'), 'name: big\nentrypoints: [big/n]\n');
    writeFileSync(join(dir, 'big.rego'), 'package big\n\nn := count(data.big.users)\n');
    const data = JSON.stringify({ big: { users: Array.from({ length: 30_000 }, (_, i) => `user-${i}`) } });
    writeFileSync(join(dir, 'data.json'), data);
    const out = join(dir, 'out.tar.gz');
    const small = warden(['pack', 'build', dir, '--out', out, '--max-file-bytes', '200000']);
    assert.equal(small.status, 1, small.stderr);
    const [line, hint] = small.stderr.trim().split('\n');
    assert.equal(
      line,
      `warden: PACK_SPEC_INVALID: data.json is ${data.length} bytes, over the limit (--max-file-bytes 200000)`,
    );
    assert.equal(
      hint,
      `  hint: if this size is expected, pass --max-file-bytes with at least ${data.length} (now 200000)`,
    );
    const raised = warden(['pack', 'build', dir, '--out', out, '--max-file-bytes', '1000000']);
    assert.equal(raised.status, 0, raised.stderr);
    const bad = warden(['pack', 'build', dir, '--out', out, '--max-file-bytes', '16MiB']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^warden: USAGE: --max-file-bytes must be a positive integer/);
  });

  it('reports a compile error as one coded line naming file:line:col', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'warden.yaml'), 'name: broken\nentrypoints: [broken/allow]\n');
    writeFileSync(join(dir, 'broken.rego'), 'package broken\n\nallow if {\n  input.x ==\n}\n');
    const res = warden(['pack', 'build', dir, '--out', join(dir, 'out.tar.gz')]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^warden: PACK_COMPILE_FAILED: broken\.rego:5:1: rego_parse_error: unexpected } token/);
  });
});
