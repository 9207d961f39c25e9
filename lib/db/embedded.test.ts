import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { embeddedSharedBuffersMb } from "./embedded";

const GiB = 2 ** 30;

describe("embedded PostgreSQL shared_buffers", () => {
  it("takes an eighth of the memory, between PostgreSQL's 128 MB default and 2 GB", () => {
    expect(embeddedSharedBuffersMb(undefined, 24 * GiB)).toBe(2048);
    expect(embeddedSharedBuffersMb(undefined, 8 * GiB)).toBe(1024);
    expect(embeddedSharedBuffersMb(undefined, 512 * 2 ** 20)).toBe(128);
  });

  it("EMBEDDED_PG_SHARED_BUFFERS_MB overrides it, and a wrong value says what it wants", () => {
    expect(embeddedSharedBuffersMb("256", 24 * GiB)).toBe(256);
    expect(embeddedSharedBuffersMb("", 8 * GiB)).toBe(1024);
    for (const bad of ["1GB", "8", "2.5", "100000"]) {
      expect(() => embeddedSharedBuffersMb(bad, 8 * GiB)).toThrow(
        `EMBEDDED_PG_SHARED_BUFFERS_MB must be a whole number of megabytes from 16 to 65536 (got "${bad}")`,
      );
    }
  });
});

describe("embedded PostgreSQL settings", () => {
  // Only when the tests started the embedded server themselves (not on TEST_DATABASE_URL's server).
  it.skipIf(Boolean(process.env.TEST_DATABASE_URL))("the embedded server runs with max_wal_size 4 GB", async () => {
    const client = new pg.Client({ connectionString: inject("pgServerUrl") });
    await client.connect();
    try {
      const { rows } = await client.query<{ max_wal_size: string }>("SHOW max_wal_size");
      expect(rows).toEqual([{ max_wal_size: "4GB" }]);
    } finally {
      await client.end();
    }
  });
});
