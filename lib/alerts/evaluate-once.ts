/**
 * One evaluation tick plus one delivery pass, as a separate process: the tests start two of these
 * at once against the same database to show notifications stay exactly-once across processes.
 * Usage: tsx lib/alerts/evaluate-once.ts <ownerUrl> <ISO time> [retry base ms]
 */
import { z } from "zod";
import { prismaFor } from "@/lib/db/prisma";
import { deliverDueNotifications } from "./deliver";
import { evaluateAlerts } from "./evaluator";

const args = z
  .tuple([z.url(), z.iso.datetime(), z.coerce.number().int().min(0).default(0)])
  .parse([process.argv[2], process.argv[3], process.argv[4] ?? "0"]);

async function main() {
  const [ownerUrl, at, baseMs] = args;
  const db = prismaFor(ownerUrl, { max: 3 });
  const now = new Date(at);
  const evaluation = await evaluateAlerts(db, { now });
  const delivery = await deliverDueNotifications(db, { now, backoff: { baseMs, maxMs: baseMs, maxAttempts: 4 } });
  process.stdout.write(`${JSON.stringify({ evaluation, delivery })}\n`);
  await db.$disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
