/**
 * Authentication of `/v1/admin/*`: a bearer token read from a file at start,
 * compared in constant time. With no credential configured the admin API is
 * off (ADMIN_DISABLED) — never open by default.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { WardenError, messageOf } from '../errors.js';

/** Checks an Authorization header; throws a coded error when it does not pass. */
export type AdminAuth = (authorization: string | readonly string[] | undefined) => void;

/** The shortest token accepted from a token file: guessable tokens are a configuration error. */
export const MIN_TOKEN_LENGTH = 16;

/** Reads the token file (or none) and returns the check. */
export async function loadAdminAuth(tokenFile: string | undefined): Promise<AdminAuth> {
  if (tokenFile === undefined) {
    return () => {
      throw new WardenError('ADMIN_DISABLED', 'the admin API is off: no admin.token_file is configured');
    };
  }
  let token: string;
  try {
    token = (await readFile(tokenFile, 'utf8')).trim();
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `cannot read admin.token_file ${tokenFile}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  if (token.length < MIN_TOKEN_LENGTH)
    throw new WardenError(
      'CONFIG_INVALID',
      `admin.token_file holds a token shorter than ${MIN_TOKEN_LENGTH} characters`,
    );
  const expected = digest(token);
  return (authorization) => {
    if (typeof authorization === 'object')
      throw new WardenError('ADMIN_UNAUTHORIZED', 'the Authorization header is sent more than once');
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    // Hashing both sides first gives equal lengths, so the comparison time says nothing about the token.
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      throw new WardenError('ADMIN_UNAUTHORIZED', given === undefined ? 'no bearer token' : 'wrong bearer token');
    }
  };
}

// SHA-256 of a token, the value actually compared.
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
