"use server";

import { revalidatePath } from "next/cache";
import { headers } from "next/headers";
import { authorizeWorkspace, runAction, type ActionResult, type WorkspaceAccess } from "@/lib/access/authorize";
import { clientIpFromHeaders } from "@/lib/accounts/audit";
import {
  changeMemberRole,
  inviteMember,
  removeMember,
  revokeInvitation,
  type ActingMember,
} from "@/lib/accounts/members";
import { withUserContext } from "@/lib/db/context";

export type MembersActionState = ActionResult<{ message: string; inviteUrl?: string }> | null;

async function acting(access: WorkspaceAccess): Promise<ActingMember> {
  return {
    workspaceId: access.workspace.id,
    accountId: access.account.id,
    role: access.role,
    ip: clientIpFromHeaders(await headers()),
  };
}

function field(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
}

export async function inviteAction(
  slug: string,
  _previous: MembersActionState,
  form: FormData,
): Promise<MembersActionState> {
  return runAction(async () => {
    const access = await authorizeWorkspace(slug, "members.manage");
    const actor = await acting(access);
    const invited = await withUserContext(access.account.id, (tx) =>
      inviteMember(tx, actor, { email: field(form, "email"), role: field(form, "role") }),
    );
    revalidatePath(`/w/${slug}/settings/members`);
    const base = (process.env.NEXTAUTH_URL ?? "").replace(/\/$/, "");
    return {
      message: `Invited ${invited.email} as ${invited.role}. They join when they sign in with that e-mail, or through this link (shown once):`,
      inviteUrl: `${base}/invite/${invited.token}`,
    };
  });
}

export async function changeRoleAction(
  slug: string,
  _previous: MembersActionState,
  form: FormData,
): Promise<MembersActionState> {
  return runAction(async () => {
    const access = await authorizeWorkspace(slug, "members.manage");
    const actor = await acting(access);
    await withUserContext(access.account.id, (tx) =>
      changeMemberRole(tx, actor, { accountId: field(form, "accountId"), role: field(form, "role") }),
    );
    revalidatePath(`/w/${slug}/settings/members`);
    return { message: "Role changed." };
  });
}

export async function removeMemberAction(
  slug: string,
  _previous: MembersActionState,
  form: FormData,
): Promise<MembersActionState> {
  return runAction(async () => {
    const access = await authorizeWorkspace(slug, "members.manage");
    const actor = await acting(access);
    await withUserContext(access.account.id, (tx) => removeMember(tx, actor, { accountId: field(form, "accountId") }));
    revalidatePath(`/w/${slug}/settings/members`);
    return { message: "Member removed." };
  });
}

export async function revokeInvitationAction(
  slug: string,
  _previous: MembersActionState,
  form: FormData,
): Promise<MembersActionState> {
  return runAction(async () => {
    const access = await authorizeWorkspace(slug, "members.manage");
    const actor = await acting(access);
    await withUserContext(access.account.id, (tx) =>
      revokeInvitation(tx, actor, { invitationId: field(form, "invitationId") }),
    );
    revalidatePath(`/w/${slug}/settings/members`);
    return { message: "Invitation revoked." };
  });
}
