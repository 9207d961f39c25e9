"use client";

import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { acknowledgeAction } from "../actions";

export function AcknowledgeForm({ slug, historyId }: { slug: string; historyId: string }) {
  const router = useRouter();
  const [note, setNote] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, start] = useTransition();
  return (
    <form
      aria-label="Acknowledge"
      onSubmit={(event) => {
        event.preventDefault();
        start(async () => {
          const result = await acknowledgeAction(slug, { historyId, note });
          if (!result.ok) {
            setError([result.error, ...Object.values(result.fields ?? {}).flat()].join(" "));
            return;
          }
          setError(null);
          router.refresh();
        });
      }}
    >
      <label className="visually-hidden" htmlFor={`ack-${historyId}`}>
        Note
      </label>
      <input
        id={`ack-${historyId}`}
        className="input"
        placeholder="Note (optional)"
        value={note}
        maxLength={2000}
        onChange={(e) => setNote(e.target.value)}
      />
      <button type="submit" className="button button-small" disabled={pending}>
        Acknowledge
      </button>
      {error ? (
        <p role="alert" className="alert-error">
          {error}
        </p>
      ) : null}
    </form>
  );
}
