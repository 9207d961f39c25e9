import { getServerSession } from "next-auth/next";
import { cache } from "react";
import { z } from "zod";
import { authOptions } from "./options";

const sessionAccountSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string().nullable().default(null),
});
export type SessionAccount = z.infer<typeof sessionAccountSchema>;

/**
 * Who is signed in, from the session token (no database read): {id, email, name} or null.
 * What they may do is decided by lib/access/authorize.ts, which re-reads roles every time.
 * Cached per request so a layout and its page decode the cookie once.
 */
export const getSessionAccount = cache(async (): Promise<SessionAccount | null> => {
  const session = await getServerSession(authOptions);
  const parsed = sessionAccountSchema.safeParse(session?.user ?? null);
  return parsed.success ? parsed.data : null;
});
