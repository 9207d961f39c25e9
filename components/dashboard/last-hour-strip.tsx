"use client";

import { useQueries } from "@tanstack/react-query";
import { formatValue } from "@/components/format";
import styles from "./dashboard.module.css";

const METRICS = [
  { metric: "runs", label: "Runs", format: "integer" },
  { metric: "runs_failed", label: "Failed runs", format: "integer" },
  { metric: "llm_calls", label: "LLM calls", format: "integer" },
  { metric: "cost_usd", label: "LLM cost", format: "usd" },
] as const;

type MetricsResponse = { series: { points: { t: string; v: number | null }[] }[] };

/**
 * The current hour so far (and the hour before), refreshed every 30 s through the metrics API.
 * React Query does not run the interval while the tab is hidden (refetchIntervalInBackground is
 * false), so a background tab costs nothing.
 */
export function LastHourStrip({ slug }: { slug: string }) {
  const results = useQueries({
    queries: METRICS.map(({ metric }) => ({
      queryKey: ["last-hour", slug, metric],
      queryFn: async (): Promise<MetricsResponse> => {
        const now = new Date();
        const from = new Date(now.getTime() - 3_600_000);
        const params = new URLSearchParams({
          workspace: slug,
          metric,
          granularity: "hour",
          from: from.toISOString(),
          to: now.toISOString(),
        });
        const response = await fetch(`/api/v1/metrics?${params}`);
        if (!response.ok) {
          const body = (await response.json().catch(() => ({}))) as { error?: string };
          throw new Error(body.error ?? `HTTP ${response.status}`);
        }
        return (await response.json()) as MetricsResponse;
      },
      refetchInterval: 30_000,
      refetchIntervalInBackground: false,
      staleTime: 25_000,
    })),
  });
  const updated = Math.max(...results.map((r) => r.dataUpdatedAt));
  return (
    <section className="card" aria-label="Last hour" data-testid="last-hour">
      <div className={styles.strip}>
        <h2 className="card-title">Last hour</h2>
        {METRICS.map(({ metric, label, format }, i) => {
          const result = results[i];
          const points = result.data?.series[0]?.points ?? [];
          const current = points.at(-1)?.v ?? null;
          const previous = points.length > 1 ? (points.at(-2)?.v ?? null) : null;
          return (
            <div key={metric} data-metric={metric}>
              <div className="kpi-label">{label}</div>
              <div className="kpi-value" style={{ fontSize: "1.4rem" }}>
                {result.isError ? (
                  <span role="alert">error: {result.error.message}</span>
                ) : result.isPending ? (
                  "…"
                ) : (
                  formatValue(current, format)
                )}
              </div>
              <div className="kpi-hint">previous hour: {formatValue(previous, format)}</div>
            </div>
          );
        })}
        <span className="kpi-hint" aria-live="polite">
          {updated > 0 ? `updated ${new Date(updated).toLocaleTimeString("en-GB")} · refreshes every 30 s` : "loading…"}
        </span>
      </div>
    </section>
  );
}
