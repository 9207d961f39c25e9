import http from "node:http";
import https from "node:https";
import { guardedLookup, parseTargetUrl, UnsafeTargetError } from "./ssrf";

export const DELIVERY_TIMEOUT_MS = 10_000;
// Enough of a receiver's answer to show in the attempt log; the rest is discarded unread.
const MAX_RESPONSE_BYTES = 2_048;

export type HttpOutcome =
  | { kind: "response"; status: number; body: string }
  | { kind: "refused"; error: string }
  | { kind: "network_error"; error: string };

/**
 * POSTs a JSON body with the SSRF guard on the connection itself, a hard 10 s deadline for the
 * whole exchange, and no redirect following (a 3xx is returned as is: a redirect could point
 * anywhere, including inside the network the guard protects).
 */
export function postJson(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<HttpOutcome> {
  let url: URL;
  try {
    url = parseTargetUrl(rawUrl);
  } catch (error) {
    return Promise.resolve({ kind: "refused", error: error instanceof Error ? error.message : String(error) });
  }
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: HttpOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(outcome);
    };
    const request = client.request(
      url,
      {
        method: "POST",
        lookup: guardedLookup,
        headers: {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "Pulseboard-Alerts/1",
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        response.on("end", () =>
          finish({
            kind: "response",
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8").slice(0, MAX_RESPONSE_BYTES),
          }),
        );
        response.on("error", (error) => finish({ kind: "network_error", error: error.message }));
      },
    );
    const deadline = setTimeout(() => {
      request.destroy(new Error(`no response within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    request.on("error", (error) => {
      if (error instanceof UnsafeTargetError) finish({ kind: "refused", error: error.message });
      else finish({ kind: "network_error", error: error.message });
    });
    request.end(body);
  });
}
