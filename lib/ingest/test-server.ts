import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

/**
 * Serves a fetch-style route handler (what a Next.js route file exports) from a real node:http
 * server on loopback, so tests and the benchmark go through real HTTP and real streaming bodies.
 */
export type FetchHandler = (request: Request) => Promise<Response>;

export async function serveFetchHandler(handler: FetchHandler): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const url = `http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`;
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) {
          if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
          else if (value !== undefined) headers.set(name, value);
        }
        const hasBody = req.method !== "GET" && req.method !== "HEAD";
        // Read the whole request before answering: a handler that refuses early (401, 413, 429)
        // leaves unread bytes, and closing a socket with unread bytes makes the kernel send a TCP
        // reset that can beat the response to the client (a flaky ECONNRESET). The handler still
        // reads a stream, chunk by chunk, as it would from Next.js.
        const chunks: Buffer[] = [];
        if (hasBody) for await (const chunk of req) chunks.push(chunk as Buffer);
        const request = new Request(url, {
          method: req.method,
          headers,
          body: hasBody ? (Readable.toWeb(Readable.from(chunks)) as ReadableStream<Uint8Array>) : undefined,
          duplex: "half",
        } as RequestInit);
        const response = await handler(request);
        res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
        res.end(Buffer.from(await response.arrayBuffer()));
      } catch (error) {
        // What Next.js would do with a thrown handler: a bare 500 (tests assert this never happens).
        console.error(error);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }
    })();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
