/**
 * Turns zod issues into one line per bad key, with its path, so a user sees
 * every problem at once (fastify and sigstore's assertBundle do the same).
 */
import type { z } from 'zod';

/** `path.to.key: message` lines, in the order zod found them. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`);
}
