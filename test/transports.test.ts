// Transports and protocols over real sockets: call order, flow control both ways, closing and aborting, errors,
// name resolution; after what CPython's test_sock_lowlevel.py and the selector transport tests check.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as asyncio from "../src/index.js";
import { RecordingProtocol, echoHandler, portOf, runRecording, until } from "./helpers/net.js";

/** A protocol server that records each accepted connection's protocol. */
async function recordingServer(
  onMade?: (p: RecordingProtocol) => void,
): Promise<{ server: asyncio.Server; port: number; protocols: RecordingProtocol[] }> {
  const protocols: RecordingProtocol[] = [];
  const server = await asyncio.getRunningLoop().createServer(
    () => {
      const p = new RecordingProtocol();
      protocols.push(p);
      if (onMade) void p.made.then(() => onMade(p));
      return p;
    },
    "127.0.0.1",
    0,
  );
  return { server, port: portOf(server), protocols };
}

/** A raw node:net server whose connections are handed to `onSocket`. */
async function rawServer(onSocket: (sock: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    onSocket(sock);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const close = (): void => {
    server.close();
    for (const sock of sockets) sock.destroy();
  };
  return { port: (server.address() as net.AddressInfo).port, close };
}

test("protocol calls come in order: connectionMade, dataReceived, eofReceived, connectionLost(null)", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const raw = await rawServer((sock) => sock.end("hello"));
    try {
      const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", raw.port);
      assert.ok(transport instanceof asyncio.Transport);
      assert.equal(protocol.transport, transport);
      await protocol.lost;
      assert.deepEqual(protocol.events, ["made", "data", "eof", "lost"]);
      assert.equal(protocol.received().toString(), "hello");
      assert.equal(protocol.lostWith, null);
      assert.equal(transport.isClosing(), true);
    } finally {
      raw.close();
    }
  });
});

test("createConnection resolves once connectionMade has run", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const { server, port } = await recordingServer();
    const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", port);
    assert.deepEqual(protocol.events, ["made"]);
    transport.close();
    await protocol.lost;
    server.close();
    await server.waitClosed();
  });
});

test("a protocol factory error rejects createConnection and leaves nothing open", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const { server, port, protocols } = await recordingServer();
    const boom = new Error("factory failed");
    await assert.rejects(
      loop.createConnection(
        () => {
          throw boom;
        },
        "127.0.0.1",
        port,
      ),
      (e) => e === boom,
    );
    await until(() => protocols.length === 1 && protocols[0]!.lost.done(), "the server to see the close");
    server.close();
    await server.waitClosed();
  });
});

test("a plain object with some protocol methods works as a protocol", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const got: Buffer[] = [];
    const lost = loop.createFuture<void>();
    const [transport] = await loop.createConnection(
      () => ({ dataReceived: (d: Buffer) => got.push(d), connectionLost: () => lost.setResult() }),
      "127.0.0.1",
      portOf(server),
    );
    transport.write("ping");
    await until(() => Buffer.concat(got).toString() === "ping", "the echo");
    transport.close();
    await lost;
    server.close();
    await server.waitClosed();
  });
});

test("a BufferedProtocol receives through the buffers it lends", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    class Collect extends asyncio.BufferedProtocol {
      buf = Buffer.alloc(7);
      parts: Buffer[] = [];
      hints: number[] = [];
      lost = loop.createFuture<void>();
      override getBuffer(sizehint: number): Uint8Array {
        this.hints.push(sizehint);
        return this.buf;
      }
      override bufferUpdated(nbytes: number): void {
        this.parts.push(Buffer.from(this.buf.subarray(0, nbytes)));
      }
      override connectionLost(): void {
        this.lost.setResult();
      }
    }
    const [transport, protocol] = await loop.createConnection(() => new Collect(), "127.0.0.1", portOf(server));
    const payload = "0123456789abcdefghijklmnopqrstuvwxyz".repeat(100);
    transport.write(payload);
    await until(() => Buffer.concat(protocol.parts).length === payload.length, "all the data");
    assert.equal(Buffer.concat(protocol.parts).toString(), payload);
    assert.ok(protocol.parts.every((p) => p.length <= 7));
    assert.ok(protocol.hints.every((h) => h > 0));
    transport.close();
    await protocol.lost;
    server.close();
    await server.waitClosed();
  });
});

