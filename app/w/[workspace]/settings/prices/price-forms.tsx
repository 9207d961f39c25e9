"use client";

import { useActionState } from "react";
import { addPriceAction, repriceAction, type AddPriceState, type RepriceState } from "./actions";

function Problem({ state }: { state: { ok: false; error: string; fields?: Record<string, string[]> } }) {
  const fields = state.fields
    ? Object.entries(state.fields)
        .map(([f, m]) => `${f}: ${m.join(", ")}`)
        .join("; ")
    : "";
  return <p role="alert">{`${state.error} ${fields}`.trim()}</p>;
}

export function AddPriceForm({ slug }: { slug: string }) {
  const [state, action, pending] = useActionState<AddPriceState, FormData>(addPriceAction.bind(null, slug), null);
  return (
    <form action={action} className="card" aria-label="Add a price">
      <label>
        Provider <input name="provider" required placeholder="openai" />
      </label>
      <label>
        Model <input name="model" required placeholder="gpt-4o" />
      </label>
      <label>
        USD per 1M input tokens <input name="inputUsdPerMillion" required inputMode="decimal" />
      </label>
      <label>
        USD per 1M output tokens <input name="outputUsdPerMillion" required inputMode="decimal" />
      </label>
      <label>
        Effective from <input name="effectiveFrom" type="date" required />
      </label>
      <button type="submit" disabled={pending}>
        Add price
      </button>
      {state?.ok === true ? <p role="status">Price for {state.data.model} saved.</p> : null}
      {state?.ok === false ? <Problem state={state} /> : null}
    </form>
  );
}

/** Count first, then a second button applies the re-price to exactly that date. */
export function RepriceForm({ slug }: { slug: string }) {
  const [state, action, pending] = useActionState<RepriceState, FormData>(repriceAction.bind(null, slug), null);
  const counted = state?.ok === true && state.data.intent === "count" ? state.data : null;
  return (
    <form action={action} className="card" aria-label="Re-price history">
      <label>
        Re-price LLM calls from <input name="from" type="date" required defaultValue={counted?.from.slice(0, 10)} />
      </label>
      <button type="submit" name="intent" value="count" disabled={pending}>
        Count affected calls
      </button>
      {counted ? (
        <>
          <p role="status">
            {counted.calls.toLocaleString()} calls since {counted.from.slice(0, 10)} would be re-priced (calls with a
            reported cost keep it).
          </p>
          <button type="submit" name="intent" value="apply" disabled={pending || counted.calls === 0}>
            Re-price {counted.calls.toLocaleString()} calls
          </button>
        </>
      ) : null}
      {state?.ok === true && state.data.intent === "apply" ? (
        <p role="status">
          {state.data.calls.toLocaleString()} calls re-priced; dashboards update with the next rollup.
        </p>
      ) : null}
      {state?.ok === false ? <Problem state={state} /> : null}
    </form>
  );
}
