"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { COMPARATORS } from "@/lib/alerts/condition";
import type { NewSecret } from "@/lib/alerts/rules";
import { SCOPE_KINDS } from "@/lib/alerts/rule-shape";
import { ERROR_POLICIES, NO_DATA_POLICIES } from "@/lib/alerts/state-machine";
import type { PreviewSeries } from "@/lib/alerts/preview";
import { METRIC_DEFINITIONS, METRIC_NAMES } from "@/lib/metrics/definitions";
import { previewRuleAction, saveRuleAction } from "./actions";
import { PreviewChart } from "./preview-chart";

export type ChannelDraft =
  | { kind: "webhook"; id?: string; url: string }
  | { kind: "slack"; id?: string; url: string }
  | { kind: "email"; id?: string; recipients: string };

/** The "Add …" buttons under the channel list: one blank channel of each kind. */
const NEW_CHANNELS: { label: string; blank: ChannelDraft }[] = [
  { label: "Add webhook", blank: { kind: "webhook", url: "" } },
  { label: "Add Slack", blank: { kind: "slack", url: "" } },
  { label: "Add email", blank: { kind: "email", recipients: "" } },
];

export type RuleDraft = {
  name: string;
  description: string;
  metric: string;
  scopeKind: (typeof SCOPE_KINDS)[number];
  scopeValue: string;
  comparator: (typeof COMPARATORS)[number];
  conditionKind: "value" | "percent_change";
  threshold: string;
  windowMinutes: string;
  pendingMinutes: string;
  repeatMinutes: string;
  noDataPolicy: (typeof NO_DATA_POLICIES)[number];
  errorPolicy: (typeof ERROR_POLICIES)[number];
  isActive: boolean;
  channels: ChannelDraft[];
};

export const EMPTY_DRAFT: RuleDraft = {
  name: "",
  description: "",
  metric: "cost_usd",
  scopeKind: "workspace",
  scopeValue: "",
  comparator: "greater_than",
  conditionKind: "value",
  threshold: "",
  windowMinutes: "60",
  pendingMinutes: "0",
  repeatMinutes: "",
  noDataPolicy: "no_data",
  errorPolicy: "error",
  isActive: true,
  channels: [],
};

const COMPARATOR_LABELS: Record<(typeof COMPARATORS)[number], string> = {
  greater_than: "is above",
  less_than: "is below",
  equals: "equals",
  greater_than_or_equal: "is at least",
  less_than_or_equal: "is at most",
};
const SCOPE_LABELS: Record<(typeof SCOPE_KINDS)[number], string> = {
  workspace: "The whole workspace",
  agent: "One agent",
  model: "One model",
  user: "One user",
  each_agent: "Each agent (one alert per agent)",
  each_user: "Each user (one alert per user)",
};
const NO_DATA_LABELS: Record<(typeof NO_DATA_POLICIES)[number], string> = {
  no_data: "Show “no data” (notify once)",
  alerting: "Treat as firing",
  ok: "Treat as OK",
  keep_last: "Keep the last state",
};
const ERROR_LABELS: Record<(typeof ERROR_POLICIES)[number], string> = {
  error: "Show “error” (notify once)",
  alerting: "Treat as firing",
  ok: "Treat as OK",
  keep_last: "Keep the last state",
};

type Option = { id: string; label: string };

function toInput(draft: RuleDraft) {
  return {
    ...draft,
    threshold: draft.threshold.trim() === "" ? undefined : draft.threshold,
    repeatMinutes: draft.repeatMinutes.trim() === "" ? null : draft.repeatMinutes,
    channels: draft.channels.map((c) =>
      c.kind === "email"
        ? {
            kind: "email" as const,
            id: c.id,
            recipients: c.recipients
              .split(/[,\s]+/)
              .map((r) => r.trim())
              .filter(Boolean),
          }
        : c,
    ),
  };
}