test("getBuffer returning an empty buffer is a fatal error reported to the loop", async () => {
  await runRecording(async (errors) => {
    const loop = asyncio.getRunningLoop();
    const raw = await rawServer((sock) => sock.write("data"));
    try {
      const lost = loop.createFuture<Error | null>();
      await loop.createConnection(
        () => ({ getBuffer: () => new Uint8Array(0), bufferUpdated: () => {}, connectionLost: (e: Error | null) => lost.setResult(e) }),
        "127.0.0.1",
        raw.port,
      );
      const exc = await lost;
      assert.ok(exc instanceof asyncio.RuntimeError);
      assert.match(errors[0]!.message!, /getBuffer\(\) call failed/);
    } finally {
      raw.close();
    }
  });
});

test("dataReceived throwing is reported to the exception handler and closes the connection with that error", async () => {
  await runRecording(async (errors) => {
    const loop = asyncio.getRunningLoop();
    const raw = await rawServer((sock) => sock.write("data"));
    try {
      const boom = new Error("bad data");
      const lost = loop.createFuture<Error | null>();
      const [transport] = await loop.createConnection(
        () => ({
          dataReceived: () => {
            throw boom;
          },
          connectionLost: (e: Error | null) => lost.setResult(e),
        }),
        "127.0.0.1",
        raw.port,
      );
      assert.equal(await lost, boom);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.message, "Fatal error: protocol.dataReceived() call failed.");
      assert.equal(errors[0]!.exception, boom);
      assert.equal(errors[0]!.transport, transport);
    } finally {
      raw.close();
    }
  });
});

test("eofReceived returning true keeps the connection open for writing", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const { server, port, protocols } = await recordingServer((p) => {
      p.keepOpenOnEof = true;
    });
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
    writer.write("question");
    writer.writeEof();
    await until(() => protocols.length === 1, "the connection");
    const p = protocols[0]!;
    await p.eof;
    await asyncio.sleep(0.01);
    assert.equal(p.transport!.isClosing(), false);
    p.transport!.write("answer after EOF");
    p.transport!.close();
    assert.equal((await reader.read()).toString(), "answer after EOF");
    await p.lost;
    assert.deepEqual(p.events, ["made", "data", "eof", "lost"]);
    writer.close();
    server.close();
    await server.waitClosed();
    void loop;
  });
});

test("eofReceived returning a falsy value closes the transport", async () => {
  await asyncio.run(async () => {
    const { server, port, protocols } = await recordingServer();
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
    writer.writeEof();
    await until(() => protocols.length === 1, "the connection");
    await protocols[0]!.lost;
    assert.deepEqual(protocols[0]!.events, ["made", "eof", "lost"]);
    assert.equal((await reader.read()).length, 0);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("pauseReading stops dataReceived until resumeReading; isReading follows", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    let peer: net.Socket | null = null;
    const raw = await rawServer((sock) => (peer = sock));
    try {
      const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", raw.port);
      assert.equal(transport.isReading(), true);
      transport.pauseReading();
      transport.pauseReading();
      assert.equal(transport.isReading(), false);
      await until(() => peer !== null, "the peer");
      peer!.write("while paused");
      await asyncio.sleep(0.05);
      assert.equal(protocol.data.length, 0);
      transport.resumeReading();
      assert.equal(transport.isReading(), true);
      await until(() => protocol.received().toString() === "while paused", "the data");
      transport.close();
      assert.equal(transport.isReading(), false);
      await protocol.lost;
    } finally {
      raw.close();
    }
  });
});

test("pauseReading called from connectionMade holds the data back from the start", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const raw = await rawServer((sock) => sock.write("early"));
    try {
      class Paused extends RecordingProtocol {
        override connectionMade(transport: asyncio.Transport): void {
          super.connectionMade(transport);
          transport.pauseReading();
        }
      }
      const [transport, protocol] = await loop.createConnection(() => new Paused(), "127.0.0.1", raw.port);
      await asyncio.sleep(0.05);
      assert.equal(protocol.data.length, 0);
      transport.resumeReading();
      await until(() => protocol.received().toString() === "early", "the data");
      transport.abort();
      await protocol.lost;
    } finally {
      raw.close();
    }
  });
});

