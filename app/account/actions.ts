"use server";

import { headers } from "next/headers";
import { requireAccount, runAction, type ActionResult } from "@/lib/access/authorize";
import { clientIpFromHeaders } from "@/lib/accounts/audit";
import { changeOwnPassword } from "@/lib/accounts/password-change";
import { withUserContext } from "@/lib/db/context";

export type ChangePasswordState = ActionResult<{ message: string }> | null;

export async function changePasswordAction(
  _previous: ChangePasswordState,
  form: FormData,
): Promise<ChangePasswordState> {
  return runAction(async () => {
    const account = await requireAccount();
    const ip = clientIpFromHeaders(await headers());
    const input = {
      currentPassword: form.get("currentPassword"),
      newPassword: form.get("newPassword"),
      confirmPassword: form.get("confirmPassword"),
    };
    await withUserContext(account.id, (tx) => changeOwnPassword(tx, account.id, input, ip));
    return { message: "Password changed." };
  });
}