export function RuleForm({
  slug,
  ruleId,
  initial,
  agents,
  users,
  models,
}: {
  slug: string;
  ruleId: string | null;
  initial: RuleDraft;
  agents: Option[];
  users: Option[];
  models: string[];
}) {
  const router = useRouter();
  const [draft, setDraft] = useState<RuleDraft>(initial);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [secrets, setSecrets] = useState<NewSecret[]>([]);
  const [savedId, setSavedId] = useState<string | null>(null);
  const [saving, startSaving] = useTransition();
  const [previewRange, setPreviewRange] = useState<"24h" | "7d">("24h");
  const [preview, setPreview] = useState<PreviewSeries[] | null>(null);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const [previewing, startPreview] = useTransition();

  const set = <K extends keyof RuleDraft>(key: K, value: RuleDraft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const fieldError = (key: string) =>
    errors[key] ? (
      <span className="field-error" role="alert" id={`${key}-error`}>
        {errors[key].join(" ")}
      </span>
    ) : null;
  const metric = METRIC_DEFINITIONS[draft.metric as keyof typeof METRIC_DEFINITIONS];

  const save = () =>
    startSaving(async () => {
      setMessage(null);
      const result = await saveRuleAction(slug, ruleId, toInput(draft));
      if (!result.ok) {
        setErrors(result.fields ?? {});
        setMessage(result.error);
        return;
      }
      setErrors({});
      if (result.data.secrets.length > 0) {
        // Stay here so the secrets can be copied: they are never shown again.
        setSecrets(result.data.secrets);
        setSavedId(result.data.id);
        router.refresh();
        return;
      }
      router.push(`/w/${slug}/alerts`);
      router.refresh();
    });

  const runPreview = (range: "24h" | "7d") =>
    startPreview(async () => {
      setPreviewRange(range);
      setPreviewError(null);
      const result = await previewRuleAction(slug, { ...toInput(draft), range });
      if (!result.ok) {
        setPreview(null);
        setPreviewError(
          [result.error, ...Object.entries(result.fields ?? {}).map(([k, v]) => `${k}: ${v.join(" ")}`)].join(" "),
        );
        return;
      }
      setPreview(result.data);
    });

  const updateChannel = (index: number, channel: ChannelDraft) =>
    set(
      "channels",
      draft.channels.map((c, i) => (i === index ? channel : c)),
    );

  if (savedId !== null && secrets.length > 0) {
    return (
      <div role="status" className="card" data-testid="webhook-secrets">
        <p>Saved. Copy each new webhook signing secret now — it is shown only once and cannot be recovered:</p>
        <ul>
          {secrets.map((s) => (
            <li key={s.channelId}>
              {s.url}: <code>{s.secret}</code>
            </li>
          ))}
        </ul>
        <p className="alert-actions">
          {/* A full load, so the form starts from the saved rule (with its new channel ids). */}
          <button
            type="button"
            className="button"
            onClick={() => window.location.assign(`/w/${slug}/alerts/${savedId}`)}
          >
            Edit the rule
          </button>
          <Link href={`/w/${slug}/alerts`} className="button">
            Back to alert rules
          </Link>
        </p>
      </div>
    );
  }

  return (
    <form
      className="card alert-form"
      aria-label={ruleId ? "Edit alert rule" : "New alert rule"}
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <div className="field">
        <label htmlFor="rule-name">Name</label>
        <input
          id="rule-name"
          className="input"
          value={draft.name}
          onChange={(e) => set("name", e.target.value)}
          maxLength={255}
        />
        {fieldError("name")}
      </div>
      <div className="field">
        <label htmlFor="rule-description">Description</label>
        <textarea
          id="rule-description"
          className="input"
          value={draft.description}
          onChange={(e) => set("description", e.target.value)}
          rows={2}
        />
        {fieldError("description")}
      </div>
      <div className="field">
        <label htmlFor="rule-metric">Metric</label>
        <select id="rule-metric" className="input" value={draft.metric} onChange={(e) => set("metric", e.target.value)}>
          {METRIC_NAMES.map((name) => (
            <option key={name} value={name}>
              {METRIC_DEFINITIONS[name].label} ({METRIC_DEFINITIONS[name].unit})
            </option>
          ))}
        </select>
        {metric ? <span className="field-hint">{metric.description}</span> : null}
        {fieldError("metric")}
      </div>
      <div className="field">
        <label htmlFor="rule-scope">Scope</label>
        <select
          id="rule-scope"
          className="input"
          value={draft.scopeKind}
          onChange={(e) =>
            setDraft((d) => ({ ...d, scopeKind: e.target.value as RuleDraft["scopeKind"], scopeValue: "" }))
          }
        >
          {SCOPE_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {SCOPE_LABELS[kind]}
            </option>
          ))}
        </select>
        {fieldError("scopeKind")}
      </div>
      {draft.scopeKind === "agent" || draft.scopeKind === "user" || draft.scopeKind === "model" ? (
        <div className="field">
          <label htmlFor="rule-scope-value">
            {draft.scopeKind === "agent" ? "Agent" : draft.scopeKind === "user" ? "User" : "Model"}
          </label>
          <select
            id="rule-scope-value"
            className="input"
            value={draft.scopeValue}
            onChange={(e) => set("scopeValue", e.target.value)}
          >
            <option value="">Choose…</option>
            {(draft.scopeKind === "agent"
              ? agents
              : draft.scopeKind === "user"
                ? users
                : models.map((m) => ({ id: m, label: m }))
            ).map((option) => (
              <option key={option.id} value={option.id}>
                {option.label}
              </option>
            ))}
          </select>
          {fieldError("scopeValue")}
        </div>
      ) : null}
      <fieldset className="alert-fieldset">
        <legend>Condition</legend>
        <div className="field">
          <label htmlFor="rule-condition-kind">When</label>
          <select
            id="rule-condition-kind"
            className="input"
            value={draft.conditionKind}
            onChange={(e) => set("conditionKind", e.target.value === "percent_change" ? "percent_change" : "value")}
          >
            <option value="value">the value over the window</option>
            <option value="percent_change">the change (%) vs the previous window</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="rule-comparator">Comparison</label>
          <select
            id="rule-comparator"
            className="input"
            value={draft.comparator}
            onChange={(e) => set("comparator", e.target.value as RuleDraft["comparator"])}
            aria-invalid={errors.comparator ? true : undefined}
            aria-describedby={errors.comparator ? "comparator-error" : undefined}
          >
            {COMPARATORS.map((c) => (
              <option key={c} value={c}>
                {COMPARATOR_LABELS[c]}
              </option>
            ))}
          </select>
          {fieldError("comparator")}
        </div>
        <div className="field">
          <label htmlFor="rule-threshold">Threshold{draft.conditionKind === "percent_change" ? " (%)" : ""}</label>
          <input
            id="rule-threshold"
            className="input"
            inputMode="decimal"
            value={draft.threshold}
            onChange={(e) => set("threshold", e.target.value)}
            aria-describedby={errors.threshold ? "threshold-error" : undefined}
          />
          {fieldError("threshold")}
        </div>
        <div className="field">
          <label htmlFor="rule-window">Evaluation window (minutes)</label>
          <input
            id="rule-window"
            className="input"
            inputMode="numeric"
            value={draft.windowMinutes}
            onChange={(e) => set("windowMinutes", e.target.value)}
          />
          <span className="field-hint">
            Rollups are hourly: the window is widened to whole hours (whole days for per-user splits).
          </span>
          {fieldError("windowMinutes")}
        </div>
        <div className="field">
          <label htmlFor="rule-pending">Pending period (minutes)</label>
          <input
            id="rule-pending"
            className="input"
            inputMode="numeric"
            value={draft.pendingMinutes}
            onChange={(e) => set("pendingMinutes", e.target.value)}
          />
          <span className="field-hint">How long the condition must hold before the alert fires. 0 fires at once.</span>
          {fieldError("pendingMinutes")}
        </div>
        <div className="field">
          <label htmlFor="rule-repeat">Repeat interval (minutes)</label>
          <input
            id="rule-repeat"
            className="input"
            inputMode="numeric"
            value={draft.repeatMinutes}
            placeholder="never"
            onChange={(e) => set("repeatMinutes", e.target.value)}
          />
          {fieldError("repeatMinutes")}
        </div>
        <div className="field">
          <label htmlFor="rule-nodata">If there is no data</label>
          <select
            id="rule-nodata"
            className="input"
            value={draft.noDataPolicy}
            onChange={(e) => set("noDataPolicy", e.target.value as RuleDraft["noDataPolicy"])}
          >
            {NO_DATA_POLICIES.map((p) => (
              <option key={p} value={p}>
                {NO_DATA_LABELS[p]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="rule-error">If evaluation fails</label>
          <select
            id="rule-error"
            className="input"
            value={draft.errorPolicy}
            onChange={(e) => set("errorPolicy", e.target.value as RuleDraft["errorPolicy"])}
          >
            {ERROR_POLICIES.map((p) => (
              <option key={p} value={p}>
                {ERROR_LABELS[p]}
              </option>
            ))}
          </select>
        </div>
      </fieldset>

      <fieldset className="alert-fieldset">
        <legend>Notify</legend>
        {draft.channels.length === 0 ? (
          <p className="field-hint">No channels: transitions are recorded in the history only.</p>
        ) : null}
        {draft.channels.map((channel, index) => (
          <div className="field alert-channel" key={index}>
            <label htmlFor={`channel-${index}`}>
              {channel.kind === "webhook"
                ? "Webhook URL"
                : channel.kind === "slack"
                  ? "Slack incoming-webhook URL"
                  : "Email recipients (comma-separated)"}
            </label>
            <input
              id={`channel-${index}`}
              className="input"
              value={channel.kind === "email" ? channel.recipients : channel.url}
              onChange={(e) =>
                updateChannel(
                  index,
                  channel.kind === "email"
                    ? { ...channel, recipients: e.target.value }
                    : { ...channel, url: e.target.value },
                )
              }
            />
            {fieldError(`channels.${index}.url`)}
            {fieldError(`channels.${index}.recipients`)}
            {Object.keys(errors)
              .filter((k) => k.startsWith(`channels.${index}.recipients.`))
              .slice(0, 1)
              .map((k) => fieldError(k))}
            <button
              type="button"
              className="button button-small"
              onClick={() =>
                set(
                  "channels",
                  draft.channels.filter((_, i) => i !== index),
                )
              }
            >
              Remove
            </button>
          </div>
        ))}
        {fieldError("channels")}
        <div className="alert-actions">
          {NEW_CHANNELS.map(({ label, blank }) => (
            <button
              key={label}
              type="button"
              className="button button-small"
              onClick={() => set("channels", [...draft.channels, blank])}
            >
              {label}
            </button>
          ))}
        </div>
      </fieldset>

      <label className="alert-checkbox">
        <input type="checkbox" checked={draft.isActive} onChange={(e) => set("isActive", e.target.checked)} /> Active
      </label>

      {message ? (
        <p
          role={Object.keys(errors).length ? "alert" : "status"}
          className={Object.keys(errors).length ? "alert-error" : undefined}
        >
          {message}
        </p>
      ) : null}

      <div className="alert-actions">
        <button type="submit" className="button button-primary" disabled={saving}>
          {saving ? "Saving…" : ruleId ? "Save changes" : "Create rule"}
        </button>
        <button type="button" className="button" disabled={previewing} onClick={() => runPreview("24h")}>
          Preview 24 h
        </button>
        <button type="button" className="button" disabled={previewing} onClick={() => runPreview("7d")}>
          Preview 7 d
        </button>
        <Link href={`/w/${slug}/alerts`} className="button">
          Cancel
        </Link>
      </div>
      {previewError ? (
        <p role="alert" className="alert-error">
          {previewError}
        </p>
      ) : null}
      {preview ? (
        <PreviewChart
          series={preview}
          threshold={Number(draft.threshold)}
          thresholdIsPercent={draft.conditionKind === "percent_change"}
          range={previewRange}
          unit={metric?.unit ?? ""}
        />
      ) : null}
    </form>
  );
}
