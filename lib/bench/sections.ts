import { benchAlerts } from "./alerts";
import { benchIngest } from "./ingest";
import { benchLoadTest } from "./load-test";
import { benchMetrics } from "./metrics";
import { benchPages } from "./pages";
import { benchRollups } from "./rollups";
import { benchStorage } from "./storage";
import type { BenchContext, BenchResult } from "./types";

export type BenchSection = { name: string; run: (ctx: BenchContext) => Promise<BenchResult[]> };

/** Every area's benchmark, in the order `npm run bench` runs them. */
export const BENCH_SECTIONS: BenchSection[] = [
  { name: "ingest", run: benchIngest },
  // Before metrics and alerts: its full rebuild fills the rollups they read.
  { name: "rollups", run: benchRollups },
  { name: "metrics", run: benchMetrics },
  // Full server render of the dashboard pages under `next start` (builds first if the build is stale).
  { name: "pages", run: benchPages },
  { name: "alerts", run: benchAlerts },
  { name: "storage", run: benchStorage },
  // Only with --load-test or a scale other than small (it runs for --duration seconds, default 120).
  { name: "load-test", run: benchLoadTest },
];
