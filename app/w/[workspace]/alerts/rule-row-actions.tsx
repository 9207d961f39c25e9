"use client";

import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import type { ActionResult } from "@/lib/access/authorize";
import type { TestResult } from "@/lib/alerts/send-test";
import {
  deleteRuleAction,
  duplicateRuleAction,
  sendTestAction,
  setRuleActiveAction,
  snoozeRuleAction,
} from "./actions";

/** Row buttons of the rules table; each calls its own server action, which checks the permission. */
export function RuleRowActions({
  slug,
  ruleId,
  name,
  isActive,
  snoozed,
}: {
  slug: string;
  ruleId: string;
  name: string;
  isActive: boolean;
  snoozed: boolean;
}) {
  const router = useRouter();
  const [pending, start] = useTransition();
  const [message, setMessage] = useState<string | null>(null);
  const [tests, setTests] = useState<TestResult[] | null>(null);

  const run = <T,>(action: () => Promise<ActionResult<T>>, after?: (data: T) => void) =>
    start(async () => {
      setMessage(null);
      const result = await action();
      if (!result.ok) {
        setMessage(result.error);
        return;
      }
      after?.(result.data);
      router.refresh();
    });

  return (
    <div className="alert-actions" aria-label={`Actions for ${name}`}>
      <button
        type="button"
        className="button button-small"
        disabled={pending}
        onClick={() => run(() => setRuleActiveAction(slug, ruleId, !isActive))}
      >
        {isActive ? "Disable" : "Enable"}
      </button>
      <button
        type="button"
        className="button button-small"
        disabled={pending}
        onClick={() => run(() => duplicateRuleAction(slug, ruleId))}
      >
        Duplicate
      </button>
      {snoozed ? (
        <button
          type="button"
          className="button button-small"
          disabled={pending}
          onClick={() => run(() => snoozeRuleAction(slug, ruleId, 0))}
        >
          Unsnooze
        </button>
      ) : (
        <>
          <button
            type="button"
            className="button button-small"
            disabled={pending}
            onClick={() => run(() => snoozeRuleAction(slug, ruleId, 60))}
          >
            Snooze 1 h
          </button>
          <button
            type="button"
            className="button button-small"
            disabled={pending}
            onClick={() => run(() => snoozeRuleAction(slug, ruleId, 24 * 60))}
          >
            Snooze 24 h
          </button>
        </>
      )}
      <button
        type="button"
        className="button button-small"
        disabled={pending}
        onClick={() => run(() => sendTestAction(slug, ruleId), setTests)}
      >
        Send test
      </button>
      <button
        type="button"
        className="button button-small"
        disabled={pending}
        onClick={() => {
          if (window.confirm(`Delete the alert rule “${name}” and its history?`))
            run(() => deleteRuleAction(slug, ruleId));
        }}
      >
        Delete
      </button>
      {message ? (
        <p role="alert" className="alert-error">
          {message}
        </p>
      ) : null}
      {tests ? (
        <ul role="status" data-testid="send-test-results">
          {tests.length === 0 ? <li>This rule has no channels to test.</li> : null}
          {tests.map((t) => (
            <li key={t.channelId}>
              {t.kind} {t.target}: {t.outcome}
              {t.httpStatus ? ` (HTTP ${t.httpStatus})` : ""}
              {t.error ? ` — ${t.error}` : ""}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
