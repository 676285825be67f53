/**
 * A small HTTP/1.1 server on streams, with keep-alive: enough for `curl` and for load generators.
 *
 *   npm run example examples/http_server.ts [port]       (default 8080; Ctrl-C stops it)
 *   curl -v http://127.0.0.1:8080/                         a greeting
 *   curl -v http://127.0.0.1:8080/hello/world               the path, back
 *   curl -v --data 'some body' http://127.0.0.1:8080/echo   the request body, back
 *   curl -v http://127.0.0.1:8080/ http://127.0.0.1:8080/   two requests on one connection (keep-alive)
 *
 * What it shows: `readuntil` with a multi-byte separator and a limit (an oversized header is answered with 431),
 * `readexactly` for a body with Content-Length, `IncompleteReadError` when the client hangs up mid-request,
 * `timeout()` for idle keep-alive connections, one task per connection, `write` + `drain` for backpressure,
 * `ConnectionError` for clients that reset or go away mid-request (not worth a stack trace), and a shutdown that
 * closes idle connections (`closeClients`) and waits for every handler (`waitClosed`).
 */
import * as asyncio from "asyncio-ts";

const HEADER_LIMIT = 16 * 1024;
const BODY_LIMIT = 1024 * 1024;
const KEEP_ALIVE_SECONDS = 5;

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
};

interface Request {
  method: string;
  target: string;
  version: string;
  headers: Map<string, string>;
  body: Buffer;
}

/** Thrown to answer with an error status and close the connection. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message = REASONS[status] ?? "Error",
  ) {
    super(message);
  }
}

/** Reads one request; null when the client closed the connection cleanly between requests. */
async function readRequest(reader: asyncio.StreamReader): Promise<Request | null> {
  let head: Buffer;
  try {
    head = await reader.readuntil("\r\n\r\n");
  } catch (error) {
    if (error instanceof asyncio.IncompleteReadError) {
      if (error.partial.length === 0) return null;
      throw new HttpError(400, "incomplete request head");
    }
    if (error instanceof asyncio.LimitOverrunError) throw new HttpError(431);
    throw error;
  }
  const [requestLine = "", ...fieldLines] = head.subarray(0, head.length - 4).toString("latin1").split("\r\n");
  const parts = requestLine.split(" ");
  if (parts.length !== 3 || !/^HTTP\/1\.[01]$/.test(parts[2]!)) throw new HttpError(400, "malformed request line");
  const [method, target, version] = parts as [string, string, string];
  const headers = new Map<string, string>();
  for (const line of fieldLines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpError(400, "malformed header field");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  if (headers.has("transfer-encoding")) throw new HttpError(501, "chunked request bodies are not supported");
  let body: Buffer = Buffer.alloc(0);
  const length = headers.get("content-length");
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) throw new HttpError(400, "bad Content-Length");
    const n = Number(length);
    if (n > BODY_LIMIT) throw new HttpError(413);
    try {
      body = await reader.readexactly(n);
    } catch (error) {
      if (error instanceof asyncio.IncompleteReadError) throw new HttpError(400, "body cut short");
      throw error;
    }
  } else if (method === "POST" || method === "PUT") {
    throw new HttpError(411);
  }
  return { method, target, version, headers, body };
}

/** Whether the connection stays open after this request (HTTP/1.1 default yes, HTTP/1.0 default no). */
function keepAlive(request: Request): boolean {
  const connection = (request.headers.get("connection") ?? "").toLowerCase();
  if (request.version === "HTTP/1.0") return connection.includes("keep-alive");
  return !connection.includes("close");
}

function respond(writer: asyncio.StreamWriter, status: number, body: string | Buffer, options: { close: boolean; head?: boolean }): void {
  const payload = typeof body === "string" ? Buffer.from(body) : body;
  const lines = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}`,
    `Date: ${new Date().toUTCString()}`,
    "Server: asyncio-ts",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${payload.length}`,
    `Connection: ${options.close ? "close" : "keep-alive"}`,
  ];
  if (!options.close) lines.push(`Keep-Alive: timeout=${KEEP_ALIVE_SECONDS}`);
  writer.write(lines.join("\r\n") + "\r\n\r\n");
  if (!options.head) writer.write(payload);
}

/** Decodes `%XX` escapes; a malformed one (`%E0%A4%A`) is the client's error: 400. */
function decodePath(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    if (error instanceof URIError) throw new HttpError(400, "malformed percent-encoding in the path");
    throw error;
  }
}

/** The application: a few routes. */
function route(request: Request): [number, string | Buffer] {
  const path = request.target.split("?")[0]!;
  if (request.method !== "GET" && request.method !== "HEAD" && request.method !== "POST") return [405, "Method Not Allowed\n"];
  if (path === "/") return [200, "Hello from asyncio-ts\n"];
  if (path === "/echo") return [200, request.body];
  if (path.startsWith("/hello/")) return [200, `Hello, ${decodePath(path.slice(7))}!\n`];
  return [404, `Not Found: ${path}\n`];
}

let served = 0;

/** One connection: requests one after the other until the client or a rule closes it. */
async function handleConnection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> {
  try {
    for (;;) {
      let request: Request | null;
      try {
        // An idle keep-alive connection is closed after a while, as servers do.
        request = await asyncio.timeout(KEEP_ALIVE_SECONDS).with(() => readRequest(reader));
      } catch (error) {
        if (error instanceof asyncio.TimeoutError) break;
        throw error;
      }
      if (request === null) break;
      const close = !keepAlive(request);
      const [status, body] = route(request);
      respond(writer, status, body, { close, head: request.method === "HEAD" });
      await writer.drain();
      served++;
      if (close) break;
    }
  } catch (error) {
    if (error instanceof HttpError) {
      respond(writer, error.status, `${error.message}\n`, { close: true });
    } else if (!(error instanceof asyncio.ConnectionError)) {
      // A client that resets or goes away (ECONNRESET, EPIPE, ...) is part of a server's day; anything else is a bug.
      throw error;
    }
  } finally {
    writer.close();
  }
}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 8080);
  const server = await asyncio.startServer(handleConnection, "127.0.0.1", port, { limit: HEADER_LIMIT, backlog: 1024 });
  const [host, bound] = server.sockets[0]!.getsockname();
  console.log(`listening on http://${host}:${bound}/ ; Ctrl-C to stop`);
  try {
    // Serve until Ctrl-C cancels this task (a Future nobody resolves waits forever).
    await asyncio.getRunningLoop().createFuture<never>();
  } finally {
    // Stop listening, close the idle keep-alive connections too, and wait for every handler to finish.
    server.close();
    server.closeClients();
    await server.waitClosed();
    console.log(`served ${served} requests`);
  }
}

try {
  await asyncio.run(main);
} catch (error) {
  if (!(error instanceof asyncio.KeyboardInterrupt)) throw error;
}
