import type { AlertPayload } from "./channels";
import type { RuleRow } from "./rule-shape";
import type { AlertState, NotificationEvent } from "./state-machine";

/** The public base URL links in notifications point at. */
export function appBaseUrl(): string {
  return (process.env.PULSEBOARD_URL ?? process.env.NEXTAUTH_URL ?? "http://localhost:3000").replace(/\/+$/, "");
}

/** The rule's history page around the moment of the event. */
export function alertLink(workspaceSlug: string, ruleId: string, at: Date): string {
  const params = new URLSearchParams({ rule: ruleId, at: at.toISOString() });
  return `${appBaseUrl()}/w/${workspaceSlug}/alerts/history?${params.toString()}`;
}

export function buildPayload(input: {
  rule: Pick<RuleRow, "id" | "name" | "metric_type" | "workspace_id" | "workspace_slug" | "threshold_value">;
  conditionText: string;
  event: NotificationEvent | "test";
  series: { key: string; label: string };
  state: AlertState;
  previousState: AlertState | null;
  value: number | null;
  incidentId: string | null;
  at: Date;
  link: string;
}): AlertPayload {
  return {
    type: `alert.${input.event}`,
    timestamp: input.at.toISOString(),
    data: {
      event: input.event,
      rule: {
        id: input.rule.id,
        name: input.rule.name,
        metric: input.rule.metric_type,
        condition: input.conditionText,
      },
      workspace: { id: input.rule.workspace_id, slug: input.rule.workspace_slug },
      series: input.series,
      state: input.state,
      previousState: input.previousState,
      value: input.value,
      threshold: input.rule.threshold_value,
      incidentId: input.incidentId,
      link: input.link,
    },
  };
}
