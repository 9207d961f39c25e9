import Link from "next/link";
import type { ReadableWorkspace } from "@/lib/access/authorize";
import { SignOutButton } from "./sign-out-button";

type HeaderProps = {
  account: { email: string; name: string | null };
  /** The workspace being viewed; null on pages outside a workspace (/platform, /me, /account). */
  current: { slug: string; name: string } | null;
  workspaces: ReadableWorkspace[];
  /** Shows the "Platform" link in the account menu. */
  isPlatformAdmin?: boolean;
};

/**
 * Product name, workspace switcher and account menu. Menus are <details> elements: they open
 * with the keyboard and without JavaScript, and the switcher is plain links. Outside a workspace
 * the switcher reads "Workspaces" and is the way back into one.
 */
export function AppHeader({ account, current, workspaces, isPlatformAdmin = false }: HeaderProps) {
  return (
    <div className="app-header-inner">
      <Link href="/" className="brand">
        {/* eslint-disable-next-line @next/next/no-img-element -- a static 22 px SVG needs no optimisation */}
        <img src="/logo.svg" alt="" className="brand-mark" />
        <span className="brand-name">Pulseboard</span>
      </Link>
      <details className="menu">
        <summary className="button button-small">
          {current ? (
            <>
              <span className="visually-hidden">Workspace: </span>
              <span className="menu-label">{current.name}</span>
            </>
          ) : (
            "Workspaces"
          )}{" "}
          <span aria-hidden="true">▾</span>
        </summary>
        <div className="menu-panel menu-panel-left">
          <p className="menu-heading">Workspaces</p>
          {workspaces.length === 0 ? (
            <p className="menu-item">You are not a member of any workspace yet.</p>
          ) : (
            <ul className="menu-list">
              {workspaces.map((workspace) => (
                <li key={workspace.id}>
                  <Link
                    className="menu-item"
                    href={`/w/${workspace.slug}`}
                    aria-current={workspace.slug === current?.slug ? "page" : undefined}
                  >
                    <span>{workspace.name}</span>
                    <span className="menu-meta">{workspace.role ?? "platform admin"}</span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </div>
      </details>
      <span className="header-spacer" />
      <details className="menu">
        <summary className="button button-small">
          <span className="visually-hidden">Account: </span>
          <span className="menu-label">{account.name ?? account.email}</span> <span aria-hidden="true">▾</span>
        </summary>
        <div className="menu-panel">
          <p className="menu-heading">Signed in as</p>
          <p className="menu-item">{account.email}</p>
          <ul className="menu-list" aria-label="Account">
            <li>
              <Link className="menu-item" href="/me">
                My usage
              </Link>
            </li>
            <li>
              <Link className="menu-item" href="/account">
                Your account
              </Link>
            </li>
            {isPlatformAdmin ? (
              <li>
                <Link className="menu-item" href="/platform">
                  Platform
                </Link>
              </li>
            ) : null}
          </ul>
          <div className="menu-item">
            <SignOutButton className="button button-small" />
          </div>
        </div>
      </details>
    </div>
  );
}
