"use client";

import Link from "next/link";
import { useId, useMemo, useState } from "react";
import { formatValue, type ValueFormat } from "@/components/format";
import styles from "./dashboard.module.css";
import { Sparkline } from "./sparkline";
import { pageRangeLabel, selectTableRows, tableCsv, type TableValue } from "./table-rows";

export type { TableValue } from "./table-rows";
export type TableColumn = {
  key: string;
  label: string;
  /** Numbers are formatted with this (and right-aligned); text is shown as is, left-aligned. */
  format?: ValueFormat;
  /** Cell links to row[`${key}Href`] when present. */
  link?: boolean;
  /** A column of sparkline values (row[key] must be a number[] stored in `sparklines`). */
  sparkline?: boolean;
};
export type TableRow = {
  id: string;
  values: Record<string, TableValue>;
  sparklines?: Record<string, (number | null)[]>;
  hrefs?: Record<string, string>;
};

const PAGE_SIZES = [10, 25, 50, 100];

function display(value: TableValue, format?: ValueFormat): string {
  if (typeof value === "number") return formatValue(value, format ?? "decimal");
  return value ?? "—";
}

/**
 * Sortable, filterable, paginated table with CSV export of exactly the rows the filter and sort
 * select (every page of them), in the order shown, as raw numbers (not formatted).
 */
export function DataTable({
  title,
  columns,
  rows,
  filename,
  initialSort,
  emptyText = "No rows for this range.",
  exportable = true,
}: {
  title: string;
  columns: TableColumn[];
  rows: TableRow[];
  filename: string;
  initialSort?: { key: string; dir: "asc" | "desc" };
  emptyText?: string;
  /** False hides CSV export (e.g. other people's usage for a role without usage.export). */
  exportable?: boolean;
}) {
  const [query, setQuery] = useState("");
  const [sort, setSort] = useState(initialSort ?? { key: columns[0]?.key ?? "", dir: "asc" as const });
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(25);
  const captionId = useId();

  const visible = useMemo(() => selectTableRows(rows, query, sort), [rows, query, sort]);

  const pages = Math.max(1, Math.ceil(visible.length / pageSize));
  const current = Math.min(page, pages - 1);
  const pageRows = visible.slice(current * pageSize, (current + 1) * pageSize);
  const dataColumns = columns.filter((c) => !c.sparkline);

  function exportCsv() {
    const csv = tableCsv(dataColumns, visible);
    const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    a.click();
    URL.revokeObjectURL(url);
  }

  return (
    <section className="card" aria-labelledby={captionId}>
      <div className={styles.tableTools}>
        <h2 id={captionId} className="card-title">
          {title}
        </h2>
        <div className={styles.toolbar} style={{ marginBottom: 0 }}>
          <input
            className="input"
            type="search"
            placeholder="Filter rows…"
            aria-label={`Filter ${title}`}
            value={query}
            onChange={(e) => {
              setQuery(e.target.value);
              setPage(0);
            }}
          />
          {exportable ? (
            <button type="button" className="button button-small" onClick={exportCsv} disabled={visible.length === 0}>
              Export CSV ({visible.length} rows)
            </button>
          ) : null}
        </div>
      </div>
      <div className="table-wrap">
        <table className="data-table">
          <thead>
            <tr>
              {columns.map((c) => (
                <th
                  key={c.key}
                  scope="col"
                  className={c.format ? "num" : undefined}
                  aria-sort={sort.key === c.key ? (sort.dir === "asc" ? "ascending" : "descending") : undefined}
                >
                  {c.sparkline ? (
                    c.label
                  ) : (
                    <button
                      type="button"
                      className={styles.sortButton}
                      onClick={() =>
                        setSort((s) => ({ key: c.key, dir: s.key === c.key && s.dir === "desc" ? "asc" : "desc" }))
                      }
                    >
                      {c.label}
                      {sort.key === c.key ? (sort.dir === "asc" ? " ▲" : " ▼") : ""}
                    </button>
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {pageRows.length === 0 ? (
              <tr>
                <td colSpan={columns.length}>{emptyText}</td>
              </tr>
            ) : (
              pageRows.map((row) => (
                <tr key={row.id} data-row-id={row.id}>
                  {columns.map((c, i) => {
                    const content = c.sparkline ? (
                      <Sparkline
                        values={row.sparklines?.[c.key] ?? []}
                        label={`${c.label} of ${String(row.values[columns[0].key])}`}
                      />
                    ) : c.link && row.hrefs?.[c.key] ? (
                      <Link href={row.hrefs[c.key]}>{display(row.values[c.key], c.format)}</Link>
                    ) : (
                      display(row.values[c.key], c.format)
                    );
                    return i === 0 ? (
                      <th key={c.key} scope="row" className={c.format ? "num" : undefined}>
                        {content}
                      </th>
                    ) : (
                      <td
                        key={c.key}
                        className={c.format ? "num" : undefined}
                        data-column={c.key}
                        data-value={row.values[c.key] ?? ""}
                      >
                        {content}
                      </td>
                    );
                  })}
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <div className={styles.pager}>
        <label>
          Rows per page{" "}
          <select
            className="input"
            value={pageSize}
            onChange={(e) => {
              setPageSize(Number(e.target.value));
              setPage(0);
            }}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="button button-small"
          disabled={current === 0}
          onClick={() => setPage(current - 1)}
        >
          Previous
        </button>
        <span data-testid="table-page-range">
          {pageRangeLabel(current, pageSize, visible.length)}
          {pages > 1 ? ` · page ${current + 1} of ${pages}` : ""}
        </span>
        <button
          type="button"
          className="button button-small"
          disabled={current >= pages - 1}
          onClick={() => setPage(current + 1)}
        >
          Next
        </button>
      </div>
    </section>
  );
}
