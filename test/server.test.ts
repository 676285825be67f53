// Server as asyncio 3.13: serving, closing, waiting for clients, serveForever, with(), handler tasks, and the
// server under load (concurrent connections, backpressure, descriptor leaks); after CPython's test_server.py.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as asyncio from "../src/index.js";
import { echoHandler, openFds, portOf, runRecording, tempDir, until } from "./helpers/net.js";

const str = (x: Uint8Array): string => Buffer.from(x).toString();

/** Whether something accepts TCP connections on 127.0.0.1:port (checked with a raw socket). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.on("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.on("error", () => resolve(false));
  });
}

test("startServer returns a serving Server with its listening sockets", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    assert.ok(server instanceof asyncio.Server);
    assert.equal(server.isServing(), true);
    assert.equal(server.getLoop(), asyncio.getRunningLoop());
    assert.equal(server.sockets.length, 1);
    const [host, port] = server.sockets[0]!.getsockname() as [string, number];
    assert.equal(host, "127.0.0.1");
    assert.ok(port > 0);
    assert.deepEqual(server.sockets[0]!.address(), { address: "127.0.0.1", family: "IPv4", port });
    assert.equal(String(server), `<Server sockets=[127.0.0.1:${port}] serving>`);
    server.close();
    assert.equal(server.isServing(), false);
    assert.deepEqual(server.sockets, []);
    await server.waitClosed();
  });
});

test("with startServing: false, connections wait until startServing()", async () => {
  await asyncio.run(async () => {
    let handled = 0;
    const server = await asyncio.startServer(
      async (_r, writer) => {
        handled++;
        writer.write("welcome\n");
        writer.close();
      },
      "127.0.0.1",
      0,
      { startServing: false },
    );
    assert.equal(server.isServing(), false);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    await asyncio.sleep(0.02);
    assert.equal(handled, 0);
    await server.startServing();
    assert.equal(server.isServing(), true);
    assert.equal(str(await reader.readline()), "welcome\n");
    assert.equal(handled, 1);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("a handler still gets the peer's address when the client sent and reset before serving started", async () => {
  await asyncio.run(async () => {
    const seen: unknown[] = [];
    const server = await asyncio.startServer(
      async (_r, writer) => {
        seen.push(writer.getExtraInfo("peername"), writer.getExtraInfo("sockname"));
        writer.close();
      },
      "127.0.0.1",
      0,
      { startServing: false },
    );
    const client = net.connect(portOf(server), "127.0.0.1");
    client.on("error", () => {});
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));
    const clientPort = client.localPort;
    await until(() => server._pending.length === 1, "the server to accept the connection");
    client.write("hello");
    client.resetAndDestroy();
    await new Promise<void>((resolve) => client.once("close", () => resolve()));
    await server.startServing();
    await until(() => seen.length === 2, "the handler to run");
    assert.deepEqual(seen, [
      ["127.0.0.1", clientPort],
      ["127.0.0.1", portOf(server)],
    ]);
    server.close();
    await server.waitClosed();
  });
});

test("close() stops listening while accepted connections go on", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const port = portOf(server);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
    server.close();
    server.close();
    assert.equal(await accepts(port), false);
    writer.write("still here\n");
    assert.equal(str(await reader.readline()), "still here\n");
    writer.close();
    await server.waitClosed();
  });
});

test("waitClosed waits for the server to close and every connection to end, in either order", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    await until(() => server._clients.size > 0, "the connection");
    const waiting = asyncio.createTask(() => server.waitClosed());
    await asyncio.sleep(0.02);
    assert.equal(waiting.done(), false, "not closed yet");
    server.close();
    await asyncio.sleep(0.02);
    assert.equal(waiting.done(), false, "closed, but a connection is open");
    writer.close();
    await waiting;
    await server.waitClosed();
  });
});

test("waitClosed returns at once for a closed server without connections", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    server.close();
    await server.waitClosed();
    await server.waitClosed();
  });
});

test("waitClosed also waits for a handler still running after its connection ended", async () => {
  await asyncio.run(async () => {
    const release = asyncio.getRunningLoop().createFuture<void>();
    let finished = false;
    const server = await asyncio.startServer(async (reader, writer) => {
      await reader.read();
      writer.close();
      await release;
      finished = true;
    }, "127.0.0.1", 0);
    const [, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    writer.close();
    await writer.waitClosed();
    server.close();
    const waiting = asyncio.createTask(() => server.waitClosed());
    await asyncio.sleep(0.02);
    assert.equal(waiting.done(), false);
    release.setResult();
    await waiting;
    assert.equal(finished, true);
  });
});

test("closeClients closes every connection gracefully: clients read EOF", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (reader) => {
      await reader.read();
    }, "127.0.0.1", 0);
    const clients = await Promise.all([1, 2, 3].map(() => asyncio.openConnection("127.0.0.1", portOf(server))));
    await until(() => server._clients.size === 6, "three connections with their handlers");
    server.close();
    server.closeClients();
    for (const [reader, writer] of clients) {
      assert.equal((await reader.read()).length, 0);
      writer.close();
    }
    await server.waitClosed();
  });
});

test("abortClients drops every connection at once", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (reader) => {
      await reader.read();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    await until(() => server._clients.size === 2, "the connection and its handler");
    server.close();
    server.abortClients();
    await reader.read().catch(() => Buffer.alloc(0));
    writer.close();
    await server.waitClosed();
  });
});

test("serveForever serves until cancelled; cancelling closes the server and re-throws", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { startServing: false });
    const port = portOf(server);
    const serving = asyncio.createTask(() => server.serveForever());
    await asyncio.sleep(0);
    assert.equal(server.isServing(), true);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
    writer.write("x\n");
    assert.equal(str(await reader.readline()), "x\n");
    writer.close();
    await writer.waitClosed();
    serving.cancel();
    await assert.rejects(Promise.resolve(serving), asyncio.CancelledError);
    assert.equal(server.isServing(), false);
    assert.equal(await accepts(port), false);
    await server.waitClosed();
  });
});

test("close() ends serveForever with CancelledError", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const serving = asyncio.createTask(() => server.serveForever());
    await asyncio.sleep(0);
    server.close();
    await assert.rejects(Promise.resolve(serving), asyncio.CancelledError);
  });
});

test("serveForever twice, or on a closed server, is a RuntimeError", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const serving = asyncio.createTask(() => server.serveForever());
    await asyncio.sleep(0);
    await assert.rejects(server.serveForever(), (e: unknown) => e instanceof asyncio.RuntimeError && /already being awaited/.test(e.message));
    serving.cancel();
    await assert.rejects(Promise.resolve(serving), asyncio.CancelledError);
    await assert.rejects(server.serveForever(), (e: unknown) => e instanceof asyncio.RuntimeError && /is closed/.test(e.message));
  });
});

test("with(body) returns the body's result, then closes the server and waits for it", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const port = portOf(server);
    const result = await server.with(async (s) => {
      assert.equal(s, server);
      const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
      writer.write("in body\n");
      const line = str(await reader.readline());
      writer.close();
      return line;
    });
    assert.equal(result, "in body\n");
    assert.equal(server.isServing(), false);
    assert.equal(await accepts(port), false);
  });
});

test("with(body) closes the server when the body throws", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const boom = new Error("body failed");
    await assert.rejects(
      server.with(() => {
        throw boom;
      }),
      (e) => e === boom,
    );
    assert.equal(server.isServing(), false);
    await assert.rejects(server.with("x" as unknown as () => void), TypeError);
  });
});

test("each connection's callback runs as its own task; a plain function works too", async () => {
  await asyncio.run(async () => {
    const tasks: (asyncio.Task<unknown> | null)[] = [];
    const server = await asyncio.startServer((_reader, writer) => {
      tasks.push(asyncio.currentTask());
      writer.write("sync handler\n");
      writer.close();
    }, "127.0.0.1", 0);
    for (let i = 0; i < 2; i++) {
      const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
      assert.equal(str(await reader.readline()), "sync handler\n");
      writer.close();
    }
    assert.equal(tasks.length, 2);
    assert.ok(tasks[0] instanceof asyncio.Task);
    assert.notEqual(tasks[0], tasks[1]);
    assert.notEqual(tasks[0], asyncio.currentTask());
    server.close();
    await server.waitClosed();
  });
});

test("a handler that throws synchronously is reported and its connection closed", async () => {
  await runRecording(async (errors) => {
    const server = await asyncio.startServer(() => {
      throw new TypeError("sync failure");
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    assert.equal((await reader.read()).length, 0);
    assert.equal(errors.length, 1);
    assert.ok(errors[0]!.exception instanceof TypeError);
    assert.ok(errors[0]!.transport instanceof asyncio.Transport);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("a handler cancelled at shutdown closes its connection", async () => {
  let port = 0;
  let eof = false;
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (reader) => {
      await reader.read();
    }, "127.0.0.1", 0);
    port = portOf(server);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
    await until(() => server._clients.size === 2, "the handler");
    for (const t of asyncio.allTasks()) if (t !== asyncio.currentTask()) t.cancel();
    eof = (await reader.read()).length === 0;
    writer.close();
    server.close();
    await server.waitClosed();
  });
  assert.equal(eof, true);
});

test("listening on a port in use rejects with EADDRINUSE", async () => {
  await asyncio.run(async () => {
    const first = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    await assert.rejects(asyncio.startServer(echoHandler, "127.0.0.1", portOf(first)), (e: unknown) => {
      return (e as { code?: string }).code === "EADDRINUSE";
    });
    first.close();
    await first.waitClosed();
  });
});

test("createServer with a list of hosts listens on each; duplicates are merged", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, ["127.0.0.1", "127.0.0.1"], 0);
    assert.equal(server.sockets.length, 1);
    server.close();
    await server.waitClosed();
  });
});

test("createServer serves a listening net.Server given as sock", async () => {
  await asyncio.run(async () => {
    const raw = net.createServer();
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    const server = await asyncio.startServer(echoHandler, null, null, { sock: raw });
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", (raw.address() as net.AddressInfo).port);
    writer.write("adopted\n");
    assert.equal(str(await reader.readline()), "adopted\n");
    writer.close();
    server.close();
    await server.waitClosed();
    assert.equal(raw.listening, false);
  });
});

test("createServer and startServer check their arguments", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    await assert.rejects(asyncio.startServer("nope" as unknown as () => void, "127.0.0.1", 0), TypeError);
    await assert.rejects(asyncio.startServer(echoHandler, "127.0.0.1", 0, { backlog: -1 }), RangeError);
    await assert.rejects(asyncio.startServer(echoHandler, "127.0.0.1", 0, { limit: -1 }), RangeError);
    await assert.rejects(asyncio.startServer(echoHandler, "127.0.0.1", 0, { ssl: true }), RangeError);
    await assert.rejects(asyncio.startServer(echoHandler, "127.0.0.1", 0, { sslHandshakeTimeout: 5 }), RangeError);
    await assert.rejects(asyncio.startServer(echoHandler, [1] as unknown as string, 0), TypeError);
    await assert.rejects(asyncio.startServer(echoHandler, null, null), RangeError);
    await assert.rejects(asyncio.startServer(echoHandler, null, null, { sock: {} as net.Server }), TypeError);
    await assert.rejects(loop.createServer(() => 5 as unknown as object, "127.0.0.1", -1), RangeError);
  });
});

test("a protocol factory that fails for an incoming connection is reported, and the connection dropped", async () => {
  await runRecording(async (errors) => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(
      () => {
        throw new Error("no protocol");
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    await reader.read().catch(() => Buffer.alloc(0));
    assert.equal(errors[0]!.message, "Error on transport creation for incoming connection");
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("a Unix server removes a stale socket file before listening, and its file when closed", async () => {
  const path = join(tempDir(), "stale.sock");
  await asyncio.run(async () => {
    // A server that dies without cleaning up leaves its socket file behind.
    const script = `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`;
    spawnSync(process.execPath, ["-e", script]);
    assert.ok(existsSync(path));
    const server = await asyncio.startUnixServer(echoHandler, path);
    const [reader, writer] = await asyncio.openUnixConnection(path);
    writer.write("fresh\n");
    assert.equal(str(await reader.readline()), "fresh\n");
    writer.close();
    server.close();
    await server.waitClosed();
    await until(() => !existsSync(path), "the socket file to go");
  });
});

test("a Unix server refuses a path that is a regular file", async () => {
  const path = join(tempDir(), "not-a-socket");
  writeFileSync(path, "data");
  await asyncio.run(async () => {
    await assert.rejects(asyncio.startUnixServer(echoHandler, path), (e: unknown) => (e as { code?: string }).code === "EADDRINUSE");
    await assert.rejects(asyncio.startUnixServer(echoHandler, 5 as unknown as string), TypeError);
  });
});

// ------------------------------------------------------------------ under load

test("a server under 1,000 concurrent connections answers every one", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0, { backlog: 1024 });
    const port = portOf(server);
    const n = 1000;
    const clients = await asyncio.gather(...Array.from({ length: n }, () => () => asyncio.openConnection("127.0.0.1", port)));
    await until(() => server._clients.size === 2 * n, "every connection accepted");
    const answers = await asyncio.gather(
      ...clients.map(([reader, writer], i) => async () => {
        writer.write(`client ${i}\n`);
        return str(await reader.readline());
      }),
    );
    answers.forEach((a, i) => assert.equal(a, `client ${i}\n`));
    for (const [, writer] of clients) writer.close();
    await asyncio.gather(...clients.map(([, writer]) => () => writer.waitClosed()));
    server.close();
    await server.waitClosed();
  });
});

test("backpressure: a client that stops reading while the server writes 100 MiB keeps the server's memory bounded", async () => {
  await asyncio.run(async () => {
    const total = 100 << 20;
    const chunk = Buffer.alloc(256 << 10, 0x61);
    let written = 0;
    let maxBuffered = 0;
    const server = await asyncio.startServer(async (_reader, writer) => {
      while (written < total) {
        writer.write(chunk);
        written += chunk.length;
        maxBuffered = Math.max(maxBuffered, writer.transport.getWriteBufferSize());
        await writer.drain();
      }
      writer.close();
      await writer.waitClosed();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server), { limit: 64 << 10 });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    // The client reads nothing for a while: the server must stall, not buffer.
    let last = -1;
    for (let stalled = 0; stalled < 5; ) {
      await asyncio.sleep(0.02);
      stalled = written === last ? stalled + 1 : 0;
      last = written;
    }
    assert.ok(written < 64 << 20, `the server stalled after ${written} bytes`);
    assert.ok(maxBuffered <= (64 << 10) + chunk.length, `write buffer peaked at ${maxBuffered}`);
    assert.ok(!writer.transport.isReading(), "the client's reader paused its transport");
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < 64 << 20, `RSS grew by ${growth} bytes`);
    let received = 0;
    for (;;) {
      const data = await reader.read(1 << 20);
      if (data.length === 0) break;
      received += data.length;
    }
    assert.equal(received, total);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("10,000 connections opened and closed leave no file descriptor behind", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (reader, writer) => {
      await reader.read();
      writer.close();
    }, "127.0.0.1", 0, { backlog: 1024 });
    const port = portOf(server);
    const before = openFds();
    const batch = 100;
    for (let i = 0; i < 10000; i += batch) {
      await asyncio.gather(
        ...Array.from({ length: batch }, () => async () => {
          const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
          writer.writeEof();
          await reader.read();
          writer.close();
          await writer.waitClosed();
        }),
      );
    }
    await until(() => server._clients.size === 0, "every server-side connection to end");
    await until(() => openFds() <= before, `descriptors back to ${before}`);
    server.close();
    await server.waitClosed();
    assert.ok(openFds() < before, "the listening socket is closed too");
  });
});
