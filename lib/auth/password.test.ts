import { describe, expect, it } from "vitest";
import { hashPassword, passwordPolicy, verifyPassword } from "./password";

describe("hashPassword / verifyPassword", () => {
  it("produces an Argon2id PHC string with the OWASP parameters", async () => {
    const stored = await hashPassword("correct horse battery");
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it("verifies the right password and rejects a wrong one", async () => {
    const stored = await hashPassword("correct horse battery");
    expect(await verifyPassword(stored, "correct horse battery")).toBe(true);
    expect(await verifyPassword(stored, "correct horse batterY")).toBe(false);
    expect(await verifyPassword(stored, "")).toBe(false);
  });

  it("salts: the same password hashes differently each time, and both verify", async () => {
    const a = await hashPassword("pulseboard-demo");
    const b = await hashPassword("pulseboard-demo");
    expect(a).not.toBe(b);
    expect(await verifyPassword(a, "pulseboard-demo")).toBe(true);
    expect(await verifyPassword(b, "pulseboard-demo")).toBe(true);
  });

  it("treats a missing or malformed stored hash as a non-match instead of throwing", async () => {
    expect(await verifyPassword(null, "anything-long")).toBe(false);
    expect(await verifyPassword("", "anything-long")).toBe(false);
    expect(await verifyPassword("plaintext-password", "plaintext-password")).toBe(false);
    expect(await verifyPassword("$argon2id$v=19$garbage", "anything-long")).toBe(false);
  });
});

describe("passwordPolicy", () => {
  it("accepts 10 characters and rejects 9", () => {
    expect(passwordPolicy.safeParse("abcdefghij").success).toBe(true);
    const short = passwordPolicy.safeParse("abcdefghi");
    expect(short.success).toBe(false);
    expect(short.error?.issues[0].message).toMatch(/at least 10 characters/);
  });

  it("rejects passwords that are mostly whitespace and absurdly long ones", () => {
    expect(passwordPolicy.safeParse("   abc    ").success).toBe(false);
    expect(passwordPolicy.safeParse("x".repeat(257)).success).toBe(false);
    expect(passwordPolicy.safeParse("x".repeat(256)).success).toBe(true);
  });
});
