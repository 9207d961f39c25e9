import { isIP } from "node:net";
import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import type { Tx } from "@/lib/db/prisma";

/**
 * The audit trail (`public.audit_log`). Every event a feature records is named here, so the audit
 * page's filter and the documentation list the same set.
 */
export const AUDIT_ACTIONS = [
  "auth.sign_in",
  "auth.sign_in_failed",
  "account.password_changed",
  "member.invited",
  "member.role_changed",
  "member.removed",
  "invitation.revoked",
  "invitation.accepted", // written by app.accept_pending_invitations() itself
  "api_key.created",
  "api_key.revoked",
  "alert_rule.created",
  "alert_rule.updated",
  "alert_rule.deleted",
  "export.downloaded",
  "usage.viewed_other_user",
  "platform_admin.workspace_read", // a platform admin reading a workspace they are not a member of
] as const;
export const auditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof auditActionSchema>;

const ipSchema = z
  .string()
  .nullable()
  .optional()
  .transform((value) => (value && isIP(value) ? value : null));

export const auditEventSchema = z.object({
  /** null for account-level events (sign-in, password change). */
  workspaceId: z.uuid().nullable(),
  action: auditActionSchema,
  /** What the action was done to, e.g. {type: "api_key", id: "<uuid>"}. */
  target: z
    .object({ type: z.string().min(1).max(64), id: z.string().min(1).max(256) })
    .nullable()
    .default(null),
  /** Small, non-secret facts (old and new role, rule name, export format). Never secrets. */
  details: z.record(z.string(), z.json()).default({}),
  /** The client's address (see clientIpFromHeaders); anything that is not an IP is dropped. */
  ip: ipSchema,
});
export type AuditEventInput = z.input<typeof auditEventSchema>;

/**
 * Records an event inside the caller's transaction (so it commits or rolls back with the change it
 * describes). `tx` must carry a context: withUserContext (the actor is the signed-in account; the
 * database takes it from the context, it cannot be passed in) or withWorkspaceContext (an API key
 * acting for its workspace). The database refuses a workspace the actor cannot read.
 */
export async function recordAuditEvent(tx: Tx, event: AuditEventInput): Promise<bigint> {
  const e = auditEventSchema.parse(event);
  const rows = await tx.$queryRaw<{ id: bigint }[]>`
    SELECT app.record_audit_event(${e.workspaceId}::uuid, ${e.action}, ${e.target?.type ?? null}, ${e.target?.id ?? null},
                                  ${JSON.stringify(e.details)}::jsonb, ${e.ip}::inet) AS id`;
  return rows[0].id;
}

/**
 * Events that happen before anyone is authenticated (sign-in, failed sign-in): written on the owner
 * connection, the only request-time use of it (there is no account context to write them under).
 */
export async function recordPreAuthEvent(
  owner: PrismaClient,
  event: {
    action: "auth.sign_in" | "auth.sign_in_failed";
    accountId: string | null;
    email: string;
    ip: string | null;
    details?: Record<string, string>;
  },
): Promise<void> {
  const ip = ipSchema.parse(event.ip);
  await owner.$executeRaw`
    INSERT INTO public.audit_log (workspace_id, actor_account_id, actor_email, action, details, ip)
    VALUES (NULL, ${event.accountId}::uuid, ${event.email.slice(0, 320)}, ${event.action},
            ${JSON.stringify(event.details ?? {})}::jsonb, ${ip}::inet)`;
}

/**
 * The client's IP from request headers. Next.js sets X-Forwarded-For to the socket address only
 * when the header is absent, so the right-most entry is the address the nearest proxy saw.
 * PULSEBOARD_TRUSTED_PROXY_HOPS (default 0) says how many proxies in front append to it: with 1
 * (one reverse proxy), the right-most entry is the real client. Without a proxy a client can put
 * anything in the header, which is why throttling is also per account.
 */
export function clientIpFromHeaders(headers: Pick<Headers, "get">): string | null {
  const hops = z.coerce
    .number()
    .int()
    .min(0)
    .max(10)
    .catch(0)
    .parse(process.env.PULSEBOARD_TRUSTED_PROXY_HOPS ?? 0);
  const forwarded = (headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
  const candidate =
    forwarded.length > 0 ? forwarded[Math.max(0, forwarded.length - Math.max(1, hops))] : headers.get("x-real-ip");
  if (!candidate) return null;
  const unwrapped = candidate.replace(/^\[|\]$/g, "").replace(/^::ffff:(?=\d+\.)/, "");
  return isIP(unwrapped) ? unwrapped : null;
}

// ---------------------------------------------------------------------------------------------
// Reading the trail (the audit page). RLS decides which rows: owners/admins of the workspace and
// platform admins.

export const auditFilterSchema = z.object({
  action: z
    .union([auditActionSchema, z.literal("")])
    .optional()
    .transform((v) => v || null),
  actor: z
    .string()
    .trim()
    .toLowerCase()
    .max(320)
    .optional()
    .transform((v) => v || null),
  from: z.iso
    .date()
    .optional()
    .or(z.literal(""))
    .transform((v) => v || null),
  to: z.iso
    .date()
    .optional()
    .or(z.literal(""))
    .transform((v) => v || null),
  /** Keyset cursor: show events with id below this one. */
  before: z.coerce
    .bigint()
    .positive()
    .optional()
    .or(z.literal(""))
    .transform((v) => (v === "" ? null : (v ?? null))),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type AuditFilter = z.output<typeof auditFilterSchema>;

const auditRowSchema = z.object({
  id: z.bigint(),
  workspace_id: z.string().nullable(),
  actor_account_id: z.string().nullable(),
  actor_email: z.string().nullable(),
  action: z.string(),
  target_type: z.string().nullable(),
  target_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  ip: z.string().nullable(),
  created_at: z.date(),
});
export type AuditRow = z.infer<typeof auditRowSchema>;

/**
 * One page of a workspace's events, newest first (`workspaceId` null: the account-level events,
 * which only platform admins can read). Returns the rows and the cursor of the next page.
 */
export async function listAuditEvents(
  tx: Tx,
  workspaceId: string | null,
  filter: AuditFilter,
): Promise<{ rows: AuditRow[]; nextBefore: bigint | null }> {
  const rows = await tx.$queryRaw<unknown[]>`
    SELECT id, workspace_id::text, actor_account_id::text, actor_email, action, target_type, target_id, details,
           host(ip) AS ip, created_at
    FROM public.audit_log
    WHERE workspace_id IS NOT DISTINCT FROM ${workspaceId}::uuid
      AND (${filter.action}::text IS NULL OR action = ${filter.action})
      AND (${filter.actor}::text IS NULL OR actor_email = ${filter.actor})
      AND (${filter.from}::date IS NULL OR created_at >= ${filter.from}::date)
      AND (${filter.to}::date IS NULL OR created_at < ${filter.to}::date + 1)
      AND (${filter.before}::bigint IS NULL OR id < ${filter.before}::bigint)
    ORDER BY id DESC
    LIMIT ${filter.limit + 1}`;
  const parsed = z.array(auditRowSchema).parse(rows);
  const page = parsed.slice(0, filter.limit);
  return { rows: page, nextBefore: parsed.length > filter.limit ? page[page.length - 1].id : null };
}
