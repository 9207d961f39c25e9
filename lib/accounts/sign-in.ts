import type { PrismaClient } from "@/lib/generated/prisma/client";
import { authenticateCredentials, credentialsSchema, type SignedInAccount } from "@/lib/auth/options";
import { ownerPrisma } from "@/lib/db/prisma";
import { recordPreAuthEvent } from "./audit";

/**
 * Sign-in throttling, stored in PostgreSQL (public.sign_in_failures) so it holds across processes
 * and restarts. Within a sliding window, an e-mail that failed `perAccount` times, or a client IP
 * that failed `perIp` times, is refused without checking the password (which also saves the
 * Argon2 work). A successful sign-in clears the account's failures, not the IP's.
 */
export const SIGN_IN_LIMITS = { perAccount: 5, perIp: 30, windowMinutes: 15 } as const;

/**
 * The one message every refusal shows (wrong password, unknown e-mail, throttled): telling them
 * apart would tell an attacker which e-mails have accounts and when to retry.
 */
export const GENERIC_SIGN_IN_ERROR =
  "Sign-in failed. Check your e-mail and password; after several failed attempts, wait 15 minutes and try again.";

export async function isSignInThrottled(owner: PrismaClient, email: string, ip: string | null): Promise<boolean> {
  const rows = await owner.$queryRaw<{ by_account: number; by_ip: number }[]>`
    SELECT count(*) FILTER (WHERE email = ${email})::int AS by_account,
           count(*) FILTER (WHERE ip = ${ip}::inet)::int AS by_ip
    FROM public.sign_in_failures
    WHERE created_at > now() - make_interval(mins => ${SIGN_IN_LIMITS.windowMinutes})
      AND (email = ${email} OR ip = ${ip}::inet)`;
  const { by_account, by_ip } = rows[0];
  return by_account >= SIGN_IN_LIMITS.perAccount || by_ip >= SIGN_IN_LIMITS.perIp;
}

async function recordFailure(owner: PrismaClient, email: string, ip: string | null): Promise<void> {
  await owner.$transaction([
    owner.$executeRaw`INSERT INTO public.sign_in_failures (email, ip) VALUES (${email}, ${ip}::inet)`,
    // Keep the table small: nothing older than a day matters to any window.
    owner.$executeRaw`DELETE FROM public.sign_in_failures WHERE created_at < now() - interval '1 day'`,
  ]);
}

/**
 * Email + password sign-in with throttling, audit events, and acceptance of the account's pending
 * invitations. Returns the account, or null for every kind of refusal (see GENERIC_SIGN_IN_ERROR).
 */
export async function signInWithPassword(
  input: unknown,
  ip: string | null,
  owner: PrismaClient = ownerPrisma(),
): Promise<SignedInAccount | null> {
  const parsed = credentialsSchema.safeParse(input);
  if (!parsed.success) return null;
  const email = parsed.data.email;
  if (await isSignInThrottled(owner, email, ip)) {
    await recordPreAuthEvent(owner, {
      action: "auth.sign_in_failed",
      accountId: null,
      email,
      ip,
      details: { reason: "throttled" },
    });
    return null;
  }
  const account = await authenticateCredentials(parsed.data, owner);
  if (!account) {
    await recordFailure(owner, email, ip);
    await recordPreAuthEvent(owner, {
      action: "auth.sign_in_failed",
      accountId: null,
      email,
      ip,
      details: { reason: "credentials" },
    });
    return null;
  }
  await owner.$executeRaw`DELETE FROM public.sign_in_failures WHERE email = ${email}`;
  await completeSignIn(owner, account, ip, "password");
  return account;
}

/** What every successful sign-in does (password or OAuth): audit it, accept pending invitations. */
export async function completeSignIn(
  owner: PrismaClient,
  account: SignedInAccount,
  ip: string | null,
  method: string,
): Promise<void> {
  await recordPreAuthEvent(owner, {
    action: "auth.sign_in",
    accountId: account.id,
    email: account.email,
    ip,
    details: { method },
  });
  await acceptPendingInvitations(owner, account.id);
}

/** Accepts the account's open invitations (app.accept_pending_invitations); returns how many. */
export async function acceptPendingInvitations(client: PrismaClient, accountId: string): Promise<number> {
  return client.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT set_config('app.current_user_id', ${accountId}, true)`;
    const rows = await tx.$queryRaw<
      { workspace_id: string }[]
    >`SELECT workspace_id::text FROM app.accept_pending_invitations()`;
    return rows.length;
  });
}
