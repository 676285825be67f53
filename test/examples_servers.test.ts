// The example servers are what users copy: each must keep serving, and log no unhandled exception, when clients
// reset their connection at any byte of a request or of the answer. Each example runs in a child process, as a user
// runs it; the clients are raw node:net sockets that end with a TCP reset (RST), not a clean close.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as net from "node:net";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** A running example server: its port and everything it printed so far. */
interface Running {
  child: ChildProcessWithoutNullStreams;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `examples/<name>` on port 0 and resolves once it printed the address it listens on. */
function startExample(name: string, addressLine: RegExp): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", `examples/${name}`, "0"], { cwd: repoRoot, stdio: "pipe" });
    child.stdin.end();
    let output = "";
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.on("close", (code, signal) => {
        clearTimeout(guard);
        done({ code, signal });
      }),
    );
    let started = false;
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = addressLine.exec(output);
      if (!started && match !== null) {
        started = true;
        resolve({ child, port: Number(match[1]), output: () => output, exited });
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    void exited.then(() => {
      if (!started) reject(new Error(`examples/${name} exited before listening:\n${output}`));
    });
  });
}

/**
 * A client that sends the first `send` bytes of `payload`, then reads until it has `read` bytes of the answer (or
 * the server closed), then resets the connection. Resolves once its socket is closed.
 */
function resetClient(port: number, payload: Buffer, send: number, read = 0): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let received = 0;
    let reset = false;
    const resetNow = (): void => {
      if (reset) return;
      reset = true;
      sock.resetAndDestroy();
    };
    sock.on("error", () => {});
    sock.on("close", () => resolve());
    sock.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received >= read) resetNow();
    });
    sock.on("end", resetNow);
    sock.on("connect", () => {
      const afterWrite = (): void => {
        if (read === 0) resetNow();
      };
      if (send === 0) afterWrite();
      else sock.write(payload.subarray(0, send), afterWrite);
    });
  });
}

/**
 * A client that sends all of `payload` and closes its socket without reading: the answer then meets a closed socket,
 * whose system resets the connection (the server sees EPIPE), as when a user aborts an upload.
 */
function closeWithoutReading(port: number, payload: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.on("error", () => {});
    sock.on("close", () => resolve());
    sock.on("connect", () => sock.end(payload, () => sock.destroy()));
  });
}

/** Sends `request` on a fresh connection, half-closes, and resolves with the whole answer. */
function exchange(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    sock.on("data", (chunk: Buffer) => chunks.push(chunk));
    sock.on("error", reject);
    sock.on("end", () => {
      sock.end();
      resolve(Buffer.concat(chunks).toString());
    });
    sock.on("connect", () => sock.end(request));
  });
}

/** Runs the clients `count` at a time. */
async function inBatches(jobs: (() => Promise<void>)[], count = 16): Promise<void> {
  for (let i = 0; i < jobs.length; i += count) await Promise.all(jobs.slice(i, i + count).map((job) => job()));
}

/** Whether the output shows an error that escaped a handler. */
function assertNoUnhandled(output: string): void {
  assert.doesNotMatch(output, /Unhandled exception|unhandled|TypeError|is not iterable|Uncaught/, output);
}

/** Every prefix length of `payload` (0 to all of it), or, for a long payload, a spread of them with both ends. */
function cutPoints(length: number, most = 64): number[] {
  if (length + 1 <= most) return Array.from({ length: length + 1 }, (_, i) => i);
  const points = new Set([0, 1, 2, length - 2, length - 1, length]);
  for (let i = 0; points.size < most; i++) points.add(Math.floor(((i * 7919) % most) * (length / most)));
  return [...points].sort((a, b) => a - b);
}

describe("examples/echo_server.ts", () => {
  let server: Running;
  before(async () => {
    server = await startExample("echo_server.ts", /serving on 127\.0\.0\.1:(\d+)/);
  });
  after(async () => {
    server.child.kill("SIGINT");
    const { code } = await server.exited;
    assert.equal(code, 0, server.output());
    assert.match(server.output(), /stopped/);
    assertNoUnhandled(server.output());
  });

  test("a client that resets right after connecting is served no worse than others", async () => {
    await inBatches(Array.from({ length: 40 }, () => () => resetClient(server.port, Buffer.alloc(0), 0)));
    assert.equal(await exchange(server.port, "still there\n"), "still there\n");
    assertNoUnhandled(server.output());
  });

  test("clients that reset at every byte of their lines, or while the echo comes back, leave the server serving", async () => {
    const lines = Buffer.from("hello\nworld, a longer line\n");
    const jobs = cutPoints(lines.length).map((cut) => () => resetClient(server.port, lines, cut));
    for (const read of [1, 6, lines.length - 1]) jobs.push(() => resetClient(server.port, lines, lines.length, read));
    const big = Buffer.alloc(1024 * 1024, "x\n");
    for (const read of [0, 1, 64 * 1024]) jobs.push(() => resetClient(server.port, big, big.length, read));
    for (let i = 0; i < 4; i++) jobs.push(() => closeWithoutReading(server.port, big));
    await inBatches(jobs);
    assert.equal(await exchange(server.port, "one\ntwo\n"), "one\ntwo\n");
    assertNoUnhandled(server.output());
  });
});

describe("examples/http_server.ts", () => {
  let server: Running;
  before(async () => {
    server = await startExample("http_server.ts", /listening on http:\/\/127\.0\.0\.1:(\d+)\//);
  });
  after(async () => {
    server.child.kill("SIGINT");
    const { code } = await server.exited;
    assert.equal(code, 0, server.output());
    assert.match(server.output(), /served \d+ requests/);
    assertNoUnhandled(server.output());
  });

  const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;

  test("a malformed percent-encoding in the path is answered with 400", async () => {
    const answer = await exchange(server.port, get("/hello/%E0%A4%A"));
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(await exchange(server.port, get("/hello/w%C3%B6rld")), /Hello, wörld!/);
    assertNoUnhandled(server.output());
  });

  test("clients that reset at every byte of a request leave the server serving", async () => {
    const request = Buffer.from("GET /hello/world HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await inBatches(cutPoints(request.length).map((cut) => () => resetClient(server.port, request, cut)));
    assert.match(await exchange(server.port, get("/hello/again")), /Hello, again!/);
    assertNoUnhandled(server.output());
  });

  test("clients that reset during a 1 MiB POST, or while its echo comes back, are not logged as unhandled", async () => {
    const body = Buffer.alloc(1024 * 1024, "a");
    const head = Buffer.from(`POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n`);
    const request = Buffer.concat([head, body]);
    const jobs = cutPoints(request.length, 24).map((cut) => () => resetClient(server.port, request, cut));
    for (const read of [1, 1000, 256 * 1024]) jobs.push(() => resetClient(server.port, request, request.length, read));
    for (let i = 0; i < 8; i++) jobs.push(() => closeWithoutReading(server.port, request));
    await inBatches(jobs, 8);
    const answer = await exchange(server.port, `POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\npong`);
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\npong$/);
    assertNoUnhandled(server.output());
  });
});
