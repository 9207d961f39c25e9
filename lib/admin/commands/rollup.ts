import cliProgress from "cli-progress";
import { z } from "zod";
import { rebuildOptionsSchema, rebuildRollups } from "@/lib/rollups/engine";
import { AdminError, defineCommand } from "../command";

const isoDay = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date as YYYY-MM-DD");

/**
 * `npm run admin -- rollup --from <date> --to <date> [--workspace <slug>] [--chunk-days <n>]`:
 * recomputes every registered rollup for the workspace-local days from..to (and the platform-wide
 * rows of those days), set-based, with a progress bar; rerunning after an interruption resumes.
 */
export const rollupCommand = defineCommand({
  description:
    "Recompute every rollup for a date range (set-based, resumable: rerun the same command after an interruption).",
  usage: "--from <YYYY-MM-DD> --to <YYYY-MM-DD> [--workspace <slug>] [--chunk-days <n (default 7)>]",
  args: z.object({
    from: isoDay,
    to: isoDay,
    workspace: z.string().trim().min(1, "must be a workspace slug").optional(),
    "chunk-days": z.coerce.number().int().min(1, "must be 1 to 366").max(366, "must be 1 to 366").default(7),
  }),
  async run(args, { db, out }) {
    let workspaceId: string | undefined;
    if (args.workspace) {
      const { rows } = await db.query<{ id: string }>("SELECT id FROM public.workspaces WHERE slug = $1", [
        args.workspace,
      ]);
      if (rows.length === 0) {
        throw new AdminError(`no workspace with slug "${args.workspace}"; see npm run admin -- list-workspaces`);
      }
      workspaceId = rows[0].id;
    }
    const options = rebuildOptionsSchema.safeParse({
      from: args.from,
      to: args.to,
      workspaceId,
      chunkDays: args["chunk-days"],
    });
    if (!options.success) {
      const issue = options.error.issues[0];
      throw new AdminError(`--${String(issue.path[0] ?? "from")}: ${issue.message}`);
    }
    // Drawn on stderr, and only on a terminal: piped output stays clean.
    const bar = new cliProgress.SingleBar(
      { format: "rollup [{bar}] {percentage}% | {value}/{total} scope-days | {scope} through {day}", etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    const stats = await rebuildRollups(db, {
      ...options.data,
      onProgress: (p) => {
        if (!started) {
          bar.start(p.totalDays, 0, { scope: "", day: "" });
          started = true;
        }
        bar.update(p.doneDays, { scope: p.scope === "platform" ? "platform" : p.scope.slice(0, 8), day: p.throughDay });
      },
    }).finally(() => {
      if (started) bar.stop();
    });
    const written = Object.entries(stats.rowsWritten)
      .map(([step, n]) => `${step}=${n}`)
      .join(", ");
    out(
      `rolled up ${stats.totalDays} scope-day(s) (${stats.scopes} scope(s)${stats.resumedDays > 0 ? `, ${stats.resumedDays} resumed from an earlier run` : ""}) in ${(stats.durationMs / 1000).toFixed(1)} s; rows written: ${written || "none"}`,
    );
  },
});