test("pauseWriting and resumeWriting follow the write buffer's water marks", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    let peer: net.Socket | null = null;
    const raw = await rawServer((sock) => {
      sock.pause();
      peer = sock;
    });
    try {
      const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", raw.port);
      transport.setWriteBufferLimits(64 * 1024, 16 * 1024);
      const chunk = Buffer.alloc(256 * 1024);
      while (!protocol.events.includes("pause")) {
        transport.write(chunk);
        await asyncio.sleep(0);
      }
      assert.ok(transport.getWriteBufferSize() > 64 * 1024);
      await until(() => peer !== null, "the peer");
      peer!.resume();
      await until(() => protocol.events.includes("resume"), "resumeWriting");
      assert.ok(transport.getWriteBufferSize() <= 16 * 1024);
      assert.deepEqual(
        protocol.events.filter((e) => e === "pause" || e === "resume"),
        ["pause", "resume"],
      );
      transport.abort();
      await protocol.lost;
    } finally {
      raw.close();
    }
  });
});

/**
 * A transport to a raw peer that reads nothing until `drain()`, with `size` bytes written under a high-water mark
 * above them (so that no write was over it); `drain()` resumes the peer and resolves with all it received.
 */
async function withUnreadWrites(
  size: number,
  body: (t: { transport: asyncio.Transport; protocol: RecordingProtocol; drain: () => Promise<number> }) => Promise<void>,
): Promise<void> {
  const loop = asyncio.getRunningLoop();
  let peer: net.Socket | null = null;
  let received = 0;
  const ended = new Promise<void>((resolve) => {
    void rawServer((sock) => {
      sock.pause();
      peer = sock;
      sock.on("data", (d: Buffer) => (received += d.length));
      sock.on("end", resolve);
    }).then((raw) => (server = raw));
  });
  let server: { port: number; close: () => void } | null = null;
  await until(() => server !== null, "the server");
  try {
    const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", server!.port);
    transport.setWriteBufferLimits(4 * size);
    const chunk = Buffer.alloc(1024 * 1024);
    for (let sent = 0; sent < size; sent += chunk.length) transport.write(chunk);
    assert.ok(transport.getWriteBufferSize() > 0, "some of the data is still buffered");
    await until(() => peer !== null, "the peer");
    const drain = async (): Promise<number> => {
      peer!.resume();
      await ended;
      return received;
    };
    await body({ transport, protocol, drain });
  } finally {
    server!.close();
  }
}

test("close() with writes buffered under the high-water mark sends them all before connectionLost", { timeout: 30_000 }, async () => {
  await asyncio.run(async () => {
    await withUnreadWrites(16 * 1024 * 1024, async ({ transport, protocol, drain }) => {
      transport.close();
      assert.equal(await drain(), 16 * 1024 * 1024);
      await protocol.lost;
      assert.equal(protocol.lostWith, null);
    });
  });
});

test("close() after writeEof() with writes still buffered closes once they are written", { timeout: 30_000 }, async () => {
  await asyncio.run(async () => {
    await withUnreadWrites(16 * 1024 * 1024, async ({ transport, protocol, drain }) => {
      transport.writeEof();
      transport.close();
      assert.equal(await drain(), 16 * 1024 * 1024);
      await protocol.lost;
      assert.equal(protocol.lostWith, null);
    });
  });
});

test("limits lowered under writes already buffered pause the protocol, and resume it once the buffer drains", { timeout: 30_000 }, async () => {
  await asyncio.run(async () => {
    await withUnreadWrites(16 * 1024 * 1024, async ({ transport, protocol, drain }) => {
      transport.setWriteBufferLimits(64 * 1024, 16 * 1024);
      assert.deepEqual(protocol.events.filter((e) => e === "pause"), ["pause"]);
      const draining = drain();
      await until(() => protocol.events.includes("resume"), "resumeWriting");
      assert.ok(transport.getWriteBufferSize() <= 16 * 1024);
      transport.close();
      assert.equal(await draining, 16 * 1024 * 1024);
      await protocol.lost;
    });
  });
});

