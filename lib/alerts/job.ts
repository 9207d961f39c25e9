import { prismaFor } from "@/lib/db/prisma";
import type { JobContext } from "@/lib/worker/registry";
import { deliverDueNotifications } from "./deliver";
import { evaluateAlerts } from "./evaluator";

/** Every minute: evaluate every active rule, then send what it produced. */
export async function runAlertEvaluation({ ownerUrl, log }: JobContext) {
  const db = prismaFor(ownerUrl, { max: 4 });
  const evaluation = await evaluateAlerts(db);
  const delivery = await deliverDueNotifications(db);
  if (evaluation.transitions > 0 || delivery.attempted > 0 || evaluation.errors > 0) {
    log(
      `alerts: ${evaluation.rulesEvaluated} rule(s), ${evaluation.transitions} transition(s), ${evaluation.errors} error(s); ` +
        `${delivery.attempted} delivery attempt(s), ${delivery.delivered} delivered, ${delivery.retrying} to retry, ${delivery.failed} failed`,
    );
  }
  return { evaluation, delivery };
}

/** Between evaluations: retries whose backoff has passed. */
export async function runAlertDelivery({ ownerUrl, log }: JobContext) {
  const delivery = await deliverDueNotifications(prismaFor(ownerUrl, { max: 4 }));
  if (delivery.attempted > 0) log(`alerts: ${delivery.attempted} delivery attempt(s), ${delivery.delivered} delivered`);
  return delivery;
}
