import { z } from "zod";
import { defineCommand } from "../command";

export const listWorkspaces = defineCommand({
  description: "List workspaces with their time zone, member and tracked-user counts.",
  usage: "",
  args: z.object({}),
  async run(_args, { db, out }) {
    const { rows } = await db.query<{ slug: string; name: string; timezone: string; members: number; users: number }>(
      `SELECT w.slug, w.name, w.timezone,
              (SELECT count(*)::int FROM public.workspace_members m WHERE m.workspace_id = w.id) AS members,
              (SELECT count(*)::int FROM public.users u WHERE u.workspace_id = w.id) AS users
       FROM public.workspaces w ORDER BY w.slug`,
    );
    if (rows.length === 0) {
      out('no workspaces yet; create one with: npm run admin -- create-workspace --name "Acme"');
      return;
    }
    const header = { slug: "SLUG", name: "NAME", timezone: "TIMEZONE", members: "MEMBERS", users: "TRACKED USERS" };
    const table = [header, ...rows.map((r) => ({ ...r, members: String(r.members), users: String(r.users) }))];
    const width = (key: keyof typeof header) => Math.max(...table.map((r) => r[key].length));
    for (const r of table) {
      out(
        [
          r.slug.padEnd(width("slug")),
          r.name.padEnd(width("name")),
          r.timezone.padEnd(width("timezone")),
          r.members.padStart(width("members")),
          r.users.padStart(width("users")),
        ].join("  "),
      );
    }
  },
});
