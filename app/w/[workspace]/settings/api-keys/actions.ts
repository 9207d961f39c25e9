"use server";

import { revalidatePath } from "next/cache";
import { headers } from "next/headers";
import { clientIpFromHeaders } from "@/lib/accounts/audit";
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
    const ip = clientIpFromHeaders(await headers());
    const { key, summary } = await createKeyFor(access, form, undefined, ip);
    revalidatePath(`/w/${slug}/settings/api-keys`);
    return { key, prefix: summary.prefix, name: summary.name };
  });
}

/** A form action (no result shown): refusals become an error value instead of an exception. */
export async function revokeKeyAction(slug: string, form: FormData): Promise<void> {
  await runAction(async () => {
    const access = await authorizeWorkspace(slug, "api_keys.manage");
    const revoked = await revokeKeyFor(access, form, undefined, clientIpFromHeaders(await headers()));
    revalidatePath(`/w/${slug}/settings/api-keys`);
    return { revoked };
  });
}
