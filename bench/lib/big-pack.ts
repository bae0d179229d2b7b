/**
 * A pack whose data is large: a user directory of ~100 bytes per user
 * (`{"users":{"u0":{"role":"admin","name":"…","groups":[…]},…}}`, 10 000 users
 * per MB), and a one-line policy that looks a user up in it:
 *
 *     package big
 *     default allow := false
 *     allow if data.users[input.user].role == "admin"
 *
 * The policy is built once with the real opa on a tiny directory; each version
 * is that pack with the big data.json swapped in (packVersion). Two data
 * variants alternate between versions: in variant A the even-numbered users
 * are admins, in variant B the odd-numbered ones, so every answer tells which
 * variant (hence which version) gave it. `root` is an admin in both, and the
 * golden decisions (root allowed, an unknown user refused) hold for both.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPack, type BuiltPack } from '../../src/pack/build.js';

/** The entrypoint the big pack answers. */
export const BIG_ENTRYPOINT = 'big/allow';
/** The pack's name (the configured name of every agent that loads it). */
export const BIG_PACK = 'big';
/** Users per MB of data.json. */
export const USERS_PER_MB = 10_000;

const WARDEN_YAML = `name: ${BIG_PACK}
entrypoints: [${BIG_ENTRYPOINT}]
golden:
  - name: root is an admin in every version
    entrypoint: ${BIG_ENTRYPOINT}
    input: { user: root }
    expect: true
  - name: an unknown user is refused
    entrypoint: ${BIG_ENTRYPOINT}
    input: { user: nobody }
    expect: false
`;

const POLICY = `package big

default allow := false

allow if data.users[input.user].role == "admin"
`;

/** The data variants; version n carries variant (n - 1) % 2. */
export type Variant = 'A' | 'B';

/** The variant version n carries. */
export function variantOf(n: number): Variant {
  return (n - 1) % 2 === 0 ? 'A' : 'B';
}

/** Builds the big policy (with a tiny directory) in `<dir>/big-src`; opa runs once. */
export async function buildBigPolicy(dir: string): Promise<BuiltPack> {
  const src = join(dir, 'big-src');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'warden.yaml'), WARDEN_YAML);
  await writeFile(join(src, 'big.rego'), POLICY);
  await writeFile(join(src, 'data.json'), usersData(2, 'A'));
  return buildPack({ dir: src, sequence: 1, revision: 'big-1' });
}

/** data.json with `count` users (plus root) in `variant`: ~100 bytes per user. */
export function usersData(count: number, variant: Variant): Buffer {
  const parity = variant === 'A' ? 0 : 1;
  const parts: string[] = ['{"users":{"root":{"role":"admin","name":"Root","groups":["g0"]}'];
  for (let i = 0; i < count; i++) {
    const role = i % 2 === parity ? 'admin' : 'viewer';
    parts.push(
      `,"u${i}":{"role":"${role}","name":"User ${i} of the bench directory","groups":["g${i % 97}","g${i % 89}","g${i % 83}"]}`,
    );
  }
  parts.push('}}');
  return Buffer.from(parts.join(''));
}

/** Whether user `u<i>` is an admin in `variant`. */
export function isAdmin(i: number, variant: Variant): boolean {
  return i % 2 === (variant === 'A' ? 0 : 1);
}

/**
 * Decision requests spread over the directory, each with the result it gets in either variant:
 * `count` users u<i>, i spaced evenly over [0, users).
 */
export function bigCases(
  users: number,
  count = 64,
): Array<{ body: unknown; labels: Array<{ result: unknown; label: Variant }> }> {
  return Array.from({ length: count }, (_, k) => {
    const i = Math.floor(((k + 0.5) * users) / count);
    return {
      body: { input: { user: `u${i}` } },
      labels: (['A', 'B'] as const).map((v) => ({ result: isAdmin(i, v), label: v })),
    };
  });
}
