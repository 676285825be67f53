// StreamReader at every boundary (fed by hand and by real sockets), StreamWriter flow control, errors and
// cancellation, after what CPython's test_streams.py checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { join } from "node:path";
import * as asyncio from "../src/index.js";
import { echoHandler, portOf, runRecording, tempDir, until } from "./helpers/net.js";

const b = (s: string): Buffer => Buffer.from(s);
const str = (x: Uint8Array): string => Buffer.from(x).toString();

/** A reader fed with `chunks` (then EOF when `eof`), inside a running loop. */
function fed(chunks: string[], options: { limit?: number; eof?: boolean } = {}): asyncio.StreamReader {
  const reader = new asyncio.StreamReader({ limit: options.limit });
  for (const c of chunks) reader.feedData(b(c));
  if (options.eof) reader.feedEof();
  return reader;
}

/** A transport stand-in that records pause/resume calls. */
class FakeTransport extends asyncio.Transport {
  calls: string[] = [];
  paused = false;
  override pauseReading(): void {
    this.calls.push("pause");
    this.paused = true;
  }
  override resumeReading(): void {
    this.calls.push("resume");
    this.paused = false;
  }
}

// ------------------------------------------------------------------ read(n)

test("read(0) returns an empty buffer at once, even with nothing buffered", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    assert.equal((await reader.read(0)).length, 0);
  });
});

test("read(n) returns at most n bytes and leaves the rest buffered", async () => {
  await asyncio.run(async () => {
    const reader = fed(["line1\nline2\n"]);
    assert.equal(str(await reader.read(5)), "line1");
    assert.equal(str(await reader.read(100)), "\nline2\n");
  });
});

// A read(n) in a task (outside cancel scopes and debug mode) waits without a Future of its own; these pin what a
// Future would have done, checked against CPython 3.13.

test("a waiting read(n) resumes its task before the callbacks scheduled after the data came, as in CPython", async () => {
  const log = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const reader = new asyncio.StreamReader();
    const out: string[] = [];
    const task = asyncio.createTask(async () => {
      out.push(`read ${str(await reader.read(100))}`);
    });
    await asyncio.sleep(0);
    loop.callSoon(() => {
      reader.feedData(b("x"));
      loop.callSoon(() => out.push("soon after feed"));
    });
    await task;
    return out;
  });
  assert.deepEqual(log, ["read x", "soon after feed"]);
});

test("a task cancelled after data came for its read(n), before it resumed, gets CancelledError and the data stays", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.read(100));
    await asyncio.sleep(0);
    reader.feedData(b("y"));
    assert.equal(task.cancel(), true);
    await assert.rejects(Promise.resolve(task), asyncio.CancelledError);
    reader.feedData(b("z"));
    assert.equal(str(await reader.read(100)), "yz");
  });
});

test("feedEof wakes a waiting read(n) with an empty buffer, and setException with the error", async () => {
  await asyncio.run(async () => {
    const atEof = new asyncio.StreamReader();
    const eofRead = asyncio.createTask(() => atEof.read(10));
    await asyncio.sleep(0);
    atEof.feedEof();
    assert.equal((await eofRead).length, 0);
    const failing = new asyncio.StreamReader();
    const failedRead = asyncio.createTask(() => failing.read(10));
    await asyncio.sleep(0);
    const error = new Error("boom");
    failing.setException(error);
    await assert.rejects(Promise.resolve(failedRead), (e) => e === error);
  });
});

test("a waiting read(n) shows as the Future it stands for, in the reader's description and the task's", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.read(10));
    await asyncio.sleep(0);
    assert.equal(String(reader), "<StreamReader waiter=<Future pending>>");
    assert.match(String(task), /wait_for=<Future pending>/);
    reader.feedData(b("ok"));
    assert.equal(str(await task), "ok");
    assert.equal(String(reader), "<StreamReader>");
  });
});

test("read(n) inside a cancel scope, and in debug mode, waits as before and loses nothing when cancelled", async () => {
  for (const debug of [false, true]) {
    await asyncio.run(
      async () => {
        const reader = new asyncio.StreamReader();
        const scope = asyncio.moveOnAfter(0.01);
        const timedOut = await scope.with(() => reader.read(10));
        assert.equal(timedOut, undefined, `debug=${debug}`);
        assert.equal(scope.cancelledCaught, true);
        reader.feedData(b("kept"));
        assert.equal(str(await reader.read(10)), "kept");
      },
      { debug },
    );
  }
});

