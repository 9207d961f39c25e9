import type pg from "pg";
import type { z } from "zod";

export type AdminContext = {
  /** Owner connection (the admin CLI manages every tenant). */
  db: pg.Pool;
  /** One line of normal output (stdout). */
  out: (line: string) => void;
};

/**
 * A mistake the operator can fix (bad input, unknown slug, duplicate e-mail): the CLI prints
 * `error: <message>` as one line and exits 1. Say what is wrong and how to fix it.
 */
export class AdminError extends Error {}

/**
 * One admin command: flags are the keys of `args` (boolean schemas become switches, everything else
 * takes a value), validated by zod before `run` is called.
 */
export type AdminCommand<Args extends z.ZodObject = z.ZodObject> = {
  description: string;
  /** The flags part of the usage line, e.g. "--email <email> [--admin]". */
  usage: string;
  args: Args;
  run(args: z.infer<Args>, ctx: AdminContext): Promise<void>;
};

/** Keeps the argument types of `run` inferred from the schema. */
export function defineCommand<Args extends z.ZodObject>(command: AdminCommand<Args>): AdminCommand<Args> {
  return command;
}

/** The PostgreSQL error code of a failed query (e.g. 23505 unique violation), if it is one. */
export function pgErrorCode(error: unknown): string | null {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string")
    return error.code;
  return null;
}
