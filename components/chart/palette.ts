/**
 * The Okabe–Ito palette: eight colours that stay distinguishable for the common forms of colour
 * blindness. Pick series colours from here (black is left out: invisible on the dark theme).
 */
export const OKABE_ITO = {
  orange: "#E69F00",
  skyBlue: "#56B4E9",
  bluishGreen: "#009E73",
  yellow: "#F0E442",
  blue: "#0072B2",
  vermillion: "#D55E00",
  reddishPurple: "#CC79A7",
  grey: "#999999",
} as const;

/** Default order for series without a meaningful colour of their own. */
export const SERIES_COLORS = [
  OKABE_ITO.blue,
  OKABE_ITO.orange,
  OKABE_ITO.bluishGreen,
  OKABE_ITO.vermillion,
  OKABE_ITO.skyBlue,
  OKABE_ITO.reddishPurple,
  OKABE_ITO.yellow,
  OKABE_ITO.grey,
] as const;

/** Run outcomes keep the same colours on every page. */
export const RUN_STATUS_COLORS = {
  completed: OKABE_ITO.bluishGreen,
  failed: OKABE_ITO.vermillion,
  cancelled: OKABE_ITO.orange,
  running: OKABE_ITO.skyBlue,
} as const;
