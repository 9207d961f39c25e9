import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import {
  addDays,
  addMonths,
  groupBy,
  isoWeekStart,
  loadWorld,
  localDay,
  localParts,
  monthStart,
  sum,
  type World,
  worldArbitrary,
} from "./dimensions.testkit";
import { rebuildRollups } from "./engine";
import { rollupSteps } from "./steps";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

type Period = "daily" | "weekly" | "monthly";
const periodStartOf = (period: Period, day: string) =>
  period === "daily" ? day : period === "weekly" ? isoWeekStart(day) : monthStart(day);
const periodEndOf = (period: Period, start: string) =>
  period === "daily" ? addDays(start, 1) : period === "weekly" ? addDays(start, 7) : addMonths(start, 1);

function daysOf(world: World): string[] {
  const sorted = world.calls.map((c) => localDay(c.at, world.timezone)).sort();
  const days: string[] = [];
  for (let d = addDays(sorted[0], -1); d <= addDays(sorted[sorted.length - 1], 1); d = addDays(d, 1)) days.push(d);
  return days;
}

/** Brute force from the world's calls: one row per (period, start, user) with any call. */
function expectedUsage(world: World) {
  const rows = [];
  for (const period of ["daily", "weekly", "monthly"] as const) {
    const groups = groupBy(world.calls, (c) => [periodStartOf(period, localDay(c.at, world.timezone)), c.userIndex]);
    for (const group of groups.values()) {
      const start = periodStartOf(period, localDay(group[0].at, world.timezone));
      const runIds = new Set(group.filter((c) => c.runIndex !== null).map((c) => world.runs[c.runIndex ?? 0].id));
      const agentIds = [
        ...new Set(group.filter((c) => c.agentIndex !== null).map((c) => world.agents[c.agentIndex ?? 0].id)),
      ].sort();
      rows.push({
        period_type: period,
        start_day: start,
        end_day: periodEndOf(period, start),
        user_id: world.users[group[0].userIndex].id,
        total_prompt_tokens: sum(group.map((c) => c.promptTokens)),
        total_completion_tokens: sum(group.map((c) => c.completionTokens)),
        total_tokens: sum(group.map((c) => c.promptTokens + c.completionTokens)),
        cost_nanos: sum(group.map((c) => c.costNanos ?? 0)),
        unpriced_calls: group.filter((c) => c.costNanos === null).length,
        message_count: group.length,
        conversation_count: runIds.size,
        agent_ids: agentIds,
        last_activity: Math.max(...group.map((c) => c.at)),
      });
    }
  }
  return rows.map((r) => JSON.stringify(r)).sort();
}

/** Rows as JSON; the period bounds are checked to be local midnights and turned into local days in JS. */
async function actualUsage(workspaceId: string, timezone: string) {
  const { rows } = await db.owner.query<{
    period_type: string;
    period_start: number;
    period_end: number;
    user_id: string;
    total_prompt_tokens: number;
    total_completion_tokens: number;
    total_tokens: number;
    cost_nanos: number;
    unpriced_calls: number;
    message_count: number;
    conversation_count: number;
    agent_ids: string[];
    last_activity: number;
  }>(
    `SELECT period_type, (extract(epoch FROM period_start) * 1000)::float8 AS period_start,
            (extract(epoch FROM period_end) * 1000)::float8 AS period_end, user_id,
            total_prompt_tokens::float8 AS total_prompt_tokens, total_completion_tokens::float8 AS total_completion_tokens,
            total_tokens::float8 AS total_tokens, (total_cost_usd * 1e8)::float8 AS cost_nanos, unpriced_calls,
            message_count, conversation_count, agent_ids::text[] AS agent_ids,
            (extract(epoch FROM last_activity) * 1000)::float8 AS last_activity
     FROM analytics.user_token_usage WHERE workspace_id = $1`,
    [workspaceId],
  );
  return rows
    .map(({ period_start, period_end, ...row }) => {
      for (const instant of [period_start, period_end]) {
        const p = localParts(instant, timezone);
        expect([p.hour, p.minute, p.second]).toEqual([0, 0, 0]);
        expect(localDay(instant - 1000, timezone)).toBe(addDays(localDay(instant, timezone), -1));
      }
      return {
        period_type: row.period_type,
        start_day: localDay(period_start, timezone),
        end_day: localDay(period_end, timezone),
        user_id: row.user_id,
        total_prompt_tokens: row.total_prompt_tokens,
        total_completion_tokens: row.total_completion_tokens,
        total_tokens: row.total_tokens,
        cost_nanos: row.cost_nanos,
        unpriced_calls: row.unpriced_calls,
        message_count: row.message_count,
        conversation_count: row.conversation_count,
        agent_ids: row.agent_ids,
        last_activity: row.last_activity,
      };
    })
    .map((r) => JSON.stringify(r))
    .sort();
}

const rollup = (workspaceId: string | null, days: string[]) =>
  db.owner.query<{ n: number }>("SELECT analytics.rollup_token_usage($1, $2::date[]) AS n", [workspaceId, days]);

