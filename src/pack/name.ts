/**
 * The one rule for a pack's name, wherever a name is met: the agent
 * configuration, warden.yaml, the pack's marker and the store's folders.
 *
 * Lower-case letters, digits, ".", "_" and "-", starting with a letter or digit,
 * at most 63 characters. The store once also took upper case and 128
 * characters; the stricter rule wins because every name the store sees came
 * through the configuration, which never allowed more, and because the name
 * becomes a folder: on a case-insensitive disk "App" and "app" would be one
 * folder holding two packs' state. 63 keeps a name a valid DNS label, so it can
 * be a Kubernetes label value or a host name as well as a metric label.
 */

/** The pattern a pack name matches. */
export const PACK_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The rule in words, for error messages. */
export const PACK_NAME_RULE = 'lower-case letters, digits, ".", "_" or "-", at most 63';

/** True if `name` is a valid pack name. */
export function isPackName(name: string): boolean {
  return PACK_NAME_PATTERN.test(name);
}
