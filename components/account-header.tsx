import { listReadableWorkspaces } from "@/lib/access/authorize";
import { isPlatformAdmin } from "@/lib/dashboards/platform";
import { AppHeader } from "./app-header";

/**
 * The app header of pages outside a workspace (/platform, /me, /account): no current workspace,
 * the switcher lists every workspace the account may read, so there is always a way back.
 */
export async function AccountHeader({ account }: { account: { id: string; email: string; name: string | null } }) {
  const [workspaces, admin] = await Promise.all([listReadableWorkspaces(account.id), isPlatformAdmin(account.id)]);
  return (
    <header className="app-header">
      <AppHeader account={account} current={null} workspaces={workspaces} isPlatformAdmin={admin} />
    </header>
  );
}
