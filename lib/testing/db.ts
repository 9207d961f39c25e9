import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { prismaFor } from "@/lib/db/prisma";
import { appUrlFor, withDatabase } from "@/lib/db/urls";

import { TEMPLATE_DATABASE } from "./template";

export type TestDatabase = {
  name: string;
  ownerUrl: string;
  appUrl: string;
  /** Owner pool: build fixtures, run rollups, check results with raw SQL. */
  owner: pg.Pool;
  /** Prisma as the owner (bypasses nothing but table ownership; RLS is FORCEd for the app role). */
  ownerPrisma: PrismaClient;
  /** Prisma as the app role, exactly as the web app connects. */
  appPrisma: PrismaClient;
  drop: () => Promise<void>;
};

/**
 * A fresh, fully migrated database of its own, cloned from the template the global setup built.
 * Call in `beforeAll`, `drop()` in `afterAll`.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject("pgServerUrl");
  const name = `test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  await admin.query(`GRANT CONNECT ON DATABASE ${name} TO pulseboard_app`);
  await admin.end();
  const ownerUrl = withDatabase(serverUrl, name);
  const appUrl = appUrlFor(ownerUrl);
  const owner = new pg.Pool({ connectionString: ownerUrl, max: 4 });
  // DROP DATABASE … WITH (FORCE) terminates connections still closing; that is expected, not a failure.
  owner.on("error", () => {});
  const ownerPrisma = prismaFor(ownerUrl, { max: 4 });
  const appPrisma = prismaFor(appUrl, { max: 4 });
  return {
    name,
    ownerUrl,
    appUrl,
    owner,
    ownerPrisma,
    appPrisma,
    drop: async () => {
      await Promise.allSettled([owner.end(), ownerPrisma.$disconnect(), appPrisma.$disconnect()]);
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
