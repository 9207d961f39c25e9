import { runAdmin } from "@/lib/admin/run";

// `npm run admin -- <command> [--flags]`; `npm run admin -- help` lists the commands.
runAdmin(process.argv.slice(2), {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
}).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
