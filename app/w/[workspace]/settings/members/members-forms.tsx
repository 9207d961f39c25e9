"use client";

import { useActionState } from "react";
import { WORKSPACE_ROLES } from "@/lib/access/permissions";
import {
  changeRoleAction,
  inviteAction,
  removeMemberAction,
  revokeInvitationAction,
  type MembersActionState,
} from "./actions";

function Outcome({ state }: { state: MembersActionState }) {
  if (state?.ok === true) {
    return (
      <p role="status">
        {state.data.message}{" "}
        {state.data.inviteUrl ? <code data-testid="invite-url">{state.data.inviteUrl}</code> : null}
      </p>
    );
  }
  if (state?.ok === false) {
    const details = state.fields ? Object.values(state.fields).flat().join(" ") : "";
    return (
      <p role="alert" className="alert-error">
        {`${state.error} ${details}`.trim()}
      </p>
    );
  }
  return null;
}

function RoleSelect({ name, defaultValue, label }: { name: string; defaultValue: string; label: string }) {
  return (
    <select name={name} defaultValue={defaultValue} aria-label={label}>
      {WORKSPACE_ROLES.map((role) => (
        <option key={role} value={role}>
          {role}
        </option>
      ))}
    </select>
  );
}

export function InviteForm({ slug }: { slug: string }) {
  const [state, action, pending] = useActionState<MembersActionState, FormData>(inviteAction.bind(null, slug), null);
  return (
    <form action={action} className="card" aria-label="Invite a member">
      <label>
        E-mail <input name="email" type="email" required maxLength={320} />
      </label>{" "}
      <RoleSelect name="role" defaultValue="member" label="Role for the invitation" />{" "}
      <button type="submit" className="button button-primary" disabled={pending}>
        Invite
      </button>
      <Outcome state={state} />
    </form>
  );
}

export function RoleForm({
  slug,
  accountId,
  email,
  role,
}: {
  slug: string;
  accountId: string;
  email: string;
  role: string;
}) {
  const [state, action, pending] = useActionState<MembersActionState, FormData>(
    changeRoleAction.bind(null, slug),
    null,
  );
  return (
    <form action={action} aria-label={`Role of ${email}`}>
      <input type="hidden" name="accountId" value={accountId} />
      <RoleSelect name="role" defaultValue={role} label={`Role of ${email}`} />{" "}
      <button type="submit" className="button" disabled={pending}>
        Change role
      </button>
      <Outcome state={state} />
    </form>
  );
}

export function RemoveForm({ slug, accountId, email }: { slug: string; accountId: string; email: string }) {
  const [state, action, pending] = useActionState<MembersActionState, FormData>(
    removeMemberAction.bind(null, slug),
    null,
  );
  return (
    <form action={action} aria-label={`Remove ${email}`}>
      <input type="hidden" name="accountId" value={accountId} />
      <button type="submit" className="button" disabled={pending}>
        Remove
      </button>
      <Outcome state={state} />
    </form>
  );
}

export function RevokeInvitationForm({
  slug,
  invitationId,
  email,
}: {
  slug: string;
  invitationId: string;
  email: string;
}) {
  const [state, action, pending] = useActionState<MembersActionState, FormData>(
    revokeInvitationAction.bind(null, slug),
    null,
  );
  return (
    <form action={action} aria-label={`Revoke the invitation of ${email}`}>
      <input type="hidden" name="invitationId" value={invitationId} />
      <button type="submit" className="button" disabled={pending}>
        Revoke
      </button>
      <Outcome state={state} />
    </form>
  );
}