test("read(n) takes bytes across chunk boundaries, as much as is buffered", async () => {
  await asyncio.run(async () => {
    const reader = fed(["ab", "cd", "ef"]);
    assert.equal(str(await reader.read(3)), "abc");
    assert.equal(str(await reader.read(10)), "def");
  });
});

test("read(n) waits for data when the buffer is empty", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.read(30));
    await asyncio.sleep(0);
    assert.equal(task.done(), false);
    reader.feedData(b("chunk"));
    assert.equal(str(await task), "chunk");
  });
});

test("read() reads everything until EOF, over many chunks and past the limit", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader({ limit: 16 });
    const task = asyncio.createTask(() => reader.read());
    for (let i = 0; i < 20; i++) {
      reader.feedData(b(`chunk${i};`));
      await asyncio.sleep(0);
    }
    reader.feedEof();
    const expected = Array.from({ length: 20 }, (_, i) => `chunk${i};`).join("");
    assert.equal(str(await task), expected);
  });
});

test("read() at EOF with an empty buffer returns an empty buffer, every time", async () => {
  await asyncio.run(async () => {
    const reader = fed([], { eof: true });
    assert.equal((await reader.read()).length, 0);
    assert.equal((await reader.read(10)).length, 0);
    assert.equal((await reader.read()).length, 0);
  });
});

test("read(n) returns what is left at EOF, then empty buffers", async () => {
  await asyncio.run(async () => {
    const reader = fed(["abc"], { eof: true });
    assert.equal(str(await reader.read(10)), "abc");
    assert.equal((await reader.read(10)).length, 0);
    assert.ok(reader.atEof());
  });
});

test("read rejects a non-integer count", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    await assert.rejects(reader.read(1.5), RangeError);
    await assert.rejects(reader.read("3" as unknown as number), TypeError);
  });
});

test("read throws the exception set on the reader, and setException wakes a waiting read", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.read(10));
    await asyncio.sleep(0);
    const boom = new Error("boom");
    reader.setException(boom);
    await assert.rejects(Promise.resolve(task), (e: unknown) => e === boom);
    await assert.rejects(reader.read(1), (e) => e === boom);
    assert.equal(reader.exception(), boom);
  });
});

// ------------------------------------------------------------------ readline

test("readline returns lines including the newline, several from one chunk", async () => {
  await asyncio.run(async () => {
    const reader = fed(["line1\nline2\nline3"], { eof: true });
    assert.equal(str(await reader.readline()), "line1\n");
    assert.equal(str(await reader.readline()), "line2\n");
    assert.equal(str(await reader.readline()), "line3");
    assert.equal((await reader.readline()).length, 0);
  });
});

test("readline joins a line split across chunks that arrive later", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.readline());
    for (const part of ["chunk1 ", "chunk2 ", "chunk3 \n", "rest"]) {
      reader.feedData(b(part));
      await asyncio.sleep(0);
    }
    assert.equal(str(await task), "chunk1 chunk2 chunk3 \n");
    assert.equal(str(await reader.read(100)), "rest");
  });
});

test("readline at EOF returns the partial last line, then an empty buffer", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.readline());
    reader.feedData(b("some data"));
    await asyncio.sleep(0);
    reader.feedEof();
    assert.equal(str(await task), "some data");
    assert.equal((await reader.readline()).length, 0);
  });
});

test("readline over the limit with the newline buffered drops that line and throws RangeError", async () => {
  await asyncio.run(async () => {
    const reader = fed(["1234567890\n", "next\n"], { limit: 7 });
    await assert.rejects(reader.readline(), (e: unknown) => e instanceof RangeError && e.cause instanceof asyncio.LimitOverrunError);
    assert.equal(str(await reader.readline()), "next\n");
  });
});

test("readline over the limit without a newline empties the buffer", async () => {
  await asyncio.run(async () => {
    const reader = fed(["0123456789abcdef"], { limit: 7 });
    await assert.rejects(reader.readline(), RangeError);
    reader.feedData(b("ok\n"));
    assert.equal(str(await reader.readline()), "ok\n");
  });
});

test("readline of a line exactly at the limit succeeds; one byte more fails", async () => {
  await asyncio.run(async () => {
    const reader = fed(["1234567\n", "12345678\n"], { limit: 7 });
    assert.equal(str(await reader.readline()), "1234567\n");
    await assert.rejects(reader.readline(), RangeError);
  });
});