test("writelines that takes the buffer over the high-water mark pauses the protocol, and the drain resumes it", { timeout: 30_000 }, async () => {
  await asyncio.run(async () => {
    await withUnreadWrites(4 * 1024 * 1024, async ({ transport, protocol, drain }) => {
      transport.writelines(Array.from({ length: 16 }, () => Buffer.alloc(1024 * 1024)));
      assert.deepEqual(protocol.events.filter((e) => e === "pause"), ["pause"]);
      const draining = drain();
      await until(() => protocol.events.includes("resume"), "resumeWriting");
      transport.close();
      assert.equal(await draining, 20 * 1024 * 1024);
      await protocol.lost;
    });
  });
});

test("setWriteBufferLimits defaults and checks as asyncio", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [transport] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", portOf(server));
    assert.deepEqual(transport.getWriteBufferLimits(), [16384, 65536]);
    transport.setWriteBufferLimits(1000);
    assert.deepEqual(transport.getWriteBufferLimits(), [250, 1000]);
    transport.setWriteBufferLimits(null, 100);
    assert.deepEqual(transport.getWriteBufferLimits(), [100, 400]);
    transport.setWriteBufferLimits(0);
    assert.deepEqual(transport.getWriteBufferLimits(), [0, 0]);
    assert.throws(() => transport.setWriteBufferLimits(10, 20), RangeError);
    assert.throws(() => transport.setWriteBufferLimits(-1), RangeError);
    assert.throws(() => transport.setWriteBufferLimits("big" as unknown as number), TypeError);
    transport.close();
    server.close();
    await server.waitClosed();
  });
});

test("write checks its argument and refuses to write after writeEof", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [transport] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", portOf(server));
    assert.throws(() => transport.write(123 as unknown as string), TypeError);
    assert.throws(() => transport.write({} as unknown as string), /Uint8Array or a string/);
    assert.throws(() => transport.writelines(5 as unknown as string[]), TypeError);
    transport.write(new Uint8Array(0));
    transport.write("");
    transport.writeEof();
    transport.writeEof();
    assert.throws(() => transport.write("x"), asyncio.RuntimeError);
    assert.throws(() => transport.writelines(["x"]), asyncio.RuntimeError);
    transport.close();
    server.close();
    await server.waitClosed();
  });
});

test("close flushes what is buffered before connectionLost", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    let received = 0;
    const done = loop.createFuture<void>();
    const raw = await rawServer((sock) => {
      sock.pause();
      setTimeout(() => sock.resume(), 50);
      sock.on("data", (d) => (received += d.length));
      sock.on("end", () => {
        sock.end();
        loop.callSoonThreadsafe(() => done.setResult());
      });
    });
    try {
      const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", raw.port);
      transport.write(Buffer.alloc(8 << 20));
      assert.ok(transport.getWriteBufferSize() > 0);
      transport.close();
      assert.equal(transport.isClosing(), true);
      transport.write("ignored after close");
      await protocol.lost;
      await done;
      assert.equal(received, 8 << 20);
      assert.equal(protocol.lostWith, null);
    } finally {
      raw.close();
    }
  });
});

test("abort drops the buffer and calls connectionLost(null) once", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const raw = await rawServer((sock) => sock.pause());
    try {
      const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", raw.port);
      transport.write(Buffer.alloc(8 << 20));
      transport.abort();
      transport.abort();
      transport.close();
      await protocol.lost;
      await asyncio.sleep(0.01);
      assert.deepEqual(protocol.events, ["made", "pause", "lost"], "no resumeWriting for a dropped buffer");
      assert.equal(protocol.lostWith, null);
      assert.equal(transport.getWriteBufferSize(), 0);
    } finally {
      raw.close();
    }
  });
});

test("writes after the connection is lost are dropped, with one warning after five", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const logged: string[] = [];
    loop._log = (text: string) => logged.push(text);
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", portOf(server));
    transport.abort();
    await protocol.lost;
    for (let i = 0; i < 10; i++) transport.write("lost");
    assert.deepEqual(logged, ["socket.send() raised exception."]);
    server.close();
    await server.waitClosed();
  });
});

