import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { enabledOAuthProviders } from "@/lib/accounts/oauth";
import { getSessionAccount } from "@/lib/auth/session";
import { LoginForm } from "./login-form";
import { OAuthButtons } from "./oauth-buttons";
import { signInErrorMessage } from "./error-message";
import { safeCallbackUrl } from "./callback-url";

export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<{ callbackUrl?: string | string[]; error?: string | string[] }>;
}) {
  const params = await searchParams;
  const callbackUrl = safeCallbackUrl(params.callbackUrl);
  if (await getSessionAccount()) redirect(callbackUrl);
  // next-auth sends failed sign-ins back here (it is also its error page) with ?error=<code>.
  const error = signInErrorMessage(params.error);
  return (
    <main className="center-page">
      <div className="card auth-card">
        <div>
          <h1 className="brand">
            {/* eslint-disable-next-line @next/next/no-img-element -- a static 22 px SVG needs no optimisation */}
            <img src="/logo.svg" alt="" className="brand-mark" />
            Pulseboard
          </h1>
          <p className="page-subtitle">Sign in to your analytics dashboard.</p>
        </div>
        <LoginForm callbackUrl={callbackUrl} initialError={error} />
        <OAuthButtons providers={enabledOAuthProviders()} callbackUrl={callbackUrl} />
      </div>
    </main>
  );
}
