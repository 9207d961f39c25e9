/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the receiver verifies
 * `webhook-signature` = "v1," + base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)), with the
 * secret being the base64 after "whsec_". The id stays the same across retries (receivers dedupe
 * on it); the timestamp is the attempt's, so replay windows work.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const SECRET_PREFIX = "whsec_";

export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64");
}

function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error("A webhook signing secret starts with whsec_");
  return Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
}

export function sign(secret: string, messageId: string, timestampSeconds: number, body: string): string {
  const digest = createHmac("sha256", secretKey(secret))
    .update(`${messageId}.${timestampSeconds}.${body}`)
    .digest("base64");
  return `v1,${digest}`;
}

export function webhookHeaders(secret: string, messageId: string, body: string, now: Date = new Date()) {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": sign(secret, messageId, timestamp, body),
  };
}

/**
 * What a receiver does; used by tests and documented for integrators. Accepts any of the
 * space-separated signatures (secret rotation) and a timestamp within `toleranceSeconds`.
 */
export function verify(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  now: Date = new Date(),
  toleranceSeconds = 300,
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(now.getTime() / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, headers.id, timestamp, body).slice(3), "base64");
  return headers.signature.split(" ").some((candidate) => {
    const [version, value] = candidate.split(",");
    if (version !== "v1" || !value) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
