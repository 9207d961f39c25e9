import type { Metadata } from "next";
import Link from "next/link";
import { findOpenInvitation } from "@/lib/accounts/invitation-signup";
import { InvitationSignupForm } from "./signup-form";

export const metadata: Metadata = { title: "Invitation" };

/** Public: the token is the credential. A person who already has an account just signs in. */
export default async function InvitationPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const invitation = await findOpenInvitation(token);
  return (
    <main className="center-page">
      <div className="card auth-card">
        {!invitation ? (
          <p role="alert">This invitation link is not valid any more. Ask a workspace admin for a new one.</p>
        ) : (
          <>
            <h1 className="page-title">Join {invitation.workspace_name}</h1>
            <p>
              You were invited as <strong>{invitation.role}</strong> with the e-mail {invitation.email}.
            </p>
            {invitation.has_account ? (
              <p>
                <Link href={`/login?callbackUrl=${encodeURIComponent(`/w/${invitation.workspace_slug}`)}`}>
                  Sign in as {invitation.email}
                </Link>{" "}
                to accept the invitation.
              </p>
            ) : (
              <InvitationSignupForm token={token} />
            )}
          </>
        )}
      </div>
    </main>
  );
}