test("async iteration yields each line until EOF", async () => {
  await asyncio.run(async () => {
    const reader = fed(["a\nb", "b\nccc\nlast"], { eof: true });
    const lines: string[] = [];
    for await (const line of reader) lines.push(str(line));
    assert.deepEqual(lines, ["a\n", "bb\n", "ccc\n", "last"]);
  });
});

// ------------------------------------------------------------------ readuntil

test("readuntil with a multi-byte separator split across chunks", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.readuntil(b("\r\n\r\n")));
    for (const part of ["HEAD /x\r", "\n", "Host: a\r\n\r", "\nbody"]) {
      reader.feedData(b(part));
      await asyncio.sleep(0);
    }
    assert.equal(str(await task), "HEAD /x\r\nHost: a\r\n\r\n");
    assert.equal(str(await reader.read(10)), "body");
  });
});

test("readuntil at EOF without the separator says so, with the bytes read as partial", async () => {
  await asyncio.run(async () => {
    const reader = fed(["abc"], { eof: true });
    const error = await reader.readuntil("\n").then(
      () => assert.fail("readuntil should reject"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof asyncio.IncompleteReadError);
    assert.equal(str(error.partial), "abc");
    assert.equal(error.expected, null);
    assert.equal(error.message, "3 bytes read before EOF, without the separator");
  });
});

test("readuntil accepts a string separator", async () => {
  await asyncio.run(async () => {
    const reader = fed(["key=value;next"]);
    assert.equal(str(await reader.readuntil(";")), "key=value;");
  });
});

test("readuntil with a list of separators returns the shortest data ending with any of them", async () => {
  await asyncio.run(async () => {
    const reader = fed(["aaa|bb!cc|dd"], { eof: true });
    assert.equal(str(await reader.readuntil(["!", "|"])), "aaa|");
    assert.equal(str(await reader.readuntil([b("!"), b("|")])), "bb!");
    assert.equal(str(await reader.readuntil(["!", "|"])), "cc|");
    await assert.rejects(reader.readuntil(["!", "|"]), asyncio.IncompleteReadError);
  });
});

test("readuntil with separators ending at the same place returns the match through that end", async () => {
  await asyncio.run(async () => {
    const reader = fed(["abc\r\ndef"]);
    assert.equal(str(await reader.readuntil(["\n", "\r\n"])), "abc\r\n");
  });
});

test("readuntil: EOF in the middle throws IncompleteReadError with the whole buffer and empties it", async () => {
  await asyncio.run(async () => {
    const reader = fed(["partial data\r"], { eof: true });
    await assert.rejects(reader.readuntil("\r\n"), (e: unknown) => {
      assert.ok(e instanceof asyncio.IncompleteReadError);
      assert.equal(str(e.partial), "partial data\r");
      assert.equal(e.expected, null);
      return true;
    });
    assert.ok(reader.atEof());
  });
});

test("readuntil: a separator that completes together with EOF is still found", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.readuntil("END"));
    reader.feedData(b("xxEN"));
    await asyncio.sleep(0);
    reader.feedData(b("D"));
    reader.feedEof();
    assert.equal(str(await task), "xxEND");
  });
});

test("readuntil: no separator within the limit throws LimitOverrunError and keeps the data", async () => {
  await asyncio.run(async () => {
    const reader = fed(["0123456789"], { limit: 5 });
    await assert.rejects(reader.readuntil("\n"), (e: unknown) => {
      assert.ok(e instanceof asyncio.LimitOverrunError);
      assert.equal(e.consumed, 10);
      assert.match(e.message, /not found/);
      return true;
    });
    assert.equal(str(await reader.read(100)), "0123456789");
  });
});

test("readuntil: consumed counts only bytes where no multi-byte separator can start", async () => {
  await asyncio.run(async () => {
    const reader = fed(["01234567SE"], { limit: 5 });
    await assert.rejects(reader.readuntil("SEP"), (e: unknown) => e instanceof asyncio.LimitOverrunError && e.consumed === 8);
    assert.equal(str(await reader.read(100)), "01234567SE");
  });
});

