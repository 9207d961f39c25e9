"use client";

import { useActionState } from "react";
import { changePasswordAction, type ChangePasswordState } from "./actions";

export function ChangePasswordForm() {
  const [state, action, pending] = useActionState<ChangePasswordState, FormData>(changePasswordAction, null);
  return (
    <form action={action} className="card" aria-label="Change password">
      <label>
        Current password <input name="currentPassword" type="password" autoComplete="current-password" required />
      </label>
      <label>
        New password <input name="newPassword" type="password" autoComplete="new-password" minLength={10} required />
      </label>
      <label>
        Repeat the new password <input name="confirmPassword" type="password" autoComplete="new-password" required />
      </label>
      <button type="submit" className="button button-primary" disabled={pending}>
        Change password
      </button>
      {state?.ok === true ? <p role="status">{state.data.message}</p> : null}
      {state?.ok === false ? (
        <p role="alert" className="alert-error">
          {`${state.error} ${state.fields ? Object.values(state.fields).flat().join(" ") : ""}`.trim()}
        </p>
      ) : null}
    </form>
  );
}