test("a peer reset reaches connectionLost with ECONNRESET", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const raw = await rawServer((sock) => setTimeout(() => sock.resetAndDestroy(), 10));
    try {
      const [, protocol] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", raw.port);
      await protocol.lost;
      assert.equal((protocol.lostWith as { code?: string }).code, "ECONNRESET");
    } finally {
      raw.close();
    }
  });
});

test("transports are instances of the asyncio base classes", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [transport] = await loop.createConnection(() => new asyncio.Protocol(), "127.0.0.1", portOf(server));
    assert.ok(transport instanceof asyncio.BaseTransport);
    assert.ok(transport instanceof asyncio.ReadTransport);
    assert.ok(transport instanceof asyncio.WriteTransport);
    assert.ok(!(transport instanceof asyncio.DatagramTransport));
    assert.ok(transport.getProtocol() instanceof asyncio.Protocol);
    assert.match(String(transport), /SocketTransport peer=127\.0\.0\.1:\d+/);
    transport.close();
    server.close();
    await server.waitClosed();
  });
});

test("the base transport classes throw RuntimeError for what a subclass must implement", () => {
  const t = new asyncio.Transport({ info: 1 });
  assert.equal(t.getExtraInfo("info"), 1);
  assert.equal(t.getExtraInfo("missing", "default"), "default");
  assert.throws(() => t.write("x"), asyncio.RuntimeError);
  assert.throws(() => t.close(), /Transport\.close\(\) is not implemented/);
  assert.throws(() => new asyncio.DatagramTransport().sendto("x"), asyncio.RuntimeError);
  assert.throws(() => new asyncio.BufferedProtocol().getBuffer(1), asyncio.RuntimeError);
  // The default protocol methods do nothing.
  const p = new asyncio.Protocol();
  p.connectionMade(t);
  p.dataReceived(Buffer.from("x"));
  assert.equal(p.eofReceived(), undefined);
  p.connectionLost(null);
});

test("setProtocol switches the protocol that receives data", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [transport, first] = await loop.createConnection(() => new RecordingProtocol(), "127.0.0.1", portOf(server));
    const second = new RecordingProtocol();
    transport.setProtocol(second);
    assert.equal(transport.getProtocol(), second);
    assert.throws(() => transport.setProtocol(null as unknown as object), TypeError);
    transport.write("to the second");
    await until(() => second.received().toString() === "to the second", "the echo");
    assert.equal(first.data.length, 0);
    transport.close();
    await second.lost;
    server.close();
    await server.waitClosed();
  });
});

test("createConnection over an already connected net.Socket (sock option)", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const sock = net.connect(portOf(server), "127.0.0.1");
    const [transport, protocol] = await loop.createConnection(() => new RecordingProtocol(), null, null, { sock });
    transport.write("via sock");
    await until(() => protocol.received().toString() === "via sock", "the echo");
    assert.equal(transport.getExtraInfo("socket"), sock);
    transport.close();
    await protocol.lost;
    server.close();
    await server.waitClosed();
  });
});

test("createConnection checks its arguments", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const f = (): asyncio.Protocol => new asyncio.Protocol();
    await assert.rejects(loop.createConnection("nope" as unknown as () => asyncio.Protocol, "127.0.0.1", 1), TypeError);
    await assert.rejects(loop.createConnection(f), RangeError);
    await assert.rejects(loop.createConnection(f, "127.0.0.1", 1, { sock: new net.Socket() }), RangeError);
    await assert.rejects(loop.createConnection(f, "127.0.0.1", 1, { serverHostname: "x" }), /only meaningful with `ssl`/);
    await assert.rejects(loop.createConnection(f, null, null, { ssl: true, sock: new net.Socket() }), /serverHostname/);
    await assert.rejects(loop.createConnection(f, "127.0.0.1", 1, { sslHandshakeTimeout: 1 }), RangeError);
    await assert.rejects(loop.createConnection(f, "127.0.0.1", 1, { family: 5 as 4 }), RangeError);
    await assert.rejects(loop.createConnection(f, "127.0.0.1", 1, { happyEyeballsDelay: -1 }), RangeError);
    await assert.rejects(loop.createConnection(f, "127.0.0.1", 1, { ssl: 3 as unknown as true }), TypeError);
  });
});

