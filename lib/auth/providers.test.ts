import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { enabledOAuthProviders } from "@/lib/accounts/oauth";
import { cjsDefault } from "./interop";
import { authOptions } from "./options";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../..");

describe("cjsDefault", () => {
  it("returns the factory whether the loader unwrapped the CommonJS default export or not", () => {
    const factory = (n: number) => n * 2;
    expect(cjsDefault(factory)(21)).toBe(42);
    expect(cjsDefault({ default: factory })(21)).toBe(42);
  });
});

describe("authOptions", () => {
  it("builds the credentials provider first, with an authorize function", () => {
    const [credentials] = authOptions.providers;
    expect(credentials.id).toBe("credentials");
    expect(credentials.type).toBe("credentials");
    expect(credentials.type === "credentials" && typeof credentials.options.authorize).toBe("function");
  });

  // The bug this guards: under Node's ESM loader (tsx scripts) the default import of a next-auth
  // provider is the module object, and `CredentialsProvider(...)` threw "is not a function".
  it("loads under Node's ESM loader (tsx) with every OAuth provider switched on", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pulseboard-auth-"));
    try {
      const script = path.join(dir, "load-options.mts");
      await writeFile(
        script,
        `import { authOptions } from ${JSON.stringify(path.join(repoRoot, "lib/auth/options.ts"))};\n` +
          `console.log(JSON.stringify(authOptions.providers.map((p) => [p.id, p.type, p.name])));\n`,
      );
      const { stdout } = await run(path.join(repoRoot, "node_modules/.bin/tsx"), [script], {
        cwd: repoRoot,
        env: {
          ...process.env,
          GITHUB_CLIENT_ID: "gh-id",
          GITHUB_CLIENT_SECRET: "gh-secret",
          GOOGLE_CLIENT_ID: "g-id",
          GOOGLE_CLIENT_SECRET: "g-secret",
          OIDC_ISSUER: "https://login.example.test/realms/x/",
          OIDC_CLIENT_ID: "o-id",
          OIDC_CLIENT_SECRET: "o-secret",
          OIDC_NAME: "Example SSO",
        },
      });
      expect(JSON.parse(stdout.trim().split("\n").at(-1) ?? "null")).toEqual([
        ["credentials", "credentials", "Credentials"],
        ["github", "oauth", "GitHub"],
        ["google", "oauth", "Google"],
        ["oidc", "oauth", "Example SSO"],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** An environment with only these variables set (besides NODE_ENV, which the type requires). */
const env = (vars: Record<string, string>): NodeJS.ProcessEnv => ({ NODE_ENV: "test", ...vars });

describe("enabledOAuthProviders (login page buttons)", () => {
  it("is empty when no provider is configured, or only half of one", () => {
    expect(enabledOAuthProviders(env({}))).toEqual([]);
    expect(
      enabledOAuthProviders(env({ GITHUB_CLIENT_ID: "id", GOOGLE_CLIENT_SECRET: "s", OIDC_ISSUER: "https://x.test" })),
    ).toEqual([]);
  });

  it("lists each configured provider once, in a fixed order, with its label", () => {
    expect(enabledOAuthProviders(env({ GOOGLE_CLIENT_ID: "id", GOOGLE_CLIENT_SECRET: "s" }))).toEqual([
      { id: "google", name: "Google" },
    ]);
    expect(
      enabledOAuthProviders(
        env({
          OIDC_ISSUER: "https://login.example.test",
          OIDC_CLIENT_ID: "id",
          OIDC_CLIENT_SECRET: "s",
          GITHUB_CLIENT_ID: "id",
          GITHUB_CLIENT_SECRET: "s",
        }),
      ),
    ).toEqual([
      { id: "github", name: "GitHub" },
      { id: "oidc", name: "Single sign-on" },
    ]);
  });
});
