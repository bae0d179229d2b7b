/**
 * An OCI reference as the configuration writes it: `registry[:port]/repo[:tag]`
 * or `registry[:port]/repo@sha256:<hex>`. The registry host is always named
 * (no implicit Docker Hub): a policy source says exactly where it pulls from.
 */
import { WardenError } from '../../errors.js';

/** A parsed reference. */
export interface OciReference {
  /** Host and optional port, e.g. `registry.example.com` or `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path, e.g. `policy/app`. */
  readonly repository: string;
  /** Tag or `sha256:<hex>` digest; a tag defaults to `latest`. */
  readonly reference: string;
  /** True when `reference` is a digest (the content can never change). */
  readonly pinned: boolean;
}

const REPO = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/** Parses `registry/repo:tag` or `registry/repo@sha256:…`; throws OCI_REFERENCE_INVALID. */
export function parseOciReference(text: string): OciReference {
  const bad = (why: string): WardenError =>
    new WardenError('OCI_REFERENCE_INVALID', `bad OCI reference ${JSON.stringify(text)}: ${why}`, {
      details: { reference: text },
      hint: 'write registry/repository:tag or registry/repository@sha256:<hex>, e.g. registry.example.com/policy/app:1',
    });
  const slash = text.indexOf('/');
  if (slash <= 0) throw bad('it names no registry host');
  const registry = text.slice(0, slash);
  if (!HOST.test(registry)) throw bad(`${JSON.stringify(registry)} is not a host[:port]`);
  let rest = text.slice(slash + 1);
  let reference = 'latest';
  let pinned = false;
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(reference)) throw bad('the digest is not sha256:<64 hex>');
    pinned = true;
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!TAG.test(reference)) throw bad(`${JSON.stringify(reference)} is not a valid tag`);
    }
  }
  if (!REPO.test(rest)) throw bad(`${JSON.stringify(rest)} is not a valid repository name`);
  return { registry, repository: rest, reference, pinned };
}

/** The reference written back (`registry/repo:tag` or `registry/repo@digest`). */
export function formatOciReference(ref: OciReference): string {
  return `${ref.registry}/${ref.repository}${ref.pinned ? '@' : ':'}${ref.reference}`;
}
