import { forbidden, notFound, redirect } from "next/navigation";
import { NextResponse } from "next/server";
import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { getSessionAccount } from "@/lib/auth/session";
import { recordAuditEvent } from "@/lib/accounts/audit";
import { withUserContext } from "@/lib/db/context";
import { appPrisma } from "@/lib/db/prisma";
import { WORKSPACE_ROLES, roleHasPermission, type Permission } from "./permissions";

/**
 * What a platform admin may do in a workspace they are not a member of: read it, nothing more.
 * (A platform admin who is also a member gets their role's permissions on top.)
 */
export const PLATFORM_ADMIN_PERMISSIONS = [
  "workspace.read",
  "usage.read_all",
  "alerts.read",
  "audit.read",
] as const satisfies readonly Permission[];

export type AccessStatus = 401 | 403 | 404;

/** Why access was refused. 404 is used for "no such workspace" and "not a member" alike. */
export class AccessError extends Error {
  constructor(
    readonly status: AccessStatus,
    message: string = defaultAccessMessage(status),
  ) {
    super(message);
    this.name = "AccessError";
  }
}

function defaultAccessMessage(status: AccessStatus): string {
  if (status === 401) return "Sign in to continue.";
  if (status === 403) return "Your role in this workspace does not allow this.";
  return "Workspace not found.";
}

const WORKSPACE_SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

const accessRowSchema = z.object({
  account_id: z.uuid(),
  email: z.string(),
  account_name: z.string().nullable(),
  is_platform_admin: z.boolean(),
  workspace_id: z.uuid().nullable(),
  slug: z.string().nullable(),
  workspace_name: z.string().nullable(),
  timezone: z.string().nullable(),
  role: z.enum(WORKSPACE_ROLES).nullable(),
});

const workspaceSchema = z.object({ id: z.uuid(), slug: z.string(), name: z.string(), timezone: z.string() });
export type AccessWorkspace = z.infer<typeof workspaceSchema>;

const accountSchema = z.object({ id: z.uuid(), email: z.string(), name: z.string().nullable() });
export type AccessAccount = z.infer<typeof accountSchema>;

export type WorkspaceAccess = {
  account: AccessAccount;
  workspace: AccessWorkspace;
  /** The account's membership role; null for a platform admin reading a workspace they are not in. */
  role: (typeof WORKSPACE_ROLES)[number] | null;
  isPlatformAdmin: boolean;
};

/**
 * The decision itself, for a known account id (or null when nobody is signed in). Membership,
 * role and the platform-admin flag are read from the database on every call, inside the account's
 * row-level-security context, so a removed member or a demoted admin loses access immediately.
 */
export async function resolveWorkspaceAccess(
  accountId: string | null,
  slug: string,
  permission: Permission,
  client: PrismaClient = appPrisma(),
): Promise<WorkspaceAccess> {
  if (!accountId || !z.uuid().safeParse(accountId).success) throw new AccessError(401);
  if (!WORKSPACE_SLUG.test(slug)) throw new AccessError(404);
  const rows = await withUserContext(
    accountId,
    (tx) => tx.$queryRaw<unknown[]>`
      SELECT a.id::text AS account_id, a.email, a.name AS account_name, a.is_platform_admin,
             w.id::text AS workspace_id, w.slug, w.name AS workspace_name, w.timezone, m.role
      FROM public.accounts a
      LEFT JOIN public.workspaces w ON w.slug = ${slug}
      LEFT JOIN public.workspace_members m ON m.workspace_id = w.id AND m.account_id = a.id
      WHERE a.id = ${accountId}::uuid`,
    client,
  );
  // A token for an account that no longer exists is as good as no session.
  if (rows.length === 0) throw new AccessError(401);
  const row = accessRowSchema.parse(rows[0]);
  const account = accountSchema.parse({ id: row.account_id, email: row.email, name: row.account_name });
  if (row.workspace_id === null || (row.role === null && !row.is_platform_admin)) throw new AccessError(404);
  const workspace = workspaceSchema.parse({
    id: row.workspace_id,
    slug: row.slug,
    name: row.workspace_name,
    timezone: row.timezone,
  });
  const allowed =
    (row.role !== null && roleHasPermission(row.role, permission)) ||
    (row.is_platform_admin && (PLATFORM_ADMIN_PERMISSIONS as readonly Permission[]).includes(permission));
  if (!allowed) throw new AccessError(403);
  return { account, workspace, role: row.role, isPlatformAdmin: row.is_platform_admin };
}

/** The one access check for pages, server actions and route handlers: throws AccessError. */
export async function authorizeWorkspace(slug: string, permission: Permission): Promise<WorkspaceAccess> {
  const session = await getSessionAccount();
  const access = await resolveWorkspaceAccess(session?.id ?? null, slug, permission);
  if (access.role === null && access.isPlatformAdmin) await recordPlatformAdminRead(access);
  return access;
}

/**
 * The platform-admin path is explicit and audited: reading a workspace without being a member
 * leaves an audit row (at most one per admin, workspace and hour, so browsing does not flood it).
 */
