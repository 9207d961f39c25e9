"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { WORKSPACE_NAV } from "./nav-config";

export function WorkspaceNav({ slug }: { slug: string }) {
  const pathname = usePathname();
  const base = `/w/${slug}`;
  return (
    <nav className="workspace-nav" aria-label="Workspace">
      {WORKSPACE_NAV.map((item) => {
        const href = `${base}${item.path}`;
        const active =
          item.match === "exact" ? pathname === href : pathname === href || pathname.startsWith(`${href}/`);
        return (
          <Link key={item.label} href={href} aria-current={active ? "page" : undefined}>
            {item.label}
          </Link>
        );
      })}
    </nav>
  );
}
