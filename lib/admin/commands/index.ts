import type { AdminCommand } from "../command";
import { addMember } from "./add-member";
import { createApiKeyCommand } from "./create-api-key";
import { createUser } from "./create-user";
import { createWorkspace } from "./create-workspace";
import { listWorkspaces } from "./list-workspaces";
import { rollupCommand } from "./rollup";

/**
 * Every `npm run admin -- <command>`: add one file under lib/admin/commands/ exporting a
 * `defineCommand({ description, usage, args: z.object(...), run })`, and one line here.
 * (`help` is built into the runner.)
 */
export const ADMIN_COMMANDS: Record<string, AdminCommand> = {
  "create-user": createUser,
  "create-workspace": createWorkspace,
  "add-member": addMember,
  "list-workspaces": listWorkspaces,
  "create-api-key": createApiKeyCommand,
  rollup: rollupCommand,
};
