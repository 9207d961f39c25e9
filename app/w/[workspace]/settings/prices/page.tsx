import type { Metadata } from "next";
import { authorizePage } from "@/lib/access/authorize";
import { listPricesFor } from "@/lib/prices/manage";
import { deletePriceAction } from "./actions";
import { AddPriceForm, RepriceForm } from "./price-forms";

export const metadata: Metadata = { title: "Model prices" };

export default async function PricesPage({ params }: { params: Promise<{ workspace: string }> }) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "prices.manage", `/w/${slug}/settings/prices`);
  const prices = await listPricesFor(access);
  const remove = deletePriceAction.bind(null, slug);
  return (
    <main className="page">
      <div className="page-header">
        <h1 className="page-title">Model prices</h1>
        <p className="page-subtitle">
          USD per 1M tokens. Calls without a reported cost are priced by the version in force at their time; a model
          with no price is shown as unpriced, never $0.
        </p>
      </div>
      <AddPriceForm slug={slug} />
      <RepriceForm slug={slug} />
      <table className="data-table" aria-label="Model prices">
        <thead>
          <tr>
            <th>Provider</th>
            <th>Model</th>
            <th className="num">Input</th>
            <th className="num">Output</th>
            <th>Effective from</th>
            <th>Source</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {prices.map((price) => (
            <tr key={`${price.source}-${price.id}`} aria-current={price.in_force ? "true" : undefined}>
              <td>{price.provider}</td>
              <td>{price.model}</td>
              <td className="num">${price.input_usd_per_million}</td>
              <td className="num">${price.output_usd_per_million}</td>
              <td>{price.effective_from.toISOString().slice(0, 10)}</td>
              <td>
                {price.source}
                {price.in_force ? " (in force)" : ""}
              </td>
              <td>
                {price.source === "workspace" ? (
                  <form action={remove}>
                    <input type="hidden" name="priceId" value={price.id} />
                    <button type="submit">Delete</button>
                  </form>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