test("readuntil: a separator found beyond the limit throws LimitOverrunError with its position, data kept", async () => {
  await asyncio.run(async () => {
    const reader = fed(["0123456789\n"], { limit: 5 });
    await assert.rejects(reader.readuntil("\n"), (e: unknown) => {
      assert.ok(e instanceof asyncio.LimitOverrunError);
      assert.equal(e.consumed, 10);
      assert.match(e.message, /longer than limit/);
      return true;
    });
    assert.equal(str(await reader.read(100)), "0123456789\n");
  });
});

test("readuntil rejects an empty separator, an empty list and a wrong type", async () => {
  await asyncio.run(async () => {
    const reader = fed(["data"]);
    await assert.rejects(reader.readuntil(""), RangeError);
    await assert.rejects(reader.readuntil([]), RangeError);
    await assert.rejects(reader.readuntil(["a", ""]), RangeError);
    await assert.rejects(reader.readuntil(5 as unknown as string), TypeError);
  });
});

// ------------------------------------------------------------------ readexactly

test("readexactly returns exactly n bytes across chunks", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.readexactly(10));
    for (const part of ["012", "3456", "789ab"]) {
      reader.feedData(b(part));
      await asyncio.sleep(0);
    }
    assert.equal(str(await task), "0123456789");
    assert.equal(str(await reader.read(10)), "ab");
  });
});

test("readexactly(0) returns an empty buffer; a negative or fractional n is a RangeError", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    assert.equal((await reader.readexactly(0)).length, 0);
    await assert.rejects(reader.readexactly(-1), RangeError);
    await assert.rejects(reader.readexactly(0.5), RangeError);
    await assert.rejects(reader.readexactly(null as unknown as number), TypeError);
  });
});

test("readexactly: EOF in the middle throws IncompleteReadError(partial, expected) and empties the buffer", async () => {
  await asyncio.run(async () => {
    const reader = fed(["chunk"], { eof: true });
    await assert.rejects(reader.readexactly(8), (e: unknown) => {
      assert.ok(e instanceof asyncio.IncompleteReadError);
      assert.equal(str(e.partial), "chunk");
      assert.equal(e.expected, 8);
      assert.match(e.message, /5 bytes read on a total of 8 expected bytes/);
      return true;
    });
    assert.ok(reader.atEof());
  });
});

test("readexactly of more than the limit resumes a paused transport and completes", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader({ limit: 4 });
    const transport = new FakeTransport();
    reader.setTransport(transport);
    const task = asyncio.createTask(() => reader.readexactly(20));
    reader.feedData(b("0123456789"));
    assert.ok(transport.paused, "paused past twice the limit");
    await asyncio.sleep(0);
    assert.equal(transport.paused, false, "waiting for data resumes the transport");
    reader.feedData(b("abcdefghij"));
    assert.equal(str(await task), "0123456789abcdefghij");
  });
});

// ------------------------------------------------------------------ state, flow control, misuse

test("feedData pauses the transport past twice the limit and reads resume it at the limit", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader({ limit: 10 });
    const transport = new FakeTransport();
    reader.setTransport(transport);
    reader.feedData(b("x".repeat(20)));
    assert.deepEqual(transport.calls, []);
    reader.feedData(b("y"));
    assert.deepEqual(transport.calls, ["pause"]);
    await reader.read(5);
    assert.deepEqual(transport.calls, ["pause"], "16 bytes left: still over the limit");
    await reader.read(6);
    assert.deepEqual(transport.calls, ["pause", "resume"]);
  });
});

test("setTransport twice is a RuntimeError", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    reader.setTransport(new FakeTransport());
    assert.throws(() => reader.setTransport(new FakeTransport()), asyncio.RuntimeError);
  });
});

test("two reads waiting at once: the second is a RuntimeError", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const first = asyncio.createTask(() => reader.read(1));
    await asyncio.sleep(0);
    await assert.rejects(reader.readline(), (e: unknown) => e instanceof asyncio.RuntimeError && /already waiting/.test(e.message));
    reader.feedData(b("x"));
    assert.equal(str(await first), "x");
  });
});

test("feedData after feedEof is a RuntimeError; empty data is ignored", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    reader.feedData(b(""));
    assert.equal(reader.atEof(), false);
    reader.feedEof();
    assert.ok(reader.atEof());
    assert.throws(() => reader.feedData(b("late")), asyncio.RuntimeError);
    assert.throws(() => new asyncio.StreamReader().feedData(42 as unknown as Uint8Array), TypeError);
  });
});

