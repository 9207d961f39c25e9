import { hash, verify, type Algorithm } from "@node-rs/argon2";
import { z } from "zod";

/**
 * Argon2id with OWASP's minimum recommended parameters (m = 19 MiB, t = 2, p = 1): about 20–40 ms
 * per hash on one core, slow enough to make offline guessing expensive, fast enough for sign-in.
 * The parameters are stored inside the PHC string, so raising them later keeps old hashes valid.
 */
// Algorithm is an ambient const enum (not importable as a value under isolatedModules): 2 = Argon2id.
const ARGON2ID: Algorithm.Argon2id = 2;

export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19 * 1024, // KiB
  timeCost: 2,
  parallelism: 1,
} as const;

export const PASSWORD_MIN_LENGTH = 10;
// Argon2 accepts any length, but an unbounded input is a cheap way to burn server CPU.
export const PASSWORD_MAX_LENGTH = 256;

/** What a new password must satisfy; use at every boundary that sets one (CLI, sign-up, reset). */
export const passwordPolicy = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `Password must be at least ${PASSWORD_MIN_LENGTH} characters long.`)
  .max(PASSWORD_MAX_LENGTH, `Password must be at most ${PASSWORD_MAX_LENGTH} characters long.`)
  .refine((value) => value.trim().length >= PASSWORD_MIN_LENGTH, {
    message: `Password must contain at least ${PASSWORD_MIN_LENGTH} non-blank characters.`,
  });

/** A salted Argon2id hash in PHC format (`$argon2id$v=19$m=19456,t=2,p=1$...`). */
export async function hashPassword(plain: string): Promise<string> {
  return hash(plain, ARGON2_OPTIONS);
}

/**
 * True when `plain` matches `hash`. A malformed or empty stored hash (e.g. an account without a
 * password) is a non-match, never an exception: sign-in must answer "wrong credentials", not 500.
 */
export async function verifyPassword(storedHash: string | null | undefined, plain: string): Promise<boolean> {
  if (!storedHash || !storedHash.startsWith("$argon2")) return false;
  try {
    return await verify(storedHash, plain);
  } catch {
    return false;
  }
}
