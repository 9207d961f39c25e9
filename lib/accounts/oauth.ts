import type { Account as ProviderAccount, Profile } from "next-auth";
import type { Provider } from "next-auth/providers/index";
import GitHubModule from "next-auth/providers/github";
import GoogleModule from "next-auth/providers/google";
import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { cjsDefault } from "@/lib/auth/interop";
import type { SignedInAccount } from "@/lib/auth/options";
import { ownerPrisma } from "@/lib/db/prisma";

// Default imports of next-auth's CommonJS providers break under Node's ESM loader (see interop.ts).
const GitHubProvider = cjsDefault(GitHubModule);
const GoogleProvider = cjsDefault(GoogleModule);

/**
 * OAuth / OpenID Connect sign-in, each provider switched on by its environment variables:
 *   GitHub: GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET
 *   Google: GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET
 *   OIDC:   OIDC_ISSUER (e.g. https://login.example.com/realms/x), OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
 *           OIDC_NAME (button label, default "Single sign-on")
 * Callback URL to register at the provider: <NEXTAUTH_URL>/api/auth/callback/<github|google|oidc>.
 * A provider identity is matched to a Pulseboard account by verified e-mail only. Nobody can sign
 * up through a provider: the e-mail must already have an account or an open invitation (then the
 * account is created, without a password, and the invitation accepted).
 */
export function oauthProvidersFromEnv(env: NodeJS.ProcessEnv = process.env): Provider[] {
  const providers: Provider[] = [];
  if (env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET) {
    providers.push(GitHubProvider({ clientId: env.GITHUB_CLIENT_ID, clientSecret: env.GITHUB_CLIENT_SECRET }));
  }
  if (env.GOOGLE_CLIENT_ID && env.GOOGLE_CLIENT_SECRET) {
    providers.push(GoogleProvider({ clientId: env.GOOGLE_CLIENT_ID, clientSecret: env.GOOGLE_CLIENT_SECRET }));
  }
  if (env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET) {
    const issuer = env.OIDC_ISSUER.replace(/\/$/, "");
    providers.push({
      id: "oidc",
      name: env.OIDC_NAME || "Single sign-on",
      type: "oauth",
      wellKnown: `${issuer}/.well-known/openid-configuration`,
      authorization: { params: { scope: "openid email profile" } },
      idToken: true,
      checks: ["pkce", "state"],
      clientId: env.OIDC_CLIENT_ID,
      clientSecret: env.OIDC_CLIENT_SECRET,
      profile(profile: Record<string, unknown>) {
        return {
          id: String(profile.sub),
          email: typeof profile.email === "string" ? profile.email : null,
          name: typeof profile.name === "string" ? profile.name : null,
        };
      },
    });
  }
  return providers;
}

/** A sign-in button on the login page: next-auth's provider id (for `signIn(id)`) and its label. */
export type OAuthProviderButton = { id: string; name: string };

/** The OAuth providers switched on by the environment, in button order; empty when none is. */
export function enabledOAuthProviders(env: NodeJS.ProcessEnv = process.env): OAuthProviderButton[] {
  return oauthProvidersFromEnv(env).map((provider) => ({ id: provider.id, name: provider.name }));
}

const githubEmailsSchema = z.array(z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() }));

/**
 * The provider-verified e-mail of a sign-in, or null. Google and OIDC say so in the ID token
 * (`email_verified`); GitHub's profile e-mail may be unverified, so ask its API.
 */
export async function verifiedProviderEmail(
  account: ProviderAccount,
  profile: Profile | undefined,
): Promise<string | null> {
  if (account.provider === "github") {
    if (!account.access_token) return null;
    const response = await fetch("https://api.github.com/user/emails", {
      headers: { Authorization: `Bearer ${account.access_token}`, Accept: "application/vnd.github+json" },
    });
    if (!response.ok) return null;
    const emails = githubEmailsSchema.safeParse(await response.json());
    const primary = emails.success ? emails.data.find((e) => e.primary && e.verified) : undefined;
    return primary ? primary.email.toLowerCase() : null;
  }
  const claims = z.object({ email: z.string(), email_verified: z.literal(true) }).safeParse(profile);
  return claims.success ? claims.data.email.toLowerCase() : null;
}

/**
 * The account for a verified provider e-mail: the existing one, or a new one when an open
 * invitation is addressed to that e-mail; null otherwise (sign-in refused). Owner connection:
 * this happens before anyone is authenticated.
 */
export async function resolveOAuthAccount(
  email: string,
  name: string | null,
  owner: PrismaClient = ownerPrisma(),
): Promise<SignedInAccount | null> {
  const rows = await owner.$queryRaw<SignedInAccount[]>`
    WITH invited AS (
      SELECT 1 FROM public.workspace_invitations
      WHERE email = ${email} AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
      LIMIT 1),
    created AS (
      INSERT INTO public.accounts (email, name)
      SELECT ${email}, ${name} WHERE EXISTS (SELECT 1 FROM invited)
      ON CONFLICT (email) DO NOTHING
      RETURNING id::text AS id, email, name)
    SELECT id::text AS id, email, name FROM public.accounts WHERE email = ${email}
    UNION ALL SELECT id, email, name FROM created`;
  return rows[0] ?? null;
}
