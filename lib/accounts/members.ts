import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { AccessError, BadRequestError } from "@/lib/access/authorize";
import { WORKSPACE_ROLES, type WorkspaceRole } from "@/lib/access/permissions";
import type { Tx } from "@/lib/db/prisma";
import { recordAuditEvent } from "./audit";

/**
 * Members and invitations of one workspace. Every function takes a transaction opened by
 * withUserContext for the acting account (after authorizeWorkspace(slug, "members.manage")), so
 * row-level security and the membership triggers of migration 0030 apply on top of the checks here.
 * Rules: only an owner grants, changes or removes the owner role; a workspace keeps at least one
 * owner (both also enforced by triggers, whatever the code path).
 */
export type ActingMember = { workspaceId: string; accountId: string; role: WorkspaceRole | null; ip: string | null };

export const workspaceRoleSchema = z.enum(WORKSPACE_ROLES, { message: "Pick a role: owner, admin, member or viewer." });

export const inviteInputSchema = z.object({
  email: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.email({ message: "Enter a valid e-mail address." }).max(320)),
  role: workspaceRoleSchema,
});
export const changeRoleInputSchema = z.object({
  accountId: z.uuid({ message: "Unknown member." }),
  role: workspaceRoleSchema,
});
export const removeMemberInputSchema = z.object({ accountId: z.uuid({ message: "Unknown member." }) });
export const revokeInvitationInputSchema = z.object({ invitationId: z.uuid({ message: "Unknown invitation." }) });

const memberRowSchema = z.object({
  account_id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  role: z.enum(WORKSPACE_ROLES),
  joined_at: z.date(),
});
export type MemberRow = z.infer<typeof memberRowSchema>;

/** The workspace's members with names and e-mails (owners/admins and platform admins only; else empty). */
export async function listMembers(tx: Tx, workspaceId: string): Promise<MemberRow[]> {
  const rows = await tx.$queryRaw<unknown[]>`
    SELECT account_id::text, email, name, role, joined_at FROM app.workspace_member_directory(${workspaceId}::uuid)`;
  return z.array(memberRowSchema).parse(rows);
}

const invitationRowSchema = z.object({
  id: z.string(),
  email: z.string(),
  role: z.enum(WORKSPACE_ROLES),
  created_at: z.date(),
  expires_at: z.date(),
  expired: z.boolean(),
});
export type InvitationRow = z.infer<typeof invitationRowSchema>;

/** Open (not accepted, not revoked) invitations, newest first; expired ones are flagged. */
export async function listOpenInvitations(tx: Tx, workspaceId: string): Promise<InvitationRow[]> {
  const rows = await tx.$queryRaw<unknown[]>`
    SELECT id::text, email, role, created_at, expires_at, expires_at <= now() AS expired
    FROM public.workspace_invitations
    WHERE workspace_id = ${workspaceId}::uuid AND accepted_at IS NULL AND revoked_at IS NULL
    ORDER BY created_at DESC`;
  return z.array(invitationRowSchema).parse(rows);
}

export function hashInvitationToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

function requireOwnerFor(actor: ActingMember, what: string): void {
  if (actor.role !== "owner") throw new AccessError(403, `Only an owner can ${what}.`);
}

/** Database-side refusals (a race with another admin) as client errors, not 500s. */
async function mapMembershipErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    if (message.includes("a workspace must keep at least one owner")) {
      throw new BadRequestError("A workspace must keep at least one owner: make someone else an owner first.");
    }
    if (message.includes("only an owner can grant, change or remove the owner role")) {
      throw new AccessError(403, "Only an owner can grant, change or remove the owner role.");
    }
    throw error;
  }
}

/**
 * Invites an e-mail with a role (inviting again refreshes the open invitation). Returns the
 * invitation link's token, shown once: its sha256 is stored, not the token.
 */
