import { z } from "zod";
import { AdminError, defineCommand, pgErrorCode } from "../command";

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** "Acme Cloud (EU)" → "acme-cloud-eu". */
export function slugFromName(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 60)
    .replace(/-+$/, "");
}

export const createWorkspace = defineCommand({
  description: "Create a workspace; prints its slug alone on the last line.",
  usage: "--name <name> [--slug <slug>] [--timezone <IANA zone, default UTC>]",
  args: z.object({
    name: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters"),
    slug: z
      .string()
      .regex(SLUG, "must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit")
      .optional(),
    timezone: z.string().trim().min(1, "must not be empty").default("UTC"),
  }),
  async run({ name, slug, timezone }, { db, out }) {
    const zone = await db.query<{ name: string }>("SELECT name FROM pg_timezone_names WHERE name = $1", [timezone]);
    if (zone.rowCount === 0) {
      throw new AdminError(
        `unknown time zone "${timezone}"; use an IANA name such as Europe/Berlin or America/New_York`,
      );
    }
    const base = slug ?? slugFromName(name);
    if (!SLUG.test(base)) {
      throw new AdminError(
        `cannot derive a slug from the name "${name}"; pass --slug (lowercase letters, digits, dashes)`,
      );
    }
    // An explicit slug must be free; a derived one gets the first free numeric suffix.
    const { rows } = await db
      .query<{ slug: string }>(
        slug
          ? `INSERT INTO public.workspaces (slug, name, timezone) VALUES ($1, $2, $3)
           ON CONFLICT (slug) DO NOTHING RETURNING slug`
          : `INSERT INTO public.workspaces (slug, name, timezone)
           SELECT candidate, $2, $3
           FROM (SELECT CASE WHEN n = 1 THEN $1 ELSE $1 || '-' || n END AS candidate, n FROM generate_series(1, 1000) AS n) c
           WHERE NOT EXISTS (SELECT 1 FROM public.workspaces w WHERE w.slug = c.candidate)
           ORDER BY n LIMIT 1
           ON CONFLICT (slug) DO NOTHING RETURNING slug`,
        [base, name, timezone],
      )
      .catch((error: unknown) => {
        if (pgErrorCode(error) === "23514")
          throw new AdminError(`invalid workspace: ${error instanceof Error ? error.message : String(error)}`);
        throw error;
      });
    if (rows.length === 0) {
      throw new AdminError(`a workspace with slug "${base}" already exists; pass another --slug`);
    }
    out(`created workspace "${name}" (time zone ${timezone})`);
    out(rows[0].slug);
  },
});
