import type pg from "pg";

/** One measured figure; `npm run bench` prints these as a table and writes them to BENCHMARKS.md. */
export type BenchResult = {
  section: string; // e.g. "ingest", "rollups", "metrics"
  name: string; // what was measured
  value: number;
  unit: string; // "events/s", "ms", "s", "bytes", "x"
  target?: string; // e.g. "≥ 50,000 events/s"
  note?: string;
};

export type BenchScale = "small" | "medium" | "large";

export type BenchContext = {
  scale: BenchScale;
  ownerUrl: string;
  appUrl: string;
  owner: pg.Pool;
  log: (line: string) => void;
};
