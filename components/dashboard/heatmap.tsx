import styles from "./dashboard.module.css";

export type HeatmapRow = {
  key: string;
  label: string;
  size: number;
  cells: { value: number | null; display: string; intensity: number | null; incomplete: boolean }[];
};

/**
 * A rows × columns grid coloured by intensity (0..1) in one hue (blue, colour-blind safe), with the
 * number printed in every cell so colour is never the only carrier. Incomplete cells are dashed.
 */
export function Heatmap({
  caption,
  columns,
  rows,
  footer,
}: {
  caption: string;
  columns: string[];
  rows: HeatmapRow[];
  footer?: HeatmapRow;
}) {
  const cell = (c: HeatmapRow["cells"][number], i: number) => (
    <td
      key={i}
      data-value={c.value ?? ""}
      className={c.incomplete ? styles.incomplete : undefined}
      title={c.incomplete ? "Period not complete yet" : undefined}
      style={
        c.intensity === null
          ? undefined
          : {
              background: `rgba(0, 114, 178, ${(0.08 + 0.8 * c.intensity).toFixed(2)})`,
              color: c.intensity > 0.55 ? "#fff" : undefined,
            }
      }
    >
      {c.incomplete ? "…" : c.display}
    </td>
  );
  return (
    <div className="table-wrap">
      <table className={`data-table ${styles.heatmap}`} data-testid="cohort-grid">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Cohort</th>
            <th scope="col" className="num">
              Users
            </th>
            {columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key} data-cohort={row.key}>
              <th scope="row">{row.label}</th>
              <td className="num">{row.size}</td>
              {row.cells.map(cell)}
            </tr>
          ))}
        </tbody>
        {footer ? (
          <tfoot>
            <tr data-cohort="average">
              <th scope="row">{footer.label}</th>
              <td className="num">{footer.size}</td>
              {footer.cells.map(cell)}
            </tr>
          </tfoot>
        ) : null}
      </table>
    </div>
  );
}
