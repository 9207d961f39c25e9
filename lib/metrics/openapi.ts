import { z } from "zod";
import { registerOperation } from "@/lib/openapi/registry";
import { FILTER_KEYS, GROUP_BYS, METRIC_DEFINITIONS, METRIC_NAMES } from "./definitions";
import { MAX_SERIES_LIMIT } from "./query";
import { GRANULARITIES, MAX_BUCKETS } from "./range";

/** The metrics API in the OpenAPI document; the metric table is generated from the catalogue. */
const metricsResponseSchema = z.object({
  metric: z.enum(METRIC_NAMES as [string, ...string[]]),
  label: z.string(),
  unit: z.enum(["count", "percent", "seconds", "ms", "credits", "tokens", "usd", "users"]),
  granularity: z.enum(GRANULARITIES),
  timezone: z.string().describe("The workspace's IANA time zone; buckets are its wall-clock hours/days/weeks/months."),
  groupBy: z.enum(GROUP_BYS).nullable(),
  from: z.string().describe("Start of the first bucket, ISO 8601 with the workspace's offset."),
  to: z.string().describe("End (exclusive) of the last bucket."),
  series: z.array(
    z.object({
      key: z.string().describe('"total" when not grouped; else the group value (agent/user id, model, status, …).'),
      label: z.string(),
      points: z.array(
        z.object({
          t: z.string().describe("Bucket start, e.g. 2026-03-02T00:00:00+01:00"),
          v: z.number().nullable().describe("null when there is nothing to measure (a rate with no finished run)"),
        }),
      ),
    }),
  ),
});
const errorSchema = z.object({ error: z.string(), code: z.string().optional() });

const metricTable = METRIC_NAMES.map((name) => {
  const d = METRIC_DEFINITIONS[name];
  return `| \`${name}\` | ${d.unit} | ${d.description} | ${d.groupBys.join(", ") || "—"} | ${d.filters.join(", ") || "—"} |`;
}).join("\n");

const description = `Time series of one metric from the metric catalogue, computed from rollups.

Definitions: runs count by start time; runtimes are over finished runs (completed, failed or cancelled);
rates are percentages (0–100); active users are the distinct users with an activity event, a run or an
LLM call in the bucket; tokens and cost count LLM calls by their timestamp. Buckets are in the
workspace's timezone (weeks start on Monday); at most ${MAX_BUCKETS} buckets per call. Percentiles are
read from merged log-scale histograms (≤ 1 % relative error).

Authentication: a session cookie (then \`workspace\` is required) or \`Authorization: Bearer <API key>\`
with the \`read\` scope. Grouping by user or filtering by user needs the usage.read_all permission.

| metric | unit | definition | groupBy | filters |
|---|---|---|---|---|
${metricTable}`;

const parameters = [
  { name: "metric", in: "query" as const, required: true, schema: z.enum(METRIC_NAMES as [string, ...string[]]) },
  {
    name: "from",
    in: "query" as const,
    required: true,
    description: "YYYY-MM-DD (a workspace-local day) or ISO 8601 with offset",
    schema: z.string(),
  },
  {
    name: "to",
    in: "query" as const,
    required: true,
    description: "YYYY-MM-DD (inclusive day) or ISO 8601 with offset (exclusive)",
    schema: z.string(),
  },
  { name: "granularity", in: "query" as const, description: "default day", schema: z.enum(GRANULARITIES) },
  { name: "groupBy", in: "query" as const, schema: z.enum(GROUP_BYS) },
  {
    name: "limit",
    in: "query" as const,
    description: `most series when grouped (top by total), 1–${MAX_SERIES_LIMIT}, default 10`,
    schema: z.number().int(),
  },
  {
    name: "workspace",
    in: "query" as const,
    description: "workspace slug (required with a session)",
    schema: z.string(),
  },
  ...FILTER_KEYS.map((name) => ({ name, in: "query" as const, schema: z.string() })),
];

registerOperation({
  method: "get",
  path: "/api/v1/metrics",
  operationId: "getMetric",
  summary: "Query a metric as time series",
  description,
  tags: ["metrics"],
  parameters,
  responses: {
    200: { description: "The series", schema: metricsResponseSchema },
    400: {
      description:
        "Unknown metric, group-by or filter, a bad range, or too many buckets (the message says what to change)",
      schema: errorSchema,
    },
    401: { description: "No session and no valid API key", schema: errorSchema },
    403: { description: "The key lacks the read scope, or the role may not see per-user usage", schema: errorSchema },
    404: { description: "No such workspace (or not a member)", schema: errorSchema },
  },
});

registerOperation({
  method: "get",
  path: "/api/v1/export/metrics",
  operationId: "exportMetricCsv",
  summary: "The same query as /api/v1/metrics, as CSV (bucket, series_key, series, value)",
  description: "Per-user exports (groupBy=user or userId) need the usage.export permission.",
  tags: ["metrics"],
  parameters,
  responses: {
    200: { description: "text/csv attachment" },
    400: { description: "As /api/v1/metrics", schema: errorSchema },
    403: { description: "The role may not export per-user usage", schema: errorSchema },
  },
});
