import { execFileSync } from "node:child_process";

// `prisma generate` needs no schema engine, but the CLI insists the variable names an existing file
// when it cannot download one (no internet here). Any existing file satisfies the check.
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
};
execFileSync("npx", ["prisma", "generate"], { stdio: ["ignore", "ignore", "inherit"], env });
