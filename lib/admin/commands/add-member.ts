import { z } from "zod";
import { WORKSPACE_ROLES } from "@/lib/access/permissions";
import { AdminError, defineCommand } from "../command";

export const addMember = defineCommand({
  description: "Give an account a role in a workspace (changes the role if it is already a member).",
  usage: `--workspace <slug> --email <email> --role ${WORKSPACE_ROLES.join("|")}`,
  args: z.object({
    workspace: z.string().trim().min(1, "must not be empty"),
    email: z.string().trim().toLowerCase().pipe(z.email("must be an e-mail address such as alice@example.com")),
    role: z.enum(WORKSPACE_ROLES, `must be one of ${WORKSPACE_ROLES.join(", ")}`),
  }),
  async run({ workspace, email, role }, { db, out }) {
    const found = await db.query<{ workspace_id: string | null; account_id: string | null }>(
      `SELECT (SELECT id FROM public.workspaces WHERE slug = $1) AS workspace_id,
              (SELECT id FROM public.accounts WHERE email = $2) AS account_id`,
      [workspace, email],
    );
    const { workspace_id: workspaceId, account_id: accountId } = found.rows[0];
    if (!workspaceId) {
      throw new AdminError(
        `no workspace with slug "${workspace}"; see the slugs with: npm run admin -- list-workspaces`,
      );
    }
    if (!accountId) {
      throw new AdminError(
        `no account with e-mail ${email}; create it first with: npm run admin -- create-user --email ${email} --password <password>`,
      );
    }
    // xmax = 0 only for a freshly inserted row: tells "added" from "changed role" in one statement.
    const { rows } = await db.query<{ inserted: boolean; previous_role: string | null }>(
      `WITH previous AS (SELECT role FROM public.workspace_members WHERE workspace_id = $1 AND account_id = $2)
       INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (workspace_id, account_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()
       RETURNING (xmax = 0) AS inserted, (SELECT role FROM previous) AS previous_role`,
      [workspaceId, accountId, role],
    );
    const { inserted, previous_role: previousRole } = rows[0];
    out(
      inserted
        ? `added ${email} to ${workspace} as ${role}`
        : previousRole === role
          ? `${email} already is ${role} of ${workspace}`
          : `changed ${email} in ${workspace} from ${previousRole} to ${role}`,
    );
  },
});
