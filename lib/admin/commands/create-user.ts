import { z } from "zod";
import { hashPassword, passwordPolicy } from "@/lib/auth/password";
import { AdminError, defineCommand, pgErrorCode } from "../command";

export const createUser = defineCommand({
  description: "Create a sign-in account (optionally a platform admin).",
  usage: "--email <email> --password <password> [--name <name>] [--admin]",
  args: z.object({
    email: z.string().trim().toLowerCase().pipe(z.email("must be an e-mail address such as alice@example.com")),
    password: passwordPolicy,
    name: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters").optional(),
    admin: z.boolean().default(false),
  }),
  async run({ email, password, name, admin }, { db, out }) {
    const passwordHash = await hashPassword(password);
    try {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO public.accounts (email, name, password_hash, is_platform_admin) VALUES ($1, $2, $3, $4) RETURNING id`,
        [email, name ?? null, passwordHash, admin],
      );
      out(`created account ${email}${admin ? " (platform admin)" : ""}`);
      out(rows[0].id);
    } catch (error) {
      if (pgErrorCode(error) === "23505") {
        throw new AdminError(`an account with e-mail ${email} already exists; use another --email`);
      }
      throw error;
    }
  },
});
