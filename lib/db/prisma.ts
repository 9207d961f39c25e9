import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "@/lib/generated/prisma/client";

export type Db = PrismaClient;
/** The client handed to code running inside a transaction (RLS context set). */
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

const clients = new Map<string, PrismaClient>();

export function prismaFor(connectionString: string, options: { max?: number } = {}): PrismaClient {
  const key = `${connectionString}#${options.max ?? ""}`;
  let client = clients.get(key);
  if (!client) {
    const adapter = new PrismaPg({ connectionString, max: options.max ?? 10 });
    client = new PrismaClient({ adapter });
    clients.set(key, client);
  }
  return client;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set. Start Pulseboard through "npm start" / "npm run dev", which set it.`);
  }
  return value;
}

/** App-role client (row-level security applies). Use through `withUserContext`. */
export function appPrisma(): PrismaClient {
  return prismaFor(required("DATABASE_APP_URL"));
}

/** Owner client: for the worker, seeding and the admin CLI only, never for serving a request. */
export function ownerPrisma(): PrismaClient {
  return prismaFor(required("DATABASE_URL"));
}
