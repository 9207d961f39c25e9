"use client";

import { signIn } from "next-auth/react";
import { useState } from "react";
import type { OAuthProviderButton } from "@/lib/accounts/oauth";

/** One button per OAuth provider switched on by the environment; renders nothing when none is. */
export function OAuthButtons({ providers, callbackUrl }: { providers: OAuthProviderButton[]; callbackUrl: string }) {
  const [pending, setPending] = useState<string | null>(null);
  if (providers.length === 0) return null;
  return (
    <div className="oauth-buttons" aria-label="Sign in with a provider" role="group">
      <p className="page-subtitle">or</p>
      {providers.map((provider) => (
        <button
          key={provider.id}
          type="button"
          className="button"
          disabled={pending !== null}
          onClick={() => {
            setPending(provider.id);
            // Leaves the page for the provider; the callback comes back to callbackUrl.
            void signIn(provider.id, { callbackUrl });
          }}
        >
          {pending === provider.id ? "Redirecting…" : `Continue with ${provider.name}`}
        </button>
      ))}
    </div>
  );
}
