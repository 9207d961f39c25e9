import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getSessionAccount } from "@/lib/auth/session";
import { LoginForm } from "./login-form";
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
  // next-auth sends failed non-JS sign-ins back here with ?error=CredentialsSignin.
  const failed = params.error !== undefined;
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
        <LoginForm callbackUrl={callbackUrl} initialError={failed} />
      </div>
    </main>
  );
}
