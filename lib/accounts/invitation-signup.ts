import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { BadRequestError } from "@/lib/access/authorize";
import { hashPassword, passwordPolicy } from "@/lib/auth/password";
import { ownerPrisma } from "@/lib/db/prisma";
import { hashInvitationToken } from "./members";
import { acceptPendingInvitations } from "./sign-in";

/**
 * The invitation link (/invite/<token>) for a person who has no account yet. Like sign-in, this
 * happens before anyone is authenticated, so it uses the owner connection; the token (32 random
 * bytes, only its sha256 stored) is the proof that the person received the invitation e-mail.
 */
export const invitationTokenSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, { message: "This invitation link is not valid." });

const openInvitationSchema = z.object({
  email: z.string(),
  role: z.string(),
  workspace_name: z.string(),
  workspace_slug: z.string(),
  has_account: z.boolean(),
});
export type OpenInvitation = z.infer<typeof openInvitationSchema>;

/** The open, unexpired invitation behind a link, or null. */
export async function findOpenInvitation(
  token: string,
  owner: PrismaClient = ownerPrisma(),
): Promise<OpenInvitation | null> {
  const parsed = invitationTokenSchema.safeParse(token);
  if (!parsed.success) return null;
  const rows = await owner.$queryRaw<unknown[]>`
    SELECT i.email, i.role, w.name AS workspace_name, w.slug AS workspace_slug,
           EXISTS (SELECT 1 FROM public.accounts a WHERE a.email = i.email) AS has_account
    FROM public.workspace_invitations i JOIN public.workspaces w ON w.id = i.workspace_id
    WHERE i.token_sha256 = ${hashInvitationToken(parsed.data)}
      AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()`;
  return rows.length === 1 ? openInvitationSchema.parse(rows[0]) : null;
}

export const invitationSignupInputSchema = z
  .object({
    token: invitationTokenSchema,
    name: z.string().trim().min(1, { message: "Enter your name." }).max(200),
    password: passwordPolicy,
    confirmPassword: z.string(),
  })
  .refine((v) => v.password === v.confirmPassword, { message: "The two passwords differ.", path: ["confirmPassword"] });

/**
 * Creates the invited person's account (e-mail from the invitation) and accepts their open
 * invitations. Refuses when the e-mail already has an account: that person signs in instead.
 */
export async function createAccountFromInvitation(
  input: unknown,
  owner: PrismaClient = ownerPrisma(),
): Promise<{ email: string; workspaceSlug: string }> {
  const { token, name, password } = invitationSignupInputSchema.parse(input);
  const invitation = await findOpenInvitation(token, owner);
  if (!invitation) throw new BadRequestError("This invitation is no longer valid; ask for a new one.");
  if (invitation.has_account)
    throw new BadRequestError("An account with this e-mail exists: sign in to accept the invitation.");
  const hash = await hashPassword(password);
  const rows = await owner.$queryRaw<{ id: string }[]>`
    INSERT INTO public.accounts (email, name, password_hash) VALUES (${invitation.email}, ${name}, ${hash})
    ON CONFLICT (email) DO NOTHING RETURNING id::text`;
  if (rows.length === 0)
    throw new BadRequestError("An account with this e-mail exists: sign in to accept the invitation.");
  await acceptPendingInvitations(owner, rows[0].id);
  return { email: invitation.email, workspaceSlug: invitation.workspace_slug };
}
