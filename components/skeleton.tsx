import type { CSSProperties } from "react";

/** A pulsing placeholder block of the given size (respects prefers-reduced-motion). */
export function Skeleton({
  width = "100%",
  height = 16,
  style,
}: {
  width?: CSSProperties["width"];
  height?: CSSProperties["height"];
  style?: CSSProperties;
}) {
  return <span className="skeleton" aria-hidden="true" style={{ display: "block", width, height, ...style }} />;
}
