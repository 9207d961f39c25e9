import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { ingestRetentionFromEnv, purgeIngestState } from "./retention";

let db: TestDatabase;
const ws = "00000000-0000-4000-8000-00000000a001";
const key = "00000000-0000-4000-8000-00000000a002";

beforeAll(async () => {
  db = await createTestDatabase();
  await db.owner.query("INSERT INTO public.workspaces (id, slug, name) VALUES ($1, 'ret', 'Ret')", [ws]);
  await db.owner.query(
    `INSERT INTO public.api_keys (workspace_id, id, name, prefix, secret_sha256, scopes)
     VALUES ($1, $2, 'k', 'pb_0000aaaa', sha256('k'), '{ingest}')`,
    [ws, key],
  );
  // Event ids received 1, 30, 89, 91 and 400 days ago; answers 1 hour, 23 hours, 25 hours and 3 days ago.
  await db.owner.query(
    `INSERT INTO public.ingest_events (workspace_id, event_id, received_at)
     SELECT $1, 'e-' || d, now() - make_interval(days => d) FROM unnest(ARRAY[1, 30, 89, 91, 400]) AS d`,
    [ws],
  );
  await db.owner.query(
    `INSERT INTO public.ingest_idempotency_keys (workspace_id, api_key_id, idempotency_key, request_sha256, status_code, response, created_at)
     SELECT $1, $2, 'k-' || h, '\\x01', 207, '{}'::jsonb, now() - make_interval(hours => h) FROM unnest(ARRAY[1, 23, 25, 72]) AS h`,
    [ws, key],
  );
});

afterAll(async () => {
  await db?.drop();
});

describe("ingest state retention", () => {
  it("reads INGEST_DEDUPE_DAYS (default 90) and refuses nonsense with the variable's name", () => {
    expect(ingestRetentionFromEnv({})).toEqual({ eventIdsKeepDays: 90 });
    expect(ingestRetentionFromEnv({ INGEST_DEDUPE_DAYS: "35" })).toEqual({ eventIdsKeepDays: 35 });
    expect(() => ingestRetentionFromEnv({ INGEST_DEDUPE_DAYS: "0" })).toThrow(/INGEST_DEDUPE_DAYS must be at least 1/);
    expect(() => ingestRetentionFromEnv({ INGEST_DEDUPE_DAYS: "soon" })).toThrow(/INGEST_DEDUPE_DAYS/);
  });

  it("deletes answers past the 24-hour replay window and event ids past the dedupe window, nothing else", async () => {
    const result = await purgeIngestState(db.owner, { eventIdsKeepDays: 90 });
    expect(result).toEqual({ idempotencyAnswers: 2, eventIds: 2 });
    const events = await db.owner.query<{ event_id: string }>(
      "SELECT event_id FROM public.ingest_events ORDER BY received_at DESC",
    );
    expect(events.rows.map((row) => row.event_id)).toEqual(["e-1", "e-30", "e-89"]);
    const answers = await db.owner.query<{ idempotency_key: string }>(
      "SELECT idempotency_key FROM public.ingest_idempotency_keys ORDER BY created_at DESC",
    );
    expect(answers.rows.map((row) => row.idempotency_key)).toEqual(["k-1", "k-23"]);
    // A second run has nothing left to do.
    expect(await purgeIngestState(db.owner, { eventIdsKeepDays: 90 })).toEqual({ idempotencyAnswers: 0, eventIds: 0 });
  });

  it("refuses a window shorter than the replay promise instead of deleting live state", async () => {
    await expect(
      db.owner.query("SELECT * FROM app.purge_ingest_state(interval '1 hour', interval '90 days')"),
    ).rejects.toThrow(/at least 24 hours/);
    await expect(
      db.owner.query("SELECT * FROM app.purge_ingest_state(interval '24 hours', interval '1 hour')"),
    ).rejects.toThrow(/at least 1 day/);
  });

  it("is not callable by the app role", async () => {
    await expect(
      db.appPrisma.$queryRawUnsafe("SELECT * FROM app.purge_ingest_state(interval '24 hours', interval '90 days')"),
    ).rejects.toThrow(/permission denied/);
  });
});
