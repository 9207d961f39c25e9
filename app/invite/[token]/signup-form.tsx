"use client";

import Link from "next/link";
import { useActionState } from "react";
import { invitationSignupAction, type InvitationSignupState } from "./actions";

export function InvitationSignupForm({ token }: { token: string }) {
  const [state, action, pending] = useActionState<InvitationSignupState, FormData>(invitationSignupAction, null);
  if (state?.ok === true) {
    return (
      <p role="status">
        Your account is ready.{" "}
        <Link href={`/login?callbackUrl=${encodeURIComponent(`/w/${state.data.workspaceSlug}`)}`}>
          Sign in as {state.data.email}
        </Link>
      </p>
    );
  }
  return (
    <form action={action} aria-label="Create your account">
      <input type="hidden" name="token" value={token} />
      <label>
        Your name <input name="name" required maxLength={200} autoComplete="name" />
      </label>
      <label>
        Password <input name="password" type="password" minLength={10} required autoComplete="new-password" />
      </label>
      <label>
        Repeat the password <input name="confirmPassword" type="password" required autoComplete="new-password" />
      </label>
      <button type="submit" className="button button-primary" disabled={pending}>
        Create account and join
      </button>
      {state?.ok === false ? (
        <p role="alert" className="alert-error">
          {`${state.error} ${state.fields ? Object.values(state.fields).flat().join(" ") : ""}`.trim()}
        </p>
      ) : null}
    </form>
  );
}
