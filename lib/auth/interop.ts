/**
 * A CommonJS module's default export, however it was imported. next-auth v4's providers are
 * CommonJS (`exports.default = Credentials`): Next's bundler and vitest unwrap that for a default
 * import, but Node's own ESM loader (tsx scripts, `node --import`) hands over `module.exports`
 * itself, so `CredentialsProvider(...)` fails with "CredentialsProvider is not a function".
 */
export function cjsDefault<T>(imported: T | { default: T }): T {
  return isWrapped(imported) ? imported.default : imported;
}

function isWrapped<T>(value: T | { default: T }): value is { default: T } {
  // A provider factory is a function; only the unwrapped-by-nobody module object is a plain object.
  return typeof value === "object" && value !== null && "default" in value;
}
