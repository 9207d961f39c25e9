/**
 * Where to go after signing in: only same-origin paths, so the login page cannot be used as an
 * open redirect ("//evil.example", "https://evil.example" and backslash tricks all become "/").
 */
export function safeCallbackUrl(value: string | string[] | undefined): string {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.includes("\\")) return "/";
  return raw;
}
