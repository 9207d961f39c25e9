import { NextResponse } from "next/server";
import { appPrisma } from "@/lib/db/prisma";

export const dynamic = "force-dynamic";

/** Liveness plus a database round trip as the app role: 200 when serving works, 503 when not. */
export async function GET() {
  try {
    await appPrisma().$queryRaw`SELECT 1`;
    return NextResponse.json({ status: "ok", database: "up" });
  } catch {
    return NextResponse.json({ status: "degraded", database: "down" }, { status: 503 });
  }
}
