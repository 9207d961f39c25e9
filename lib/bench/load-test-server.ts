import { monitorEventLoopDelay } from "node:perf_hooks";
import { z } from "zod";
import { dashboardConcurrency, prismaFor } from "@/lib/db/prisma";
import { handleIngestRequest } from "@/lib/ingest/handler";
import { serveFetchHandler } from "@/lib/ingest/test-server";
import { handleMetricsRequest, metricReadCounts } from "@/lib/metrics/api";

/**
 * The load test's server, in a process of its own (`node --import tsx lib/bench/load-test-server.ts`,
 * started by lib/bench/load-test.ts): the real route handlers of POST /api/v1/ingest and GET /api/v1/metrics
 * with the app's two pools — writes and ingest on one of appPrisma's size, dashboard reads on the
 * read pool of DASHBOARD_DB_CONCURRENCY — so the measured server does not share its event loop
 * with the load generator, as in production. GET /__counts answers the metric-read counts and
 * the event loop's delay.
 *
 * Prints "listening <url>" once it serves; on SIGTERM stops accepting, lets the requests under way
 * finish (up to 30 s), closes the pools and exits.
 */
const env = z
  .object({ LOAD_TEST_APP_URL: z.string().startsWith("postgres", "LOAD_TEST_APP_URL must be a postgres:// URL") })
  .parse(process.env);
const db = prismaFor(env.LOAD_TEST_APP_URL, { max: 10 });
const readDb = prismaFor(env.LOAD_TEST_APP_URL, { max: dashboardConcurrency(), pool: "read" });
let inFlight = 0;
// How long callbacks waited for the event loop (a request's latency includes it): reset by
// GET /__counts?reset, read by GET /__counts.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const server = await serveFetchHandler(async (request) => {
  const { pathname } = new URL(request.url);
  if (pathname === "/__counts") {
    const counts = {
      ...metricReadCounts(),
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
    };
    if (new URL(request.url).searchParams.has("reset")) loopDelay.reset();
    return Response.json(counts);
  }
  inFlight++;
  try {
    if (pathname === "/api/v1/ingest") return await handleIngestRequest(request, { db });
    return await handleMetricsRequest(request, { db, readDb, sessionAccountId: async () => null });
  } finally {
    inFlight--;
  }
});
console.log(`listening ${server.url}`);

process.once("SIGTERM", () => {
  void (async () => {
    const deadline = Date.now() + 30_000;
    while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await server.close();
    await Promise.all([db.$disconnect(), readDb.$disconnect()]);
    process.exit(0);
  })();
});
