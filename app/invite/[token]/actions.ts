"use server";

import { runAction, type ActionResult } from "@/lib/access/authorize";
import { createAccountFromInvitation } from "@/lib/accounts/invitation-signup";

export type InvitationSignupState = ActionResult<{ email: string; workspaceSlug: string }> | null;

/** Public by design: the invitation token in the form is the credential. */
export async function invitationSignupAction(
  _previous: InvitationSignupState,
  form: FormData,
): Promise<InvitationSignupState> {
  return runAction(() =>
    createAccountFromInvitation({
      token: form.get("token"),
      name: form.get("name"),
      password: form.get("password"),
      confirmPassword: form.get("confirmPassword"),
    }),
  );
}