export async function inviteMember(
  tx: Tx,
  actor: ActingMember,
  input: unknown,
): Promise<{ invitationId: string; token: string; email: string; role: WorkspaceRole }> {
  const { email, role } = inviteInputSchema.parse(input);
  if (role === "owner") requireOwnerFor(actor, "invite an owner");
  const members = await listMembers(tx, actor.workspaceId);
  if (members.some((m) => m.email === email))
    throw new BadRequestError(`${email} is already a member of this workspace.`);
  const token = randomBytes(32).toString("base64url");
  const tokenSha256 = hashInvitationToken(token);
  // The SET list repeats the parameters instead of reading EXCLUDED: the app role may not SELECT
  // token_sha256, and reading EXCLUDED columns needs SELECT on them.
  const rows = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO public.workspace_invitations (workspace_id, email, role, token_sha256, invited_by)
    VALUES (${actor.workspaceId}::uuid, ${email}, ${role}, ${tokenSha256}, ${actor.accountId}::uuid)
    ON CONFLICT (workspace_id, email) WHERE accepted_at IS NULL AND revoked_at IS NULL
    DO UPDATE SET role = ${role}, token_sha256 = ${tokenSha256}, invited_by = ${actor.accountId}::uuid,
                  created_at = now(), expires_at = now() + interval '14 days'
    RETURNING id::text`;
  const invitationId = rows[0].id;
  await recordAuditEvent(tx, {
    workspaceId: actor.workspaceId,
    action: "member.invited",
    target: { type: "invitation", id: invitationId },
    details: { email, role },
    ip: actor.ip,
  });
  return { invitationId, token, email, role };
}

export async function revokeInvitation(tx: Tx, actor: ActingMember, input: unknown): Promise<void> {
  const { invitationId } = revokeInvitationInputSchema.parse(input);
  const rows = await tx.$queryRaw<{ email: string; role: string }[]>`
    UPDATE public.workspace_invitations SET revoked_at = now()
    WHERE workspace_id = ${actor.workspaceId}::uuid AND id = ${invitationId}::uuid AND accepted_at IS NULL AND revoked_at IS NULL
    RETURNING email, role`;
  if (rows.length === 0) throw new BadRequestError("That invitation is no longer open.");
  await recordAuditEvent(tx, {
    workspaceId: actor.workspaceId,
    action: "invitation.revoked",
    target: { type: "invitation", id: invitationId },
    details: { email: rows[0].email, role: rows[0].role },
    ip: actor.ip,
  });
}

async function findMember(
  tx: Tx,
  workspaceId: string,
  accountId: string,
): Promise<{ member: MemberRow; owners: number }> {
  const members = await listMembers(tx, workspaceId);
  const member = members.find((m) => m.account_id === accountId);
  if (!member) throw new BadRequestError("That person is not a member of this workspace.");
  return { member, owners: members.filter((m) => m.role === "owner").length };
}

export async function changeMemberRole(tx: Tx, actor: ActingMember, input: unknown): Promise<void> {
  const { accountId, role } = changeRoleInputSchema.parse(input);
  const { member, owners } = await findMember(tx, actor.workspaceId, accountId);
  if (member.role === role) return;
  if (member.role === "owner" || role === "owner") requireOwnerFor(actor, "grant or change the owner role");
  if (member.role === "owner" && owners <= 1) {
    throw new BadRequestError("A workspace must keep at least one owner: make someone else an owner first.");
  }
  await mapMembershipErrors(
    () => tx.$executeRaw`
      UPDATE public.workspace_members SET role = ${role}, updated_at = now()
      WHERE workspace_id = ${actor.workspaceId}::uuid AND account_id = ${accountId}::uuid`,
  );
  await recordAuditEvent(tx, {
    workspaceId: actor.workspaceId,
    action: "member.role_changed",
    target: { type: "account", id: accountId },
    details: { email: member.email, from: member.role, to: role },
    ip: actor.ip,
  });
}

export async function removeMember(tx: Tx, actor: ActingMember, input: unknown): Promise<void> {
  const { accountId } = removeMemberInputSchema.parse(input);
  const { member, owners } = await findMember(tx, actor.workspaceId, accountId);
  if (member.role === "owner" && accountId !== actor.accountId) requireOwnerFor(actor, "remove an owner");
  if (member.role === "owner" && owners <= 1) {
    throw new BadRequestError("The last owner cannot be removed: make someone else an owner first.");
  }
  // Audit first: once an admin removes themselves, they are no longer a member of the workspace.
  await recordAuditEvent(tx, {
    workspaceId: actor.workspaceId,
    action: "member.removed",
    target: { type: "account", id: accountId },
    details: { email: member.email, role: member.role },
    ip: actor.ip,
  });
  await mapMembershipErrors(
    () => tx.$executeRaw`
      DELETE FROM public.workspace_members WHERE workspace_id = ${actor.workspaceId}::uuid AND account_id = ${accountId}::uuid`,
  );
}
