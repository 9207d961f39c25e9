import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { hashPassword } from "./password";
import { authenticateCredentials } from "./options";

let db: TestDatabase;
let accountId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const { rows } = await db.owner.query<{ id: string }>(
    "INSERT INTO public.accounts (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id",
    ["ada@example.test", "Ada", await hashPassword("correct horse battery")],
  );
  accountId = rows[0].id;
  await db.owner.query("INSERT INTO public.accounts (email, name) VALUES ('nopass@example.test', 'No password')");
});

afterAll(async () => {
  await db?.drop();
});

describe("authenticateCredentials", () => {
  it("returns the account for the right password, matching the e-mail case-insensitively", async () => {
    const account = await authenticateCredentials(
      { email: "  Ada@Example.TEST ", password: "correct horse battery" },
      db.ownerPrisma,
    );
    expect(account).toEqual({ id: accountId, email: "ada@example.test", name: "Ada" });
  });

  it("returns null for a wrong password, an unknown e-mail, an account without password and junk input", async () => {
    expect(await authenticateCredentials({ email: "ada@example.test", password: "wrong" }, db.ownerPrisma)).toBeNull();
    expect(
      await authenticateCredentials(
        { email: "nobody@example.test", password: "correct horse battery" },
        db.ownerPrisma,
      ),
    ).toBeNull();
    expect(await authenticateCredentials({ email: "nopass@example.test", password: "x" }, db.ownerPrisma)).toBeNull();
    expect(await authenticateCredentials({ email: "not an email", password: "x" }, db.ownerPrisma)).toBeNull();
    expect(await authenticateCredentials(undefined, db.ownerPrisma)).toBeNull();
  });
});
