import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyApiKey } from "@/lib/api-keys/keys";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { createWorkspace } from "@/lib/ingest/test-fixtures";
import { createApiKeyCommand } from "./create-api-key";

let db: TestDatabase;
let workspaceId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  workspaceId = await createWorkspace(db.owner, "cli");
});
afterAll(async () => {
  await db?.drop();
});

describe("admin create-api-key", () => {
  it("prints a working key alone on the last line", async () => {
    const out: string[] = [];
    const args = createApiKeyCommand.args.parse({ workspace: "cli", scopes: "read, ingest,ingest" });
    await createApiKeyCommand.run(args, { db: db.owner, out: (line) => out.push(line) });
    const key = out[out.length - 1];
    expect(await verifyApiKey(db.appPrisma, key)).toMatchObject({ workspaceId, scopes: ["ingest", "read"] });
  });

  it("refuses an unknown workspace or scope with a fixable message", async () => {
    const args = createApiKeyCommand.args.parse({ workspace: "nope" });
    await expect(createApiKeyCommand.run(args, { db: db.owner, out: () => {} })).rejects.toThrow(
      /no workspace with slug "nope"/,
    );
    expect(createApiKeyCommand.args.safeParse({ workspace: "cli", scopes: "admin" }).success).toBe(false);
  });
});
