/** A tiny inline SVG trend line (no axes); values may be null (gaps). Server-renderable. */
export function Sparkline({
  values,
  label,
  width = 96,
  height = 24,
  color = "currentColor",
}: {
  values: (number | null)[];
  label: string;
  width?: number;
  height?: number;
  color?: string;
}) {
  const numbers = values.filter((v): v is number => v !== null);
  if (numbers.length === 0) return <span aria-label={`${label}: no data`}>—</span>;
  const max = Math.max(...numbers);
  const min = Math.min(0, ...numbers);
  const span = max - min || 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = values
    .map((v, i) =>
      v === null ? null : `${(i * step).toFixed(1)},${(height - 2 - ((v - min) / span) * (height - 4)).toFixed(1)}`,
    )
    .filter((p): p is string => p !== null)
    .join(" ");
  return (
    <svg
      width={width}
      height={height}
      role="img"
      aria-label={`${label}: trend, last value ${numbers[numbers.length - 1]}`}
    >
      <polyline fill="none" stroke={color} strokeWidth={1.5} points={points} />
    </svg>
  );
}
