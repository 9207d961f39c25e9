"use client";

import { useActionState } from "react";
import { createKeyAction, type CreateKeyState } from "./actions";

export function CreateKeyForm({ slug }: { slug: string }) {
  const [state, formAction, pending] = useActionState<CreateKeyState, FormData>(createKeyAction.bind(null, slug), null);
  return (
    <form action={formAction} className="card" aria-label="Create an API key">
      <label>
        Name <input name="name" required maxLength={100} placeholder="Production ingest" />
      </label>
      <fieldset>
        <legend>Scopes</legend>
        <label>
          <input type="checkbox" name="scopes" value="ingest" defaultChecked /> ingest
        </label>
        <label>
          <input type="checkbox" name="scopes" value="read" /> read
        </label>
      </fieldset>
      <button type="submit" disabled={pending}>
        {pending ? "Creating…" : "Create key"}
      </button>
      {state?.ok === true ? (
        <div role="status" data-testid="new-api-key">
          <p>Copy the key for “{state.data.name}” now — it is shown only once and cannot be recovered:</p>
          <code>{state.data.key}</code>
        </div>
      ) : null}
      {state?.ok === false ? (
        <p role="alert">
          {state.error}
          {state.fields
            ? ` ${Object.entries(state.fields)
                .map(([field, messages]) => `${field}: ${messages.join(", ")}`)
                .join("; ")}`
            : ""}
        </p>
      ) : null}
    </form>
  );
}
