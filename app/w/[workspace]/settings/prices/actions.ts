"use server";

import { revalidatePath } from "next/cache";
import { authorizeWorkspace, runAction, type ActionResult } from "@/lib/access/authorize";
import { addPriceFor, deletePriceFor, repriceFor } from "@/lib/prices/manage";

export type AddPriceState = ActionResult<{ model: string }> | null;
export type RepriceState = ActionResult<{ intent: "count" | "apply"; from: string; calls: number }> | null;

export async function addPriceAction(slug: string, _previous: AddPriceState, form: FormData): Promise<AddPriceState> {
  return runAction(async () => {
    const access = await authorizeWorkspace(slug, "prices.manage");
    const price = await addPriceFor(access, form);
    revalidatePath(`/w/${slug}/settings/prices`);
    return { model: price.model };
  });
}

export async function deletePriceAction(slug: string, form: FormData): Promise<void> {
  const access = await authorizeWorkspace(slug, "prices.manage");
  await deletePriceFor(access, form);
  revalidatePath(`/w/${slug}/settings/prices`);
}

export async function repriceAction(slug: string, _previous: RepriceState, form: FormData): Promise<RepriceState> {
  return runAction(async () => {
    const access = await authorizeWorkspace(slug, "prices.manage");
    return repriceFor(access, form);
  });
}
