import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getSessionAccount } from "@/lib/auth/session";
import { ChangePasswordForm } from "./change-password-form";
import { AccountHeader } from "@/components/account-header";

export const metadata: Metadata = { title: "Your account" };

export default async function AccountPage() {
  const account = await getSessionAccount();
  if (!account) redirect("/login?callbackUrl=%2Faccount");
  return (
    <>
      <AccountHeader account={account} />
      <main className="page">
        <div className="page-header">
          <div>
            <h1 className="page-title">Your account</h1>
            <p className="page-subtitle">
              Signed in as {account.name ?? account.email} ({account.email}).
            </p>
          </div>
        </div>
        <ChangePasswordForm />
      </main>
    </>
  );
}