test("every address refused with allErrors gives an ExceptionGroup of ECONNREFUSED errors", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await asyncio.startServer(() => {}, "127.0.0.1", 0);
    const port = portOf(server);
    server.close();
    await server.waitClosed();
    await assert.rejects(loop.createConnection(() => new asyncio.Protocol(), "localhost", port, { allErrors: true }), (e: unknown) => {
      assert.ok(e instanceof asyncio.ExceptionGroup);
      assert.ok(e.exceptions.length >= 1);
      assert.ok(e.exceptions.every((x) => (x as { code?: string }).code === "ECONNREFUSED"));
      return true;
    });
    await assert.rejects(
      loop.createConnection(() => new asyncio.Protocol(), "127.0.0.1", port, { happyEyeballsDelay: 0.25 }),
      (e: unknown) => (e as { code?: string }).code === "ECONNREFUSED",
    );
  });
});

test("cancelling createConnection while it connects leaves no socket behind", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const raw = await rawServer(() => {});
    try {
      const task = asyncio.createTask(() => loop.createConnection(() => new asyncio.Protocol(), "127.0.0.1", raw.port));
      await asyncio.sleep(0);
      task.cancel();
      await assert.rejects(Promise.resolve(task), asyncio.CancelledError);
    } finally {
      raw.close();
    }
  });
});

test("getaddrinfo returns asyncio-shaped entries without touching the network for literals", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.deepEqual(await loop.getaddrinfo("127.0.0.1", 80), [
      [4, "stream", "tcp", "", ["127.0.0.1", 80]],
      [4, "dgram", "udp", "", ["127.0.0.1", 80]],
    ]);
    assert.deepEqual(await loop.getaddrinfo("::1", "443", { type: "stream" }), [[6, "stream", "tcp", "", ["::1", 443]]]);
    assert.deepEqual(await loop.getaddrinfo("127.0.0.1", 80, { family: 6 }), []);
    assert.deepEqual(await loop.getaddrinfo(null, 0, { family: 4, type: "dgram" }), [[4, "dgram", "udp", "", ["127.0.0.1", 0]]]);
    const local = await loop.getaddrinfo("localhost", 8080, { type: "stream" });
    assert.ok(local.length >= 1);
    for (const [family, , , , [address, port]] of local) {
      assert.ok(family === 4 || family === 6);
      assert.ok(net.isIP(address) !== 0);
      assert.equal(port, 8080);
    }
    await assert.rejects(loop.getaddrinfo("127.0.0.1", 80, { type: "raw" as "stream" }), RangeError);
    await assert.rejects(loop.getaddrinfo(7 as unknown as string, 80), TypeError);
  });
});

test("getnameinfo resolves an address, or returns it as numbers with the NI_ flags", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.deepEqual(await loop.getnameinfo(["127.0.0.1", 80], asyncio.NI_NUMERICHOST | asyncio.NI_NUMERICSERV), ["127.0.0.1", "80"]);
    const [host, service] = await loop.getnameinfo(["127.0.0.1", 80], asyncio.NI_NUMERICHOST);
    assert.equal(host, "127.0.0.1");
    assert.equal(typeof service, "string");
    const [name] = await loop.getnameinfo(["127.0.0.1", 80]);
    assert.equal(typeof name, "string");
    assert.ok(name.length > 0);
    await assert.rejects(loop.getnameinfo("127.0.0.1" as unknown as [string, number]), TypeError);
  });
});

test("closing the loop closes transports and servers left open", async () => {
  let port = 0;
  await asyncio.run(async () => {
    const { server } = await recordingServer();
    port = portOf(server);
    await asyncio.getRunningLoop().createConnection(() => new asyncio.Protocol(), "127.0.0.1", port);
    // Neither the server nor the connection is closed here.
  });
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.on("connect", () => reject(new Error("the server still listens")));
    sock.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNREFUSED" ? resolve() : reject(e)));
  });
});

test("debug mode logs what loop.close() had to close", async () => {
  const logged: string[] = [];
  await asyncio.run(
    async () => {
      asyncio.getRunningLoop()._log = (text: string) => logged.push(text);
      await asyncio.startServer(() => {}, "127.0.0.1", 0);
    },
    { debug: true },
  );
  assert.ok(logged.some((l) => /unclosed <Server sockets=\[127\.0\.0\.1:\d+\]/.test(l)));
});
