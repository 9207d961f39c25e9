"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState, useTransition } from "react";
import styles from "./dashboard.module.css";

const PRESETS = [
  { id: "24h", label: "Last 24 hours" },
  { id: "7d", label: "Last 7 days" },
  { id: "30d", label: "Last 30 days" },
  { id: "90d", label: "Last 90 days" },
  { id: "mtd", label: "Month to date" },
  { id: "custom", label: "Custom…" },
] as const;

/**
 * Presets, a custom range and "compare to previous period". Every change is written to the URL
 * (router.replace keeps history short), so the server re-renders with the new numbers and the link
 * can be shared.
 */
export function DateRangePicker({
  preset,
  from,
  to,
  granularity,
  compare,
}: {
  preset: string;
  from: string;
  to: string;
  granularity: string;
  compare: boolean;
}) {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const [pending, startTransition] = useTransition();
  const [custom, setCustom] = useState({ from, to });
  const [showCustom, setShowCustom] = useState(preset === "custom");

  function push(changes: Record<string, string | null>) {
    const next = new URLSearchParams(searchParams.toString());
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) next.delete(key);
      else next.set(key, value);
    }
    startTransition(() => router.replace(`${pathname}?${next.toString()}`, { scroll: false }));
  }

  return (
    <form
      className={styles.toolbar}
      aria-label="Date range"
      aria-busy={pending}
      onSubmit={(event) => {
        event.preventDefault();
        if (custom.from && custom.to && custom.from <= custom.to) {
          push({ range: "custom", from: custom.from, to: custom.to });
        }
      }}
    >
      <label className={styles.control}>
        <span>Range</span>
        <select
          className="input"
          name="range"
          value={showCustom ? "custom" : preset}
          onChange={(event) => {
            const value = event.target.value;
            if (value === "custom") {
              setShowCustom(true);
              return;
            }
            setShowCustom(false);
            push({ range: value, from: null, to: null, granularity: null });
          }}
        >
          {PRESETS.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      {showCustom ? (
        <>
          <label className={styles.control}>
            <span>From</span>
            <input
              className="input"
              type="date"
              name="from"
              value={custom.from}
              max={custom.to}
              onChange={(e) => setCustom((c) => ({ ...c, from: e.target.value }))}
            />
          </label>
          <label className={styles.control}>
            <span>To</span>
            <input
              className="input"
              type="date"
              name="to"
              value={custom.to}
              min={custom.from}
              onChange={(e) => setCustom((c) => ({ ...c, to: e.target.value }))}
            />
          </label>
          <button type="submit" className="button button-small">
            Apply
          </button>
        </>
      ) : null}
      <label className={styles.control}>
        <span>Per</span>
        <select
          className="input"
          name="granularity"
          value={granularity}
          onChange={(e) => push({ granularity: e.target.value })}
        >
          <option value="hour">Hour</option>
          <option value="day">Day</option>
          <option value="week">Week</option>
          <option value="month">Month</option>
        </select>
      </label>
      <label className={styles.check}>
        <input
          type="checkbox"
          name="compare"
          checked={compare}
          onChange={(e) => push({ compare: e.target.checked ? "1" : null })}
        />
        Compare to previous period
      </label>
      <span className={styles.rangeText} data-testid="range-text">
        {from} – {to}
      </span>
    </form>
  );
}