test("atEof is true only once EOF was fed and the buffer is empty", async () => {
  await asyncio.run(async () => {
    const reader = fed(["ab"]);
    assert.equal(reader.atEof(), false);
    reader.feedEof();
    assert.equal(reader.atEof(), false);
    await reader.read(2);
    assert.equal(reader.atEof(), true);
  });
});

test("the StreamReader limit must be a positive number", async () => {
  await asyncio.run(async () => {
    assert.throws(() => new asyncio.StreamReader({ limit: 0 }), RangeError);
    assert.throws(() => new asyncio.StreamReader({ limit: -5 }), RangeError);
    assert.throws(() => new asyncio.StreamReader({ limit: "big" as unknown as number }), TypeError);
    assert.equal(new asyncio.StreamReader().limit, 65536);
  });
});

test("the reader's description shows its buffer, EOF and limit", async () => {
  await asyncio.run(async () => {
    const reader = fed(["12345"], { limit: 100, eof: true });
    assert.equal(String(reader), "<StreamReader 5 bytes eof limit=100>");
  });
});

test("a cancelled read leaves the reader usable and loses nothing", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.read(10));
    await asyncio.sleep(0);
    task.cancel();
    await assert.rejects(Promise.resolve(task), asyncio.CancelledError);
    reader.feedData(b("after"));
    assert.equal(str(await reader.read(10)), "after");
  });
});

test("a cancelled readexactly keeps the bytes received so far", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.readexactly(6));
    reader.feedData(b("abc"));
    await asyncio.sleep(0);
    task.cancel();
    await assert.rejects(Promise.resolve(task), asyncio.CancelledError);
    reader.feedData(b("def"));
    assert.equal(str(await reader.readexactly(6)), "abcdef");
  });
});

test("a cancelled readuntil keeps the partial data", async () => {
  await asyncio.run(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(() => reader.readuntil("!"));
    reader.feedData(b("hello"));
    await asyncio.sleep(0);
    task.cancel();
    await assert.rejects(Promise.resolve(task), asyncio.CancelledError);
    reader.feedData(b(" world!"));
    assert.equal(str(await reader.readuntil("!")), "hello world!");
  });
});

// ------------------------------------------------------------------ over real sockets

async function echoRoundTrip(size: number): Promise<void> {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
    const received = asyncio.createTask(() => reader.readexactly(size));
    writer.write(payload);
    await writer.drain();
    assert.ok((await received).equals(payload));
    writer.writeEof();
    assert.equal((await reader.read()).length, 0);
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
}

for (const size of [1, 2, 1023, 1024, 65535, 65536, 65537, 1 << 20, 16 << 20]) {
  test(`an echo round trip of ${size} bytes over TCP`, async () => {
    await echoRoundTrip(size);
  });
}

test("many small writes arrive in order as one stream (writelines and strings too)", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    let expected = "";
    for (let i = 0; i < 500; i++) {
      writer.write(`${i},`);
      expected += `${i},`;
    }
    writer.writelines([b("x"), "y", new Uint8Array([0x7a])]);
    expected += "xyz";
    await writer.drain();
    writer.writeEof();
    assert.equal(str(await reader.read()), expected);
    writer.close();
    await writer.waitClosed();
    server.close();
  });
});

test("writeEof half-closes: the server reads to EOF and still answers", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (reader, writer) => {
      const all = await reader.read();
      writer.write(`got ${all.length} bytes`);
      await writer.drain();
      writer.close();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    assert.equal(writer.canWriteEof(), true);
    writer.write(Buffer.alloc(100000, 1));
    writer.writeEof();
    assert.throws(() => writer.write("late"), asyncio.RuntimeError);
    assert.equal(str(await reader.read()), "got 100000 bytes");
    assert.ok(reader.atEof());
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("peer closing makes reads return the rest, then EOF", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (_reader, writer) => {
      writer.write("last words");
      writer.close();
      await writer.waitClosed();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    assert.equal(str(await reader.readuntil(" ")), "last ");
    await assert.rejects(reader.readexactly(10), (e: unknown) => e instanceof asyncio.IncompleteReadError && str(e.partial) === "words");
    assert.equal((await reader.readline()).length, 0);
    writer.close();
    await writer.waitClosed();
    server.close();
  });
});

