import { toCsv } from "@/lib/metrics/csv";

export type TableValue = string | number | null;
export type TableSort = { key: string; dir: "asc" | "desc" };
export type TableRowValues = { id: string; values: Record<string, TableValue> };

/**
 * The rows a DataTable shows, over all of its pages: those whose text matches the filter, in the
 * chosen order (empty cells last either way). The table renders pages of exactly this list and
 * the CSV export writes exactly this list, so "Export CSV (n rows)" is the number of rows listed.
 */
export function selectTableRows<R extends TableRowValues>(rows: R[], query: string, sort: TableSort): R[] {
  const needle = query.trim().toLowerCase();
  const filtered = needle
    ? rows.filter((row) =>
        Object.values(row.values).some((v) => typeof v === "string" && v.toLowerCase().includes(needle)),
      )
    : rows;
  return [...filtered].sort((a, b) => {
    const x = a.values[sort.key];
    const y = b.values[sort.key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    const cmp = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return sort.dir === "asc" ? cmp : -cmp;
  });
}

/** The CSV of the selected rows: one line per row, in order, raw numbers (not formatted). */
export function tableCsv(columns: { key: string; label: string }[], rows: TableRowValues[]): string {
  return toCsv(
    columns.map((c) => c.label),
    rows.map((row) => columns.map((c) => row.values[c.key] ?? null)),
  );
}

/** "Rows 1–25 of 40" under the table: says which of the exported rows the current page shows. */
export function pageRangeLabel(page: number, pageSize: number, total: number): string {
  if (total === 0) return "No rows";
  const first = page * pageSize + 1;
  const last = Math.min(total, (page + 1) * pageSize);
  return `Rows ${first}–${last} of ${total}`;
}