export async function recordPlatformAdminRead(access: WorkspaceAccess, client?: PrismaClient): Promise<void> {
  await withUserContext(
    access.account.id,
    async (tx) => {
      const recent = await tx.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM public.audit_log
        WHERE workspace_id = ${access.workspace.id}::uuid AND actor_account_id = ${access.account.id}::uuid
          AND action = 'platform_admin.workspace_read' AND created_at > now() - interval '1 hour'`;
      if (recent[0].n > 0) return;
      await recordAuditEvent(tx, { workspaceId: access.workspace.id, action: "platform_admin.workspace_read" });
    },
    client,
  );
}

/** The signed-in account, or AccessError(401). */
export async function requireAccount(): Promise<AccessAccount> {
  const session = await getSessionAccount();
  if (!session) throw new AccessError(401);
  return session;
}

const readableWorkspaceSchema = workspaceSchema.extend({ role: z.enum(WORKSPACE_ROLES).nullable() });
export type ReadableWorkspace = z.infer<typeof readableWorkspaceSchema>;

/** Workspaces the account may read (its memberships; every workspace for a platform admin), by name. */
export async function listReadableWorkspaces(
  accountId: string,
  client: PrismaClient = appPrisma(),
): Promise<ReadableWorkspace[]> {
  const rows = await withUserContext(
    accountId,
    (tx) => tx.$queryRaw<unknown[]>`
      SELECT w.id::text AS id, w.slug, w.name, w.timezone, m.role
      FROM public.workspaces w
      LEFT JOIN public.workspace_members m ON m.workspace_id = w.id AND m.account_id = ${accountId}::uuid
      WHERE m.account_id IS NOT NULL
         OR EXISTS (SELECT 1 FROM public.accounts a WHERE a.id = ${accountId}::uuid AND a.is_platform_admin)
      ORDER BY w.name, w.slug`,
    client,
  );
  return z.array(readableWorkspaceSchema).parse(rows);
}

/**
 * For server components: the same check, with refusals turned into navigation — sign in (401),
 * the 404 page (404: outsiders never learn the workspace exists), app/forbidden.tsx with status 403.
 * `returnTo` is where sign-in should come back to.
 */
export async function authorizePage(
  slug: string,
  permission: Permission,
  returnTo: string = `/w/${encodeURIComponent(slug)}`,
): Promise<WorkspaceAccess> {
  try {
    return await authorizeWorkspace(slug, permission);
  } catch (error) {
    if (!(error instanceof AccessError)) throw error;
    if (error.status === 401) redirect(`/login?callbackUrl=${encodeURIComponent(returnTo)}`);
    if (error.status === 404) notFound();
    forbidden(); // renders app/forbidden.tsx with a real 403 status
  }
}

/** A 400 for input that is not even parseable (bad JSON); zod errors become 400s on their own. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadRequestError";
  }
}

export type ErrorBody = { error: string; fields?: Record<string, string[]> };

/** zod issues as {"path.to.field": ["message", ...]}; "(root)" for whole-value issues. */
export function zodFieldErrors(error: z.ZodError): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const key = issue.path.length > 0 ? issue.path.map(String).join(".") : "(root)";
    (fields[key] ??= []).push(issue.message);
  }
  return fields;
}

/** Maps a thrown error to the response body and status a client should see; null if unexpected. */
export function describeClientError(error: unknown): { status: number; body: ErrorBody } | null {
  if (error instanceof AccessError) return { status: error.status, body: { error: error.message } };
  if (error instanceof z.ZodError) {
    return { status: 400, body: { error: "The request is invalid.", fields: zodFieldErrors(error) } };
  }
  if (error instanceof BadRequestError) return { status: 400, body: { error: error.message } };
  return null;
}

/**
 * Wraps a route handler: AccessError → JSON 401/403/404, zod errors → 400 with field messages,
 * BadRequestError → 400. Anything else is a bug and propagates (500, logged by Next).
 */
export function withApiErrors<Args extends unknown[]>(
  handler: (...args: Args) => Promise<Response>,
): (...args: Args) => Promise<Response> {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      const described = describeClientError(error);
      if (!described) throw error;
      return NextResponse.json(described.body, { status: described.status });
    }
  };
}

/** Parses a JSON request body with a schema (400 on malformed JSON or invalid fields). */
export async function readJsonBody<Schema extends z.ZodType>(
  request: Request,
  schema: Schema,
): Promise<z.infer<Schema>> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw new BadRequestError("The request body must be valid JSON.");
  }
  return schema.parse(body);
}

export type ActionResult<T> = { ok: true; data: T } | ({ ok: false; status: number } & ErrorBody);

/**
 * Wraps a server action body: the same mapping as withApiErrors, returned as a value the form
 * can render (server actions cannot set a status code).
 */
export async function runAction<T>(action: () => Promise<T>): Promise<ActionResult<T>> {
  try {
    return { ok: true, data: await action() };
  } catch (error) {
    const described = describeClientError(error);
    if (!described) throw error;
    return { ok: false, status: described.status, ...described.body };
  }
}
