export const TEMPLATE_DATABASE = "pulseboard_template";
