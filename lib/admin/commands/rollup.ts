import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import pg from "pg";
import { z } from "zod";
import { openDatabase } from "@/lib/db/database";
import { rebuildOptionsSchema, rebuildRollups } from "@/lib/rollups/engine";

export const ROLLUP_USAGE = `usage: npm run admin -- rollup --from <YYYY-MM-DD> --to <YYYY-MM-DD> [--workspace <slug>] [--chunk-days <n>]

Recomputes every rollup (hourly/daily metrics, agent performance, user activity, and every other
registered step) for the workspace-local days from..to, plus the platform-wide rows of those days.
Set-based: one statement per step per chunk of days. Resumable: rerun the same command after an
interruption and it continues where it stopped.`;

const argsSchema = z.object({
  from: z.string({ error: "--from is required" }),
  to: z.string({ error: "--to is required" }),
  workspace: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "--workspace takes a workspace slug (lowercase letters, digits, hyphens)")
    .optional(),
  "chunk-days": z.coerce.number().int().min(1).max(366).optional(),
});

export type CommandIo = { ownerUrl?: string; out?: (line: string) => void; progress?: boolean };

/** `rollup` admin command. Returns the process exit code; user mistakes print a message and return 2. */
export async function runRollupCommand(argv: string[], io: CommandIo = {}): Promise<number> {
  const out = io.out ?? ((line: string) => console.log(line));
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        from: { type: "string" },
        to: { type: "string" },
        workspace: { type: "string" },
        "chunk-days": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    }).values;
  } catch (error) {
    out(`error: ${error instanceof Error ? error.message : String(error)}\n\n${ROLLUP_USAGE}`);
    return 2;
  }
  if (values.help) {
    out(ROLLUP_USAGE);
    return 0;
  }
  const args = argsSchema.safeParse(values);
  if (!args.success) {
    out(`error: ${args.error.issues.map((issue) => issue.message).join("; ")}\n\n${ROLLUP_USAGE}`);
    return 2;
  }
  const db = io.ownerUrl ? null : await openDatabase();
  const ownerUrl = io.ownerUrl ?? db!.ownerUrl;
  const pool = new pg.Pool({ connectionString: ownerUrl, max: 2 });
  try {
    let workspaceId: string | undefined;
    if (args.data.workspace) {
      const { rows } = await pool.query<{ id: string }>("SELECT id FROM public.workspaces WHERE slug = $1", [
        args.data.workspace,
      ]);
      if (rows.length === 0) {
        out(`error: no workspace with slug "${args.data.workspace}"`);
        return 2;
      }
      workspaceId = rows[0].id;
    }
    const options = rebuildOptionsSchema.safeParse({
      from: args.data.from,
      to: args.data.to,
      workspaceId,
      chunkDays: args.data["chunk-days"],
    });
    if (!options.success) {
      out(`error: ${options.error.issues.map((issue) => issue.message).join("; ")}`);
      return 2;
    }
    const bar =
      io.progress === false
        ? null
        : new cliProgress.SingleBar(
            { format: "rollup [{bar}] {percentage}% | {value}/{total} scope-days | {scope} through {day}" },
            cliProgress.Presets.shades_classic,
          );
    let barStarted = false;
    const stats = await rebuildRollups(pool, {
      ...options.data,
      onProgress: (p) => {
        if (!bar) return;
        if (!barStarted) {
          bar.start(p.totalDays, 0, { scope: "", day: "" });
          barStarted = true;
        }
        bar.update(p.doneDays, { scope: p.scope === "platform" ? "platform" : p.scope.slice(0, 8), day: p.throughDay });
      },
    }).finally(() => bar?.stop());
    const rows = Object.entries(stats.rowsWritten)
      .map(([step, n]) => `${step}=${n}`)
      .join(", ");
    out(
      `rolled up ${stats.totalDays} scope-day(s) (${stats.scopes} scope(s)${stats.resumedDays > 0 ? `, ${stats.resumedDays} resumed` : ""}) in ${(stats.durationMs / 1000).toFixed(1)} s; rows written: ${rows || "none"}`,
    );
    return 0;
  } finally {
    await pool.end();
    await db?.close();
  }
}
