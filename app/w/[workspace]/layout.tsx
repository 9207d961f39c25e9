import type { ReactNode } from "react";
import { AppHeader } from "@/components/app-header";
import { WorkspaceNav } from "@/components/nav/workspace-nav";
import { authorizePage, listReadableWorkspaces } from "@/lib/access/authorize";

/**
 * The shell of every workspace page. It checks read access itself, but pages must still call
 * authorizePage with their own permission: layouts and pages render in parallel, and a layout
 * is not re-run on client navigation between its pages.
 */
export default async function WorkspaceLayout({
  children,
  params,
}: {
  children: ReactNode;
  params: Promise<{ workspace: string }>;
}) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "workspace.read");
  const workspaces = await listReadableWorkspaces(access.account.id);
  return (
    <>
      <header className="app-header">
        <AppHeader
          account={access.account}
          current={access.workspace}
          workspaces={workspaces}
          isPlatformAdmin={access.isPlatformAdmin}
        />
        <WorkspaceNav slug={access.workspace.slug} />
      </header>
      {children}
    </>
  );
}
