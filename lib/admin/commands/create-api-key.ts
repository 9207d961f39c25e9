import { z } from "zod";
import { API_KEY_SCOPES, generateApiKey } from "@/lib/api-keys/keys";
import { AdminError, defineCommand } from "../command";

/** `npm run admin -- create-api-key --workspace <slug> --scopes ingest,read`: the key alone on the last line. */
export const createApiKeyCommand = defineCommand({
  description: "Create an API key for a workspace; prints the key (shown only this once) alone on the last line.",
  usage: "--workspace <slug> [--scopes ingest,read (default ingest)] [--name <name>]",
  args: z.object({
    workspace: z.string().trim().min(1, "must be a workspace slug"),
    scopes: z
      .string()
      .default("ingest")
      .transform((value) =>
        [
          ...new Set(
            value
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean),
          ),
        ].sort(),
      )
      .pipe(
        z
          .array(z.enum(API_KEY_SCOPES, { message: `each scope must be one of: ${API_KEY_SCOPES.join(", ")}` }))
          .min(1, "name at least one scope"),
      ),
    name: z.string().trim().min(1).max(100).default("CLI key"),
  }),
  async run({ workspace, scopes, name }, { db, out }) {
    const generated = generateApiKey();
    const { rows } = await db.query<{ prefix: string }>(
      `INSERT INTO public.api_keys (workspace_id, name, prefix, secret_sha256, scopes)
       SELECT w.id, $2, $3, $4, $5 FROM public.workspaces w WHERE w.slug = $1
       RETURNING prefix`,
      [workspace, name, generated.prefix, generated.secretSha256, scopes],
    );
    if (rows.length === 0)
      throw new AdminError(`no workspace with slug "${workspace}"; see npm run admin -- list-workspaces`);
    out(
      `created API key "${name}" (${rows[0].prefix}…, scopes ${scopes.join(",")}) for workspace ${workspace}; it is not stored and cannot be shown again`,
    );
    out(generated.key);
  },
});
