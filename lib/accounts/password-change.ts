import { z } from "zod";
import { BadRequestError } from "@/lib/access/authorize";
import { hashPassword, passwordPolicy, verifyPassword } from "@/lib/auth/password";
import type { Tx } from "@/lib/db/prisma";
import { recordAuditEvent } from "./audit";

export const changePasswordInputSchema = z
  .object({
    currentPassword: z.string().min(1, { message: "Enter your current password." }).max(1024),
    newPassword: passwordPolicy,
    confirmPassword: z.string(),
  })
  .refine((v) => v.newPassword === v.confirmPassword, {
    message: "The two new passwords differ.",
    path: ["confirmPassword"],
  })
  .refine((v) => v.newPassword !== v.currentPassword, {
    message: "Choose a password different from the current one.",
    path: ["newPassword"],
  });

/**
 * Changes the signed-in account's password inside its withUserContext transaction: verifies the
 * current password (the account may read its own row), writes the new hash through
 * app.set_own_password_hash (the app role cannot UPDATE accounts), and audits it.
 */
export async function changeOwnPassword(tx: Tx, accountId: string, input: unknown, ip: string | null): Promise<void> {
  const { currentPassword, newPassword } = changePasswordInputSchema.parse(input);
  const rows = await tx.$queryRaw<{ password_hash: string | null }[]>`
    SELECT password_hash FROM public.accounts WHERE id = ${accountId}::uuid`;
  const stored = rows[0]?.password_hash ?? null;
  if (!(await verifyPassword(stored, currentPassword))) {
    throw new BadRequestError(
      stored
        ? "The current password is not correct."
        : "This account signs in through a provider and has no password to change.",
    );
  }
  const hash = await hashPassword(newPassword);
  const updated = await tx.$queryRaw<{ ok: boolean }[]>`SELECT app.set_own_password_hash(${hash}) AS ok`;
  if (!updated[0]?.ok) throw new BadRequestError("Your account no longer exists.");
  await recordAuditEvent(tx, {
    workspaceId: null,
    action: "account.password_changed",
    target: { type: "account", id: accountId },
    ip,
  });
}
