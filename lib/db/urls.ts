import { createHash } from "node:crypto";

/** The role the web app and worker connect as: owns no table, no superuser, no BYPASSRLS. */
export const APP_ROLE = "pulseboard_app";

/**
 * The app role's password is derived from the owner URL, so nothing extra has to be stored or
 * configured: whoever can read the owner URL could become the owner anyway.
 */
export function appRolePassword(ownerUrl: string): string {
  // Roles are per server, not per database: derive from the server part of the URL only.
  const url = new URL(ownerUrl);
  const server = `${url.username}:${url.password}@${url.hostname}:${url.port}`;
  return createHash("sha256").update(`${server}\u0000${APP_ROLE}`).digest("base64url").slice(0, 32);
}

/** The same server and database, connecting as the app role. */
export function appUrlFor(ownerUrl: string): string {
  if (process.env.DATABASE_APP_URL) return process.env.DATABASE_APP_URL;
  const url = new URL(ownerUrl);
  url.username = APP_ROLE;
  url.password = appRolePassword(ownerUrl);
  return url.toString();
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
