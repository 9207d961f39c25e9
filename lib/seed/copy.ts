import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

export type CopyValue = string | number | boolean | null;

const NEEDS_ESCAPE = /[\\\n\r\t]/;

/** One field in PostgreSQL's COPY text format (NULL is \N; backslash, tab and newlines escaped). */
function encodeField(value: CopyValue): string {
  if (value === null) return "\\N";
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value === "number") return String(value);
  return NEEDS_ESCAPE.test(value)
    ? value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")
    : value;
}

/**
 * Rows for one table, buffered in COPY text format until `flush` streams them in with one COPY.
 * COPY is the fastest bulk path PostgreSQL has (no per-row statement, no parameter parsing).
 */
export class CopyBuffer {
  private lines: string[] = [];
  private total = 0;

  constructor(
    readonly table: string,
    readonly columns: readonly string[],
  ) {}

  push(values: readonly CopyValue[]): void {
    let line = encodeField(values[0]);
    for (let i = 1; i < values.length; i++) line += "\t" + encodeField(values[i]);
    this.lines.push(line);
  }

  get pending(): number {
    return this.lines.length;
  }

  /** Rows flushed so far plus rows still buffered. */
  get written(): number {
    return this.total + this.lines.length;
  }

  async flush(client: pg.ClientBase): Promise<void> {
    await this.take()(client);
  }

  /**
   * Hands the buffered rows over synchronously and returns the COPY that loads them, so several
   * tables can be cut at the same instant (children never get ahead of their parents while the
   * next chunk is being generated) and then copied one after the other.
   */
  take(): (client: pg.ClientBase) => Promise<void> {
    const lines = this.lines;
    this.lines = [];
    this.total += lines.length;
    const statement = `COPY ${this.table} (${this.columns.join(", ")}) FROM STDIN`;
    return async (client) => {
      if (lines.length === 0) return;
      await pipeline(Readable.from(batches(lines)), client.query(copyFrom(statement)));
    };
  }
}

/** ~1 MB pieces: one giant string would double peak memory; one write per row would be slow. */
function* batches(lines: string[]): Generator<string> {
  const perBatch = 4000;
  for (let i = 0; i < lines.length; i += perBatch) {
    yield lines.slice(i, i + perBatch).join("\n") + "\n";
  }
}
