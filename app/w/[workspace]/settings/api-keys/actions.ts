"use server";

import { revalidatePath } from "next/cache";
import { authorizeWorkspace, runAction, type ActionResult } from "@/lib/access/authorize";
import { createKeyFor, revokeKeyFor } from "@/lib/api-keys/manage";

export type CreateKeyState = ActionResult<{ key: string; prefix: string; name: string }> | null;

/** Returns the new key itself: the only time it is ever shown. */
export async function createKeyAction(
  slug: string,
  _previous: CreateKeyState,
  form: FormData,
): Promise<CreateKeyState> {
  return runAction(async () => {
    const access = await authorizeWorkspace(slug, "api_keys.manage");
    const { key, summary } = await createKeyFor(access, form);
    revalidatePath(`/w/${slug}/settings/api-keys`);
    return { key, prefix: summary.prefix, name: summary.name };
  });
}

export async function revokeKeyAction(slug: string, form: FormData): Promise<void> {
  const access = await authorizeWorkspace(slug, "api_keys.manage");
  await revokeKeyFor(access, form);
  revalidatePath(`/w/${slug}/settings/api-keys`);
}
