import { parseArgs } from "node:util";
import pg from "pg";
import { z } from "zod";
import { openDatabase } from "@/lib/db/database";
import { AdminError, type AdminCommand } from "./command";
import { ADMIN_COMMANDS } from "./commands";

export type AdminIo = { out: (line: string) => void; err: (line: string) => void };

const PREFIX = "npm run admin --";

function usageOf(name: string, command: AdminCommand): string {
  return `${PREFIX} ${name}${command.usage ? ` ${command.usage}` : ""}`;
}

function helpLines(): string[] {
  const names = Object.keys(ADMIN_COMMANDS).sort();
  return [
    `usage: ${PREFIX} <command> [--flags]`,
    "",
    "commands:",
    ...names.flatMap((name) => [
      `  ${name}`,
      `      ${ADMIN_COMMANDS[name].description}`,
      `      ${usageOf(name, ADMIN_COMMANDS[name])}`,
    ]),
    "  help",
    "      Show this list.",
    "",
    "Connects as the database owner: DATABASE_URL, or the embedded PostgreSQL under .data/ when unset.",
  ];
}

/** parseArgs options from the zod schema: boolean fields are switches, the rest take a value. */
function flagsOf(schema: z.ZodObject) {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    let inner: unknown = field;
    while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap();
    options[key] = { type: inner instanceof z.ZodBoolean ? "boolean" : "string" };
  }
  return options;
}

/** Node's parseArgs messages are long and mention positionals; say it the CLI's way. */
function describeParseError(error: unknown, name: string, command: AdminCommand): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? "";
  const usage = `usage: ${usageOf(name, command)}`;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${flag} for ${name} (${usage})`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return message.includes("does not take an argument")
      ? `${flag} is a switch and takes no value (${usage})`
      : `${flag.replace(/ .*/, "")} needs a value (${usage})`;
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const positional = /'([^']*)'/.exec(message)?.[1] ?? "";
    return `unexpected argument "${positional}"; every value needs its --flag (${usage})`;
  }
  return `${message} (${usage})`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * Runs one admin command and returns the exit code. Operator mistakes become exactly one
 * `error: ...` line on stderr and exit code 1, never a stack trace.
 */
export async function runAdmin(argv: string[], io: AdminIo): Promise<number> {
  const fail = (message: string) => {
    io.err(`error: ${oneLine(message)}`);
    return 1;
  };
  const [name, ...rest] = argv;
  if (name === undefined) return fail(`no command given; list the commands with: ${PREFIX} help`);
  if (name === "help" || name === "--help" || name === "-h") {
    for (const line of helpLines()) io.out(line);
    return 0;
  }
  const command = Object.hasOwn(ADMIN_COMMANDS, name) ? ADMIN_COMMANDS[name] : undefined;
  if (!command) return fail(`unknown command "${name}"; list the commands with: ${PREFIX} help`);

  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: rest, options: flagsOf(command.args), strict: true, allowPositionals: false }));
  } catch (error) {
    return fail(describeParseError(error, name, command));
  }
  const parsed = command.args.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0] ?? "");
    const what = values[key] === undefined && issue.code === "invalid_type" ? "is required" : issue.message;
    return fail(`--${key} ${what} (usage: ${usageOf(name, command)})`);
  }

  let handle: Awaited<ReturnType<typeof openDatabase>> | null = null;
  let pool: pg.Pool | null = null;
  try {
    handle = await openDatabase();
    pool = new pg.Pool({ connectionString: handle.ownerUrl, max: 2 });
    await command.run(parsed.data, { db: pool, out: io.out });
    return 0;
  } catch (error) {
    if (error instanceof AdminError) return fail(error.message);
    // Not the operator's fault (database down, bug): still one line; PULSEBOARD_DEBUG=1 shows the stack.
    if (process.env.PULSEBOARD_DEBUG === "1" && error instanceof Error && error.stack) io.err(error.stack);
    return fail(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await pool?.end().catch(() => {});
    await handle?.close().catch(() => {});
  }
}