test("connection refused rejects with Node's error, code ECONNREFUSED", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(() => {}, "127.0.0.1", 0);
    const port = portOf(server);
    server.close();
    await server.waitClosed();
    await assert.rejects(asyncio.openConnection("127.0.0.1", port), (e: unknown) => (e as { code?: string }).code === "ECONNREFUSED");
  });
});

test("a peer reset in the middle of a read rejects the read with ECONNRESET", async () => {
  await asyncio.run(async () => {
    const raw = net.createServer((sock) => {
      sock.write("partial");
      setTimeout(() => sock.resetAndDestroy(), 20);
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    try {
      const [reader, writer] = await asyncio.openConnection("127.0.0.1", (raw.address() as net.AddressInfo).port);
      const err = await reader.readexactly(100).then(
        () => null,
        (e: unknown) => e,
      );
      assert.equal((err as { code?: string }).code, "ECONNRESET");
      assert.equal((reader.exception() as { code?: string }).code, "ECONNRESET");
      await assert.rejects(writer.waitClosed(), (e: unknown) => (e as { code?: string }).code === "ECONNRESET");
      await assert.rejects(writer.drain(), (e: unknown) => (e as { code?: string }).code === "ECONNRESET");
    } finally {
      raw.close();
    }
  });
});

test("a peer reset while drain() waits rejects the drain", async () => {
  await asyncio.run(async () => {
    let peer: net.Socket | null = null;
    const raw = net.createServer((sock) => {
      sock.pause(); // never reads: the writer's buffer fills up
      peer = sock;
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    try {
      const [, writer] = await asyncio.openConnection("127.0.0.1", (raw.address() as net.AddressInfo).port);
      writer.transport.setWriteBufferLimits(1024);
      const chunk = Buffer.alloc(1 << 20);
      const writing = asyncio.createTask(async () => {
        for (;;) {
          writer.write(chunk);
          await writer.drain();
        }
      });
      await until(() => peer !== null && writer.transport.getWriteBufferSize() > 1024, "a full write buffer");
      await asyncio.sleep(0.05);
      assert.equal(writing.done(), false, "drain is waiting");
      peer!.resetAndDestroy();
      await assert.rejects(Promise.resolve(writing), (e: unknown) => ["ECONNRESET", "EPIPE"].includes((e as { code?: string }).code ?? ""));
    } finally {
      raw.close();
    }
  });
});

test("cancelling a task blocked in read leaves the stream usable", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    const blocked = asyncio.createTask(() => reader.read(100));
    await asyncio.sleep(0.01);
    blocked.cancel();
    await assert.rejects(Promise.resolve(blocked), asyncio.CancelledError);
    writer.write("still works\n");
    assert.equal(str(await reader.readline()), "still works\n");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("cancelling a task blocked in drain leaves the writer usable, and the data is still sent", async () => {
  await asyncio.run(async () => {
    const gate = asyncio.getRunningLoop().createFuture<void>();
    let total = 0;
    const server = await asyncio.startServer(async (reader, writer) => {
      await gate;
      for (;;) {
        const data = await reader.read(1 << 16);
        if (data.length === 0) break;
        total += data.length;
      }
      writer.close();
    }, "127.0.0.1", 0);
    const [, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    writer.transport.setWriteBufferLimits(1024);
    const chunk = Buffer.alloc(8 << 20);
    writer.write(chunk);
    const blocked = asyncio.createTask(() => writer.drain());
    await asyncio.sleep(0.02);
    assert.equal(blocked.done(), false);
    blocked.cancel();
    await assert.rejects(Promise.resolve(blocked), asyncio.CancelledError);
    gate.setResult();
    writer.write(chunk);
    await writer.drain();
    writer.writeEof();
    await until(() => total === 16 << 20, "the server to read everything");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("drain after the connection is closed throws ECONNRESET (Connection lost)", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    writer.close();
    assert.equal(writer.isClosing(), true);
    await assert.rejects(writer.drain(), (e: unknown) => (e as { code?: string }).code === "ECONNRESET");
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("the reader pauses a fast sender and resumes it as it reads", async () => {
  await asyncio.run(async () => {
    const size = 4 << 20;
    const server = await asyncio.startServer(async (_reader, writer) => {
      writer.write(Buffer.alloc(size, 9));
      await writer.drain();
      writer.close();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server), { limit: 1024 });
    await until(() => !writer.transport.isReading(), "the reader to pause its transport");
    let got = 0;
    for (;;) {
      const data = await reader.read(4096);
      if (data.length === 0) break;
      got += data.length;
    }
    assert.equal(got, size);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("the limit option reaches the reader: a long line is a RangeError", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (_r, writer) => {
      writer.write("a".repeat(100) + "\nshort\n");
      writer.close();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server), { limit: 10 });
    await assert.rejects(reader.readline(), RangeError);
    assert.equal(str(await reader.readline()), "short\n");
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("lines of a socket with for await", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(async (_r, writer) => {
      writer.writelines(["one\n", "two\n", "three"]);
      writer.close();
    }, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    const lines: string[] = [];
    for await (const line of reader) lines.push(str(line));
    assert.deepEqual(lines, ["one\n", "two\n", "three"]);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("getExtraInfo gives peername, sockname and the Node socket", async () => {
  await asyncio.run(async () => {
    let serverPeer: unknown;
    const server = await asyncio.startServer((_r, writer) => {
      serverPeer = writer.getExtraInfo("peername");
      writer.close();
    }, "127.0.0.1", 0);
    const [, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    const sockname = writer.getExtraInfo("sockname") as [string, number];
    assert.deepEqual(writer.getExtraInfo("peername"), ["127.0.0.1", portOf(server)]);
    assert.equal(sockname[0], "127.0.0.1");
    assert.ok(writer.getExtraInfo("socket") instanceof net.Socket);
    assert.equal(writer.getExtraInfo("peercert"), undefined);
    assert.equal(writer.getExtraInfo("nothing", "fallback"), "fallback");
    await until(() => serverPeer !== undefined, "the server handler");
    assert.deepEqual(serverPeer, sockname);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("openConnection binds to localAddr", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(echoHandler, "127.0.0.1", 0);
    const [, writer] = await asyncio.openConnection("127.0.0.1", portOf(server), { localAddr: ["127.0.0.1", 0] });
    assert.equal((writer.getExtraInfo("sockname") as [string, number])[0], "127.0.0.1");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("openConnection checks its arguments", async () => {
  await asyncio.run(async () => {
    await assert.rejects(asyncio.openConnection("127.0.0.1", "http-ish"), TypeError);
    await assert.rejects(asyncio.openConnection("127.0.0.1", 70000), RangeError);
    await assert.rejects(asyncio.openConnection("127.0.0.1", 1, { limit: 0 }), RangeError);
    await assert.rejects(asyncio.openConnection(42 as unknown as string, 1), TypeError);
    await assert.rejects(asyncio.openConnection(null, null), RangeError);
  });
});

test("streams over a Unix socket in a temporary directory", async () => {
  const path = join(tempDir(), "echo.sock");
  await asyncio.run(async () => {
    const server = await asyncio.startUnixServer(echoHandler, path);
    assert.equal(server.sockets[0]!.getsockname(), path);
    const [reader, writer] = await asyncio.openUnixConnection(path);
    writer.write("over unix\n");
    assert.equal(str(await reader.readline()), "over unix\n");
    assert.equal(writer.canWriteEof(), true);
    writer.writeEof();
    assert.equal((await reader.read()).length, 0);
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

test("a handler error in a stream server is reported and closes only that connection", async () => {
  await runRecording(async (errors) => {
    const server = await asyncio.startServer(async (reader, writer) => {
      const line = str(await reader.readline());
      if (line === "fail\n") throw new Error("handler failed");
      writer.write(`ok ${line}`);
      await writer.drain();
      await reader.read();
      writer.close();
    }, "127.0.0.1", 0);
    const [r1, w1] = await asyncio.openConnection("127.0.0.1", portOf(server));
    const [r2, w2] = await asyncio.openConnection("127.0.0.1", portOf(server));
    w1.write("fail\n");
    assert.equal((await r1.read()).length, 0, "the failing connection is closed");
    w2.write("fine\n");
    assert.equal(str(await r2.readline()), "ok fine\n");
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.message, "Unhandled exception in client_connected_cb");
    assert.equal((errors[0]!.exception as Error).message, "handler failed");
    w1.close();
    w2.close();
    server.close();
    await server.waitClosed();
  });
});

// CPython 3.13 prints the same for each: `wait_for(reader.readline(), t)` timing out cancels the read, which leaves
// the reader free for the next read and its bytes buffered.
test("a read that waitFor times out leaves the reader free for the next read, and loses no byte", async () => {
  await asyncio.testing.run(async () => {
    const reader = new asyncio.StreamReader();
    await assert.rejects(asyncio.waitFor(reader.readline(), 1), asyncio.TimeoutError);
    reader.feedData(Buffer.from("par"));
    await assert.rejects(asyncio.waitFor(reader.readline(), 1), asyncio.TimeoutError);
    asyncio.getRunningLoop().callLater(0.5, () => reader.feedData(Buffer.from("tial\nrest")));
    assert.equal(String(await asyncio.waitFor(reader.readline(), 1)), "partial\n");
    await assert.rejects(asyncio.waitFor(reader.readexactly(9), 1), asyncio.TimeoutError);
    await assert.rejects(asyncio.waitFor(reader.readuntil("!"), 1), asyncio.TimeoutError);
    reader.feedData(Buffer.from("!"));
    assert.equal(String(await asyncio.waitFor(reader.readexactly(5), 1)), "rest!");
    await assert.rejects(asyncio.waitFor(reader.read(10), 1), asyncio.TimeoutError);
    reader.feedData(Buffer.from("end"));
    reader.feedEof();
    assert.equal(String(await asyncio.waitFor(reader.read(), 1)), "end");
  });
});

/** The running loop, or the error `getRunningLoop()` threw: what a callback sees of the loop's context. */
function runningLoopOrError(): asyncio.EventLoop | string {
  try {
    return asyncio.getRunningLoop();
  } catch (e) {
    return String(e);
  }
}

/**
 * Serves one connection of protocol `factory()` on 127.0.0.1, has a raw node:net client send `data` to it, and
 * runs `check` meanwhile; then closes everything (the reader's protocol keeps a connection open after the peer's
 * EOF, as asyncio's, so the server closes its clients).
 */
async function withRawClient(factory: () => asyncio.StreamReaderProtocol, data: string, check: () => Promise<void>): Promise<void> {
  const server = await asyncio.getRunningLoop().createServer(factory, "127.0.0.1", 0);
  const client = net.connect({ port: portOf(server), host: "127.0.0.1" });
  client.on("error", () => {});
  try {
    await new Promise<void>((resolve) => client.once("connect", resolve));
    client.write(data);
    await check();
  } finally {
    client.destroy();
    server.close();
    server.closeClients();
    await server.waitClosed();
  }
}

test("a StreamReaderProtocol subclass's own dataReceived runs in the loop's context", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const seen = loop.createFuture<asyncio.EventLoop | string>();
    class Watching extends asyncio.StreamReaderProtocol {
      override dataReceived(data: Buffer): void {
        if (!seen.done()) seen.setResult(runningLoopOrError());
        super.dataReceived(data);
      }
    }
    const reader = new asyncio.StreamReader();
    await withRawClient(() => new Watching(reader), "ping", async () => {
      assert.equal(await seen, loop);
      assert.equal((await reader.read(4)).toString(), "ping");
    });
  });
});

test("a StreamReader subclass's own feedData runs in the loop's context", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const seen = loop.createFuture<asyncio.EventLoop | string>();
    class WatchingReader extends asyncio.StreamReader {
      override feedData(data: Uint8Array | string): void {
        if (!seen.done()) seen.setResult(runningLoopOrError());
        super.feedData(data);
      }
    }
    const reader = new WatchingReader();
    await withRawClient(() => new asyncio.StreamReaderProtocol(reader), "ping", async () => {
      assert.equal(await seen, loop);
      assert.equal((await reader.read(4)).toString(), "ping");
    });
  });
});

test("data fed to a reader past its EOF is a fatal error handled in the loop's context", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const handled = loop.createFuture<[asyncio.ExceptionContext, asyncio.EventLoop | string]>();
    loop.setExceptionHandler((_loop, context) => {
      if (!handled.done()) handled.setResult([context, runningLoopOrError()]);
    });
    const reader = new asyncio.StreamReader();
    reader.feedEof();
    await withRawClient(() => new asyncio.StreamReaderProtocol(reader), "late", async () => {
      const [context, running] = await handled;
      assert.equal(context.message, "Fatal error: protocol.dataReceived() call failed.");
      assert.ok(context.exception instanceof asyncio.RuntimeError);
      assert.equal((context.exception as Error).message, "feedData after feedEof");
      assert.equal(running, loop);
    });
  });
});
