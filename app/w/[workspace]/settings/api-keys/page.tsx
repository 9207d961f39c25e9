import type { Metadata } from "next";
import { authorizePage } from "@/lib/access/authorize";
import { listKeysFor } from "@/lib/api-keys/manage";
import { revokeKeyAction } from "./actions";
import { CreateKeyForm } from "./create-key-form";

export const metadata: Metadata = { title: "API keys" };

export default async function ApiKeysPage({ params }: { params: Promise<{ workspace: string }> }) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "api_keys.manage", `/w/${slug}/settings/api-keys`);
  const keys = await listKeysFor(access);
  const revoke = revokeKeyAction.bind(null, slug);
  return (
    <main className="page">
      <div className="page-header">
        <h1 className="page-title">API keys</h1>
        <p className="page-subtitle">
          Keys send events to POST /api/v1/ingest and the OTLP endpoint. A key is shown once; only its hash is kept.
        </p>
      </div>
      <CreateKeyForm slug={slug} />
      <table className="data-table" aria-label="API keys">
        <thead>
          <tr>
            <th>Prefix</th>
            <th>Name</th>
            <th>Scopes</th>
            <th>Created</th>
            <th>Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.length === 0 ? (
            <tr>
              <td colSpan={6}>No API keys yet — create one above to send events.</td>
            </tr>
          ) : null}
          {keys.map((key) => (
            <tr key={key.id}>
              <td>
                <code>{key.prefix}…</code>
              </td>
              <td>{key.name}</td>
              <td>{key.scopes.join(", ")}</td>
              <td>{key.createdAt.toISOString().slice(0, 16).replace("T", " ")} UTC</td>
              <td>{key.lastUsedAt ? `${key.lastUsedAt.toISOString().slice(0, 16).replace("T", " ")} UTC` : "never"}</td>
              <td>
                {key.revokedAt ? (
                  "revoked"
                ) : (
                  <form action={revoke}>
                    <input type="hidden" name="keyId" value={key.id} />
                    <button type="submit">Revoke</button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