describe("analytics.rollup_token_usage", () => {
  it("fills every column of daily, weekly and monthly rows exactly as a brute-force recomputation", async () => {
    await fc.assert(
      fc.asyncProperty(worldArbitrary(), async (world) => {
        const workspaceId = await loadWorld(db.owner, world);
        const days = daysOf(world);
        await rollup(workspaceId, days);
        expect(await actualUsage(workspaceId, world.timezone)).toEqual(expectedUsage(world));
        // Idempotent.
        await rollup(workspaceId, days);
        expect(await actualUsage(workspaceId, world.timezone)).toEqual(expectedUsage(world));
      }),
      { numRuns: 30 },
    );
  });

  it("recomputing one day also recomputes its week and month, and deletes rows whose calls vanished", async () => {
    await fc.assert(
      fc.asyncProperty(worldArbitrary(), fc.nat(), async (world, pick) => {
        const workspaceId = await loadWorld(db.owner, world);
        await rollup(workspaceId, daysOf(world));
        // Every call of one local day vanishes; only that day is handed to the step.
        const victim = world.calls[pick % world.calls.length];
        const day = localDay(victim.at, world.timezone);
        const remaining = world.calls.filter((c) => localDay(c.at, world.timezone) !== day);
        const doomed = world.calls
          .filter((c) => localDay(c.at, world.timezone) === day)
          .map((c) => new Date(c.at).toISOString());
        await db.owner.query(
          "DELETE FROM public.llm_usage_logs WHERE workspace_id = $1 AND created_at = ANY($2::timestamptz[])",
          [workspaceId, doomed],
        );
        await rollup(workspaceId, [day]);
        expect(await actualUsage(workspaceId, world.timezone)).toEqual(expectedUsage({ ...world, calls: remaining }));
      }),
      { numRuns: 20 },
    );
  });

  it("attributes usage to the user who made the call, never to the agent or the run's owner (spec defect 8)", async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const agent = randomUUID();
    const at = Date.UTC(2026, 5, 10, 12);
    const world: World = {
      timezone: "UTC",
      users: [
        { id: alice, createdAt: at - 86_400_000 },
        { id: bob, createdAt: at - 86_400_000 },
      ],
      agents: [{ id: agent }],
      // Bob's run; Alice's calls reference it and are answered by the agent.
      runs: [
        {
          id: randomUUID(),
          userIndex: 1,
          agentIndex: 0,
          status: "completed",
          startedAt: at,
          runtimeMs: 1000,
          creditsUnits: 0,
          model: null,
          errorType: null,
          rating: null,
        },
      ],
      stages: [],
      calls: [100, 200].map((promptTokens) => ({
        userIndex: 0,
        agentIndex: 0,
        runIndex: 0,
        provider: "openai",
        model: "gpt-4o",
        promptTokens,
        completionTokens: 10,
        costNanos: null,
        latencyMs: 5,
        success: true,
        errorType: null,
        at,
      })),
    };
    const workspaceId = await loadWorld(db.owner, world);
    await rollup(workspaceId, ["2026-06-10"]);
    const { rows } = await db.owner.query(
      `SELECT period_type, user_id, total_prompt_tokens::int AS prompt, message_count, conversation_count,
              agent_ids::text[] AS agent_ids, total_cost_usd::float8 AS cost, unpriced_calls
       FROM analytics.user_token_usage WHERE workspace_id = $1 ORDER BY period_type`,
      [workspaceId],
    );
    const row = {
      user_id: alice,
      prompt: 300,
      message_count: 2,
      conversation_count: 1,
      agent_ids: [agent],
      cost: 0,
      unpriced_calls: 2,
    };
    expect(rows).toEqual([
      { period_type: "daily", ...row },
      { period_type: "monthly", ...row },
      { period_type: "weekly", ...row },
    ]);
  });

  it("a rebuild hands token_usage whole months (once each), also when interrupted and resumed", async () => {
    const tokenUsage = rollupSteps().filter((step) => step.name === "token_usage");
    expect(tokenUsage[0]?.rebuildPeriod).toBe("month");
    await fc.assert(
      fc.asyncProperty(worldArbitrary(), fc.integer({ min: 1, max: 3 }), fc.nat(6), async (world, chunkDays, stop) => {
        const workspaceId = await loadWorld(db.owner, world);
        const days = daysOf(world);
        const range = { from: days[0], to: days[days.length - 1], workspaceId, chunkDays, concurrency: 1 };
        // Stale rows the rebuild must replace: a user's row with nothing behind it.
        await db.owner.query(
          `INSERT INTO analytics.user_token_usage (workspace_id, user_id, period_start, period_end, period_type,
               total_prompt_tokens, total_completion_tokens, total_tokens, total_cost_usd, message_count)
           VALUES ($1, $2, ($3::date)::timestamp AT TIME ZONE $4, ($3::date + 1)::timestamp AT TIME ZONE $4,
                   'daily', 1, 1, 2, 0, 1)`,
          [workspaceId, world.users[0].id, days[0], world.timezone],
        );
        let progressCalls = 0;
        await rebuildRollups(db.owner, {
          ...range,
          steps: tokenUsage,
          onProgress: () => {
            progressCalls += 1;
            if (progressCalls === stop + 1) throw new Error("interrupted");
          },
        }).catch((error: unknown) => {
          if (!(error instanceof Error) || error.message !== "interrupted") throw error;
        });
        await rebuildRollups(db.owner, { ...range, steps: tokenUsage });
        expect(await actualUsage(workspaceId, world.timezone)).toEqual(expectedUsage(world));
      }),
      { numRuns: 25 },
    );
  });

  it("refuses a platform-wide call: token usage is per workspace", async () => {
    await expect(rollup(null, ["2026-01-01"])).rejects.toThrow(/per workspace/);
  });
});
