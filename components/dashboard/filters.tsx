"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useTransition } from "react";
import styles from "./dashboard.module.css";

export type FilterOption = { value: string; label: string };
export type FilterDefinition = { key: string; label: string; options: FilterOption[] };

/** Select filters (agent, model, provider, …) kept in the URL like the date range. */
export function DashboardFilters({ filters }: { filters: FilterDefinition[] }) {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const [pending, startTransition] = useTransition();
  return (
    <div className={styles.toolbar} role="group" aria-label="Filters" aria-busy={pending}>
      {filters.map((filter) => (
        <label key={filter.key} className={styles.control}>
          <span>{filter.label}</span>
          <select
            className="input"
            name={filter.key}
            value={searchParams.get(filter.key) ?? ""}
            onChange={(event) => {
              const next = new URLSearchParams(searchParams.toString());
              if (event.target.value) next.set(filter.key, event.target.value);
              else next.delete(filter.key);
              startTransition(() => router.replace(`${pathname}?${next.toString()}`, { scroll: false }));
            }}
          >
            <option value="">All</option>
            {filter.options.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
      ))}
    </div>
  );
}
