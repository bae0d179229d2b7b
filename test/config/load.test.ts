import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WardenError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/load.js';

const where = '/etc/warden/agent.yaml';

// The bad-key lines of a CONFIG_INVALID error for this text.
function issues(text: string): string[] {
  try {
    parseConfig(text, where);
  } catch (err) {
    assert.ok(err instanceof WardenError && err.code === 'CONFIG_INVALID', String(err));
    return err.details.issues as string[];
  }
  assert.fail('expected CONFIG_INVALID');
}

const minimal =
  'packs:\n  - name: authz\n    source: { http: { url: "http://127.0.0.1:8282/v1/policy/packs/authz" } }\n    verify: { public_keys: [keys/policy.pub] }\n';

describe('agent configuration', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig(minimal, where);
    assert.equal(c.listen, '127.0.0.1:8181');
    assert.equal(c.history_limit, 10);
    const http = c.packs[0]?.source.http;
    assert.deepEqual(
      [
        http?.poll_min_seconds,
        http?.poll_max_seconds,
        http?.long_poll_seconds,
        http?.timeout_seconds,
        http?.backoff_max_seconds,
      ],
      [10, 20, 0, 10, 300],
    );
    assert.equal(c.limits.max_files, 10_000);
  });

  it("resolves relative paths against the config file's folder", () => {
    const c = parseConfig(`data_dir: state\n${minimal}`, where);
    assert.equal(c.data_dir, '/etc/warden/state');
    assert.deepEqual(c.packs[0]?.verify.public_keys, ['/etc/warden/keys/policy.pub']);
    const withTls = parseConfig(
      minimal.replace('authz" }', 'authz", tls: { ca_file: ca.pem, cert_file: /abs/c.pem, key_file: k.pem } }'),
      where,
    );
    assert.deepEqual(withTls.packs[0]?.source.http?.tls, {
      ca_file: '/etc/warden/ca.pem',
      cert_file: '/abs/c.pem',
      key_file: '/etc/warden/k.pem',
    });
  });

  it('reads an s3 source: defaults, key files and CA resolved against the folder, a signature key apart from the pack', () => {
    const s3 =
      'packs:\n  - name: authz\n    source: { s3: { endpoint: "http://127.0.0.1:9000", bucket: packs, key: prod/authz.tar.gz, region: us-east-1, ca_file: ca.pem, credentials: { access_key_id_file: s3/id, secret_access_key_file: /run/secret } } }\n    verify: { public_keys: [keys/policy.pub] }\n';
    const c = parseConfig(s3, where).packs[0]?.source.s3;
    assert.equal(c?.force_path_style, false);
    assert.deepEqual([c?.poll_min_seconds, c?.poll_max_seconds, c?.timeout_seconds], [10, 20, 10]);
    assert.equal(c?.ca_file, '/etc/warden/ca.pem');
    assert.deepEqual(c?.credentials, {
      access_key_id_file: '/etc/warden/s3/id',
      secret_access_key_file: '/run/secret',
    });
    assert.ok(
      issues(s3.replace('region: us-east-1', 'region: us-east-1, signature_key: prod/authz.tar.gz')).some((l) =>
        l.includes('signature_key must differ from key'),
      ),
    );
    assert.ok(issues(s3.replace(', region: us-east-1', '')).some((l) => l.includes('region')));
  });

  it('is frozen all the way down', () => {
    const c = parseConfig(minimal, where);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.packs[0]?.source.http));
    assert.throws(() => {
      (c as { listen: string }).listen = 'x';
    }, TypeError);
  });

  it('lists every bad key with its path at once', () => {
    const found = issues(
      'listen: nowhere\nhistory_limit: 0\nextra: 1\npacks:\n  - name: A\n    source: {}\n    verify: { public_keys: [] }\n',
    );
    for (const key of [
      'listen',
      'history_limit',
      'extra',
      'packs.0.name',
      'packs.0.source',
      'packs.0.verify.public_keys',
    ]) {
      assert.ok(
        found.some((l) => l.startsWith(key) || l.includes(`"${key}"`) || l.includes(key)),
        `${key} in ${found.join(' | ')}`,
      );
    }
  });

  it('wants exactly one source and one kind of trust', () => {
    assert.ok(
      issues(minimal.replace('source: {', 'source: { file: { path: p }, ')).some((l) =>
        l.includes('exactly one of http, oci, s3, file, directory'),
      ),
    );
    assert.ok(
      issues(minimal.replace('verify: {', 'verify: { unsigned: true, ')).some((l) =>
        l.includes('exactly one of public_keys, keyless, unsigned'),
      ),
    );
  });

  it('refuses unsigned packs from http and file sources', () => {
    assert.ok(
      issues(minimal.replace('public_keys: [keys/policy.pub]', 'unsigned: true')).some((l) =>
        l.startsWith('packs.0.verify.unsigned'),
      ),
    );
  });

  it('refuses duplicate pack names and a poll window that runs backwards', () => {
    const twice = `packs:\n${minimal.slice('packs:\n'.length)}${minimal.slice('packs:\n'.length)}`;
    assert.ok(issues(twice).some((l) => l.startsWith('packs.1.name: duplicate')));
    const backwards = minimal.replace('authz" }', 'authz", poll_min_seconds: 30, poll_max_seconds: 5 }');
    assert.ok(issues(backwards).some((l) => l.startsWith('packs.0.source.http.poll_max_seconds')));
  });

  it('refuses text that is not YAML', () => {
    assert.throws(
      () => parseConfig('packs: [unclosed', where),
      (e: unknown) => e instanceof WardenError && e.code === 'CONFIG_INVALID',
    );
  });
});
