import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { primaryReadPrisma, prismaFor } from "./prisma";

/**
 * Read replicas: `DATABASE_REPLICA_URLS` is a comma-separated list of app-role URLs of streaming
 * standbys of the primary. Dashboard and metric reads (`withUserReadContext`) go to them round
 * robin; every write keeps going to the primary (`DATABASE_APP_URL`). Unset or empty = no replicas.
 */
const replicaUrlsSchema = z
  .string()
  .transform((value) =>
    value
      .split(",")
      .map((url) => url.trim())
      .filter((url) => url.length > 0),
  )
  .pipe(
    z.array(
      z.url({
        protocol: /^postgres(ql)?$/,
        error: "each DATABASE_REPLICA_URLS entry must be a postgres:// or postgresql:// URL",
      }),
    ),
  );

/** The configured replica URLs, validated (an invalid entry is a configuration error, not a silent skip). */
export function replicaUrls(raw: string | undefined = process.env.DATABASE_REPLICA_URLS): string[] {
  if (raw === undefined) return [];
  const parsed = replicaUrlsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `DATABASE_REPLICA_URLS is invalid: ${parsed.error.issues.map((issue) => issue.message).join("; ")}`,
    );
  }
  return parsed.data;
}

let nextReplica = 0;

/**
 * The next replica's client in round-robin order, or null when none is configured (the caller then
 * reads from the primary). Clients are cached per URL by `prismaFor`, so each replica has one pool.
 */
export function nextReplicaPrisma(raw: string | undefined = process.env.DATABASE_REPLICA_URLS): PrismaClient | null {
  const urls = replicaUrls(raw);
  if (urls.length === 0) return null;
  const url = urls[nextReplica % urls.length];
  nextReplica = (nextReplica + 1) % urls.length;
  return prismaFor(url);
}

/**
 * Where a dashboard or metric read goes: the next replica, else the primary's read pool (a
 * bulkhead apart from the write pool; see primaryReadPrisma).
 */
export function dashboardReadPrisma(): PrismaClient {
  return nextReplicaPrisma() ?? primaryReadPrisma();
}
