import { runSeedCli } from "@/lib/seed/cli";

// `npm run db:seed -- --scale demo --seed 42 [--now ISO] [--force]`: see lib/seed/cli.ts.
runSeedCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
