import type { NextAuthOptions } from "next-auth";
import CredentialsModule from "next-auth/providers/credentials";
import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { cjsDefault } from "@/lib/auth/interop";
import { hashPassword, verifyPassword } from "@/lib/auth/password";
import { ownerPrisma } from "@/lib/db/prisma";
import { clientIpFromHeaders } from "@/lib/accounts/audit";
import { oauthProvidersFromEnv, resolveOAuthAccount, verifiedProviderEmail } from "@/lib/accounts/oauth";
import { completeSignIn, signInWithPassword } from "@/lib/accounts/sign-in";

const CredentialsProvider = cjsDefault(CredentialsModule);

export const credentialsSchema = z.object({
  email: z.string().trim().toLowerCase().pipe(z.email().max(320)),
  password: z.string().min(1).max(1024),
});

const accountRowSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string().nullable(),
  password_hash: z.string().nullable(),
});

let decoy: Promise<string> | null = null;
function decoyHash(): Promise<string> {
  decoy ??= hashPassword(crypto.randomUUID());
  return decoy;
}

export type SignedInAccount = { id: string; email: string; name: string | null };

/**
 * The only read that happens before anyone is authenticated, hence the only request-time use of
 * the owner client: there is no account yet to set a row-level-security context for.
 */
export async function authenticateCredentials(
  input: unknown,
  client: PrismaClient = ownerPrisma(),
): Promise<SignedInAccount | null> {
  const parsed = credentialsSchema.safeParse(input);
  if (!parsed.success) return null;
  const { email, password } = parsed.data;
  const rows = await client.$queryRaw<unknown[]>`
    SELECT id::text AS id, email, name, password_hash
    FROM public.accounts
    WHERE email = ${email}`;
  const account = rows.length === 1 ? accountRowSchema.parse(rows[0]) : null;
  // Unknown e-mails still pay for one Argon2 verification, so response time does not tell
  // an attacker which addresses have accounts.
  const ok = await verifyPassword(account?.password_hash ?? (await decoyHash()), password);
  if (!account || !ok) return null;
  return { id: account.id, email: account.email, name: account.name };
}

export const authOptions: NextAuthOptions = {
  // Stateless sessions: the token carries only the account id; roles are re-read on every request.
  session: { strategy: "jwt", maxAge: 7 * 24 * 60 * 60 },
  secret: process.env.NEXTAUTH_SECRET,
  pages: { signIn: "/login", error: "/login" },
  providers: [
    CredentialsProvider({
      name: "Email and password",
      credentials: {
        email: { label: "Email", type: "email" },
        password: { label: "Password", type: "password" },
      },
      async authorize(credentials, req) {
        // Throttled per account and per IP, audited, accepts pending invitations (lib/accounts).
        const account = await signInWithPassword(credentials, clientIpFromHeaders(new Headers(req.headers ?? {})));
        return account ? { id: account.id, email: account.email, name: account.name } : null;
      },
    }),
    ...oauthProvidersFromEnv(),
  ],
  callbacks: {
    // OAuth: only a provider-verified e-mail that has an account or an open invitation gets in.
    async signIn({ account, profile, user }) {
      if (!account || account.type !== "oauth") return true;
      const email = await verifiedProviderEmail(account, profile);
      const resolved = email ? await resolveOAuthAccount(email, user.name ?? null) : null;
      if (!resolved) return false;
      await completeSignIn(ownerPrisma(), resolved, null, account.provider);
      user.id = resolved.id; // the same object reaches the jwt callback: the token carries our id
      return true;
    },
    async jwt({ token, user }) {
      if (user) token.sub = user.id;
      return token;
    },
    async session({ session, token }) {
      if (session.user && token.sub) session.user.id = token.sub;
      return session;
    },
  },
};

declare module "next-auth" {
  interface Session {
    user?: { id?: string; name?: string | null; email?: string | null; image?: string | null };
  }
}
