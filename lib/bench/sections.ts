import { benchAlerts } from "./alerts";
import { benchIngest } from "./ingest";
import { benchMetrics } from "./metrics";
import type { BenchContext, BenchResult } from "./types";

export type BenchSection = { name: string; run: (ctx: BenchContext) => Promise<BenchResult[]> };

/** Every area's benchmark, in the order `npm run bench` runs them. */
export const BENCH_SECTIONS: BenchSection[] = [
  { name: "ingest", run: benchIngest },
  { name: "metrics", run: benchMetrics },
  { name: "alerts", run: benchAlerts },
];
