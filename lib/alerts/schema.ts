/**
 * The rule form's contract: what a client may send to create or edit a rule, validated by zod with
 * messages that say what to fix, field by field.
 */
import { z } from "zod";
import { METRIC_DEFINITIONS, METRIC_NAMES, type FilterKey, type GroupBy } from "@/lib/metrics/definitions";
import { comparatorSchema, conditionKindSchema } from "./condition";
import { isAdditiveMetric } from "./metric-source";
import { scopeKindSchema, scopeQuery } from "./rule-shape";
import { errorPolicySchema, noDataPolicySchema } from "./state-machine";

const urlField = z.string().trim().min(1, "Enter the URL").max(2048, "The URL is longer than 2048 characters");

export const channelInputSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("webhook"), id: z.uuid().optional(), url: urlField }),
  z.object({ kind: z.literal("slack"), id: z.uuid().optional(), url: urlField }),
  z.object({
    kind: z.literal("email"),
    id: z.uuid().optional(),
    recipients: z
      .array(z.email("Enter valid email addresses, separated by commas").transform((e) => e.toLowerCase()))
      .min(1, "Enter at least one email address")
      .max(50, "At most 50 recipients per channel"),
  }),
]);
export type ChannelInput = z.infer<typeof channelInputSchema>;

const optionalMinutes = z.union([z.null(), z.coerce.number().int("Whole minutes only")]);

export const ruleInputSchema = z
  .object({
    name: z.string().trim().min(1, "Give the rule a name").max(255, "At most 255 characters"),
    description: z.string().trim().max(2000, "At most 2000 characters").default(""),
    metric: z.enum(METRIC_NAMES as [string, ...string[]], { error: "Choose a metric from the catalogue" }),
    scopeKind: scopeKindSchema,
    scopeValue: z.string().trim().max(200).default(""),
    comparator: comparatorSchema,
    conditionKind: conditionKindSchema,
    threshold: z.coerce
      .number({ error: "Enter a number" })
      .refine(Number.isFinite, "Enter a number")
      .refine((v) => Math.abs(v) < 1e12, "The threshold is too large"),
    windowMinutes: z.coerce
      .number()
      .int("Whole minutes only")
      .min(1, "At least 1 minute")
      .max(10080, "At most 7 days (10080 minutes)"),
    pendingMinutes: z.coerce
      .number()
      .int("Whole minutes only")
      .min(0, "0 or more")
      .max(1440, "At most 24 hours (1440 minutes)"),
    repeatMinutes: optionalMinutes.refine(
      (v) => v === null || (v >= 1 && v <= 10080),
      "Between 1 and 10080 minutes, or empty to never repeat",
    ),
    noDataPolicy: noDataPolicySchema,
    errorPolicy: errorPolicySchema,
    isActive: z.boolean().default(true),
    channels: z.array(channelInputSchema).max(10, "At most 10 channels per rule"),
  })
  .superRefine((rule, ctx) => {
    const metric = rule.metric as keyof typeof METRIC_DEFINITIONS;
    const definition = METRIC_DEFINITIONS[metric];
    const needsValue = rule.scopeKind === "agent" || rule.scopeKind === "user" || rule.scopeKind === "model";
    if (needsValue && rule.scopeValue === "") {
      ctx.addIssue({ code: "custom", path: ["scopeValue"], message: `Choose the ${rule.scopeKind} this rule watches` });
    }
    if (
      (rule.scopeKind === "agent" || rule.scopeKind === "user") &&
      rule.scopeValue !== "" &&
      !z.uuid().safeParse(rule.scopeValue).success
    ) {
      ctx.addIssue({ code: "custom", path: ["scopeValue"], message: `Choose an ${rule.scopeKind} from the list` });
    }
    const { filters, groupBy } = scopeQuery(rule.scopeKind, needsValue ? rule.scopeValue : null);
    for (const key of Object.keys(filters) as FilterKey[]) {
      if (!(definition.filters as readonly FilterKey[]).includes(key)) {
        ctx.addIssue({
          code: "custom",
          path: ["scopeKind"],
          message: `${definition.label} cannot be narrowed to one ${rule.scopeKind}`,
        });
      }
    }
    if (groupBy !== null) {
      if (!(definition.groupBys as readonly GroupBy[]).includes(groupBy)) {
        ctx.addIssue({
          code: "custom",
          path: ["scopeKind"],
          message: `${definition.label} cannot be split by ${groupBy}`,
        });
      } else if (
        isAdditiveMetric(metric) &&
        cannotSeeAbsentSeries(rule.comparator, rule.conditionKind, rule.threshold)
      ) {
        // A user/agent with no activity in the window has no series at all (Grafana's "missing
        // series": it resolves, it is never evaluated as 0), so a "below" condition on a total
        // could never fire for exactly the users/agents it is meant to catch.
        ctx.addIssue({
          code: "custom",
          path: ["comparator"],
          message: `"Each ${groupBy}" cannot watch for ${definition.label.toLowerCase()} going down or to zero: a ${groupBy} with no activity has no series and never fires. Use "greater than", or one ${groupBy} (or the workspace) with "less than".`,
        });
      }
    }
  });
export type RuleInput = z.infer<typeof ruleInputSchema>;

/** Conditions that would need a series for "no activity" (a total below a threshold, or = 0). */
function cannotSeeAbsentSeries(comparator: string, conditionKind: string, threshold: number): boolean {
  if (comparator === "less_than" || comparator === "less_than_or_equal") return true;
  return (
    conditionKind === "value" && (comparator === "equals" || comparator === "greater_than_or_equal") && threshold <= 0
  );
}

/** zod issues → { field: first message }, for the form. Nested channel errors keep their path. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.join(".") || "form";
    if (!(key in errors)) errors[key] = issue.message;
  }
  return errors;
}

/** Whether an edit changes what is evaluated (then the series states start over). */
export function conditionChanged(
  before: {
    metric: string;
    scopeKind: string;
    scopeValue: string;
    comparator: string;
    conditionKind: string;
    threshold: number;
    windowMinutes: number;
  },
  after: RuleInput,
): boolean {
  return (
    before.metric !== after.metric ||
    before.scopeKind !== after.scopeKind ||
    before.scopeValue !== after.scopeValue ||
    before.comparator !== after.comparator ||
    before.conditionKind !== after.conditionKind ||
    before.threshold !== after.threshold ||
    before.windowMinutes !== after.windowMinutes
  );
}
