/**
 * Sorting database failures by what the caller should do. Prisma wraps driver errors several
 * layers deep (PrismaClientKnownRequestError → meta / cause → the pg error), so the SQLSTATE is
 * searched for rather than read from one known field.
 */

export type DbFailureKind = "data" | "transient" | "other";

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function sqlStateOf(error: unknown): string | null {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): string | null => {
    if (value === null || typeof value !== "object" || seen.has(value) || depth > 6) return null;
    seen.add(value);
    const record = value as Record<string, unknown>;
    for (const field of ["originalCode", "code"]) {
      const code = record[field];
      if (typeof code === "string" && SQLSTATE.test(code) && !code.startsWith("P")) return code;
    }
    const message = record.message;
    if (typeof message === "string") {
      const match = /Code: `([0-9A-Z]{5})`/.exec(message);
      if (match) return match[1];
    }
    for (const field of ["cause", "meta", "driverAdapterError", "error"]) {
      const found = visit(record[field], depth + 1);
      if (found) return found;
    }
    return null;
  };
  return visit(error, 0);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.message} ${messageOf((error as { cause?: unknown }).cause)}` : "";
}

export function classifyDbFailure(error: unknown): DbFailureKind {
  const state = sqlStateOf(error);
  // 22: data exception (bad value for a type), 23: integrity constraint: the input's fault.
  if (state && (state.startsWith("22") || state.startsWith("23"))) return "data";
  // 40: serialization/deadlock; 08: connection; 57P: shutdown / terminated; 53: out of resources.
  if (
    state &&
    (state.startsWith("40") || state.startsWith("08") || state.startsWith("57P") || state.startsWith("53"))
  ) {
    return "transient";
  }
  const message = messageOf(error);
  if (
    /Connection terminated|ECONNRESET|ECONNREFUSED|terminating connection|Transaction already closed|Transaction API error|Client has encountered a connection error|server closed the connection/i.test(
      message,
    )
  ) {
    return "transient";
  }
  return "other";
}

export function dbMessageOf(error: unknown): string {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): string | null => {
    if (value === null || typeof value !== "object" || seen.has(value) || depth > 6) return null;
    seen.add(value);
    const record = value as Record<string, unknown>;
    if (typeof record.originalMessage === "string") return record.originalMessage;
    for (const field of ["cause", "meta", "driverAdapterError"]) {
      const found = visit(record[field], depth + 1);
      if (found) return found;
    }
    return null;
  };
  return visit(error, 0) ?? (error instanceof Error ? error.message : String(error));
}
