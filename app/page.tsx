import { redirect } from "next/navigation";
import { SignOutButton } from "@/components/sign-out-button";
import { listReadableWorkspaces } from "@/lib/access/authorize";
import { getSessionAccount } from "@/lib/auth/session";

export const dynamic = "force-dynamic";

/** `/`: the first workspace the account may read, or sign-in; a note when there is none. */
export default async function HomePage() {
  const account = await getSessionAccount();
  if (!account) redirect("/login");
  const workspaces = await listReadableWorkspaces(account.id);
  if (workspaces.length > 0) redirect(`/w/${workspaces[0].slug}`);
  return (
    <main className="center-page">
      <div className="card message-card">
        <h1 className="page-title">No workspace yet</h1>
        <p className="page-subtitle">
          You are signed in as {account.email}, but you are not a member of any workspace. Ask a workspace owner to
          invite you.
        </p>
        <SignOutButton />
      </div>
    </main>
  );
}
