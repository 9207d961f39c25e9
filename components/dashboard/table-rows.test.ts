import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentsTable } from "@/lib/dashboards/agents";
import { dashboardRange } from "@/lib/dashboards/range";
import type { DashboardScope } from "@/lib/dashboards/scope";
import { WORLD_TZ, buildMetricWorld, type MetricWorld } from "@/lib/metrics/testkit";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { pageRangeLabel, selectTableRows, tableCsv } from "./table-rows";

let db: TestDatabase;
let world: MetricWorld;
let memberId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await buildMetricWorld(db.owner, "table-world");
  // Two agents that never ran: the agents page must still list them (with zeros), and export them.
  await db.owner.query(
    `INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'idle-1', 'Idle One'), ($1, 'idle-2', 'Idle Two')`,
    [world.workspaceId],
  );
  const member = await db.owner.query<{ id: string }>(
    `INSERT INTO public.accounts (email) VALUES ('viewer@example.com') RETURNING id`,
  );
  memberId = member.rows[0].id;
  await db.owner.query(
    `INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'viewer')`,
    [world.workspaceId, memberId],
  );
});
afterAll(async () => {
  await db?.drop();
});

function scope(): DashboardScope {
  const params = { range: "custom", from: "2026-03-02", to: "2026-03-15" };
  return {
    accountId: memberId,
    workspace: { id: world.workspaceId, slug: "table-world", name: "Table world", timezone: WORLD_TZ },
    range: dashboardRange(params, WORLD_TZ, new Date("2026-03-20T12:00:00Z")),
    filters: {},
    canSeeAllUsers: false,
    canExportUsers: false,
    searchParams: params,
    db: db.appPrisma,
  };
}

describe("agents table rows = exported rows", () => {
  it("lists idle agents with zeros, and the CSV holds exactly the rows listed, in order", async () => {
    const agents = await agentsTable(scope());
    const { rows: counts } = await db.owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM public.agents WHERE workspace_id = $1`,
      [world.workspaceId],
    );
    expect(agents).toHaveLength(counts[0].n);
    const idle = agents.filter((a) => a.name.startsWith("Idle"));
    expect(idle.map((a) => [a.runs, a.credits, a.unique_users, a.success_rate])).toEqual([
      [0, 0, 0, null],
      [0, 0, 0, null],
    ]);

    const rows = agents.map((a) => ({
      id: a.agent_id,
      values: { name: a.name, runs: a.runs, success_rate: a.success_rate },
    }));
    const columns = [
      { key: "name", label: "Agent" },
      { key: "runs", label: "Runs" },
      { key: "success_rate", label: "Success rate" },
    ];

    // Sorted by success rate: idle agents (no rate) last, none dropped.
    const bySuccess = selectTableRows(rows, "", { key: "success_rate", dir: "desc" });
    expect(bySuccess).toHaveLength(agents.length);
    expect(bySuccess.slice(-2).map((r) => r.values.name)).toEqual(["Idle One", "Idle Two"]);
    const lines = tableCsv(columns, bySuccess).trimEnd().split("\r\n");
    expect(lines).toHaveLength(agents.length + 1);
    expect(lines.slice(1).map((l) => l.split(",")[0])).toEqual(bySuccess.map((r) => String(r.values.name)));
    expect(lines.at(-1)).toBe("Idle Two,0,");

    // Filtered: the export follows the filter.
    const filtered = selectTableRows(rows, "  idle ", { key: "name", dir: "asc" });
    expect(filtered.map((r) => r.values.name)).toEqual(["Idle One", "Idle Two"]);
    expect(tableCsv(columns, filtered).trimEnd().split("\r\n")).toEqual([
      "Agent,Runs,Success rate",
      "Idle One,0,",
      "Idle Two,0,",
    ]);
  });

  it("labels which rows of the export the page shows", () => {
    expect(pageRangeLabel(0, 25, 9)).toBe("Rows 1–9 of 9");
    expect(pageRangeLabel(1, 10, 23)).toBe("Rows 11–20 of 23");
    expect(pageRangeLabel(2, 10, 23)).toBe("Rows 21–23 of 23");
    expect(pageRangeLabel(0, 25, 0)).toBe("No rows");
  });
});
