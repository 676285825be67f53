// `using` / `await using`: guards of the locks and Symbol.dispose / Symbol.asyncDispose on resources.
// This file is TypeScript, so `using` is down-levelled (by esbuild through tsx), on Node 20 and on Node 24 alike;
// test/dispose_native.test.ts runs the native syntax where the runtime has it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as asyncio from "../src/index.js";
import { isInstance, rejection } from "./helpers/expect.js";

const vrun = asyncio.testing.run;

async function tick(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await asyncio.sleep(0);
}

/** A connection handler that reads to the end, then closes its side, so the server can finish closing. */
async function drainAndClose(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> {
  await reader.read().catch(() => undefined);
  writer.close();
}

function portOf(server: asyncio.Server): number {
  return (server.sockets[0]!.getsockname() as [string, number])[1];
}

describe("the dispose symbols", () => {
  test("Symbol.dispose and Symbol.asyncDispose exist, as the down-levelled `using` looks them up", () => {
    assert.equal(typeof Symbol.dispose, "symbol");
    assert.equal(typeof Symbol.asyncDispose, "symbol");
    const major = Number(process.versions.node.split(".")[0]);
    // Node 20 defines them as registered symbols; Node 24 has the standard, unregistered ones.
    if (major < 24) assert.equal(Symbol.asyncDispose, Symbol.for("nodejs.asyncDispose"));
    else assert.equal(Symbol.keyFor(Symbol.asyncDispose), undefined);
  });

  test("every disposable class keys its methods by the runtime's symbols", () => {
    const protos: [string, object][] = [
      ["Guard", asyncio.Guard.prototype],
      ["Runner", asyncio.Runner.prototype],
      ["Server", asyncio.Server.prototype],
      ["StreamWriter", asyncio.StreamWriter.prototype],
      ["BaseTransport", asyncio.BaseTransport.prototype],
      ["Process", asyncio.Process.prototype],
    ];
    for (const [name, proto] of protos) {
      assert.equal(typeof (proto as Record<symbol, unknown>)[Symbol.asyncDispose], "function", `${name}[Symbol.asyncDispose]`);
    }
    assert.equal(typeof (asyncio.EventLoop.prototype as unknown as Record<symbol, unknown>)[Symbol.dispose], "function");
    assert.equal(typeof (asyncio.Guard.prototype as unknown as Record<symbol, unknown>)[Symbol.dispose], "function");
  });
});

// ------------------------------------------------------------------ guards

describe("Lock.acquireGuard", () => {
  test("`using` holds the lock for the block and releases it at its end", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      {
        using held = await lock.acquireGuard();
        assert.equal(lock.locked(), true);
        assert.equal(held.held, true);
      }
      assert.equal(lock.locked(), false);
    }));

  test("the lock is released when the block throws", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      const body = async (): Promise<void> => {
        using _held = await lock.acquireGuard();
        throw new Error("inside");
      };
      assert.equal(((await rejection(body())) as Error).message, "inside");
      assert.equal(lock.locked(), false);
    }));

  test("`await using` releases too", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      {
        await using _held = await lock.acquireGuard();
        assert.equal(lock.locked(), true);
      }
      assert.equal(lock.locked(), false);
    }));

  test("a second dispose does nothing (the lock, taken by someone else meanwhile, stays theirs)", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      const guard = await lock.acquireGuard();
      guard[Symbol.dispose]();
      await lock.acquire();
      guard[Symbol.dispose]();
      await guard[Symbol.asyncDispose]();
      guard.release();
      assert.equal(lock.locked(), true);
      assert.equal(guard.held, false);
      lock.release();
    }));

  test("guards hand the lock on in FIFO order", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      const order: number[] = [];
      const worker = async (i: number): Promise<void> => {
        using _held = await lock.acquireGuard();
        order.push(i);
        await asyncio.sleep(1);
      };
      await asyncio.gather(...[0, 1, 2, 3].map((i) => () => worker(i)));
      assert.deepEqual(order, [0, 1, 2, 3]);
      assert.equal(lock.locked(), false);
    }));

  test("cancelled while waiting, no guard is returned and the lock is not taken", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      const task = asyncio.createTask(() => lock.acquireGuard());
      await tick();
      task.cancel();
      isInstance(await rejection(task), asyncio.CancelledError);
      lock.release();
      assert.equal(lock.locked(), false);
    }));

  test("with an aborted signal, no guard is returned", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      const controller = new AbortController();
      const p = lock.acquireGuard({ signal: controller.signal });
      await tick();
      controller.abort("stop");
      const error = await rejection(p);
      isInstance(error, asyncio.CancelledError);
      assert.equal(error.message, "stop");
      assert.deepEqual(lock.statistics(), { locked: true, waiters: 0 });
    }));
});

describe("Semaphore and BoundedSemaphore guards", () => {
  test("Semaphore.acquireGuard takes a permit and gives it back at the block's end", () =>
    vrun(async () => {
      const sem = new asyncio.Semaphore(2);
      {
        using _a = await sem.acquireGuard();
        using _b = await sem.acquireGuard();
        assert.equal(sem.statistics().value, 0);
        assert.equal(sem.locked(), true);
      }
      assert.equal(sem.statistics().value, 2);
    }));

  test("BoundedSemaphore: disposing a guard twice never releases past the bound", () =>
    vrun(async () => {
      const sem = new asyncio.BoundedSemaphore(1);
      const guard = await sem.acquireGuard();
      guard[Symbol.dispose]();
      guard[Symbol.dispose]();
      assert.equal(sem.statistics().value, 1);
    }));

  test("at most `value` guards are held at once", () =>
    vrun(async () => {
      const sem = new asyncio.Semaphore(2);
      let inside = 0;
      let most = 0;
      const worker = async (): Promise<void> => {
        using _permit = await sem.acquireGuard();
        inside++;
        most = Math.max(most, inside);
        await asyncio.sleep(1);
        inside--;
      };
      await asyncio.gather(...Array.from({ length: 6 }, () => () => worker()));
      assert.equal(most, 2);
      assert.equal(sem.statistics().value, 2);
    }));

  test("Semaphore.acquireGuard with an already-aborted signal rejects and takes nothing", () =>
    vrun(async () => {
      const sem = new asyncio.Semaphore(1);
      const controller = new AbortController();
      controller.abort();
      await rejection(sem.acquireGuard({ signal: controller.signal }));
      assert.equal(sem.statistics().value, 1);
    }));
});

describe("Guard", () => {
  test("releases through the function it was given, once: reusable by other primitives", () => {
    let released = 0;
    const guard = new asyncio.Guard(() => {
      released++;
    });
    assert.equal(guard.held, true);
    guard[Symbol.dispose]();
    guard[Symbol.dispose]();
    assert.equal(released, 1);
    assert.equal(guard.held, false);
  });

  test("a release that throws propagates from dispose, and the guard counts as released", async () => {
    const guard = new asyncio.Guard(() => {
      throw new RangeError("over");
    });
    assert.throws(() => guard[Symbol.dispose](), RangeError);
    assert.equal(guard.held, false);
    await guard[Symbol.asyncDispose]();
    const again = new asyncio.Guard(() => {
      throw new RangeError("async");
    });
    await assert.rejects(again[Symbol.asyncDispose](), RangeError);
  });

  test("a release that is not a function is a TypeError", () => {
    assert.throws(() => new asyncio.Guard(null as never), /Guard: expected `release` to be a function/);
  });
});

// ------------------------------------------------------------------ runner and loop

describe("Runner and EventLoop disposal", () => {
  test("`await using` a Runner closes it at the block's end", async () => {
    let kept: asyncio.Runner;
    {
      await using runner = new asyncio.Runner();
      kept = runner;
      assert.equal(await runner.run(async () => 5), 5);
    }
    assert.throws(() => kept.getLoop(), asyncio.RuntimeError);
  });

  test("disposing a Runner cancels the tasks it left pending", async () => {
    let leftover!: asyncio.Task<unknown>;
    {
      await using runner = new asyncio.Runner();
      await runner.run(async () => {
        leftover = asyncio.createTask(() => asyncio.sleep(3600));
      });
    }
    assert.equal(leftover.cancelled(), true);
  });

  test("`using` an EventLoop closes it at the block's end", () => {
    let kept: asyncio.EventLoop;
    {
      using loop = asyncio.newEventLoop();
      kept = loop;
      assert.equal(loop.isClosed(), false);
    }
    assert.equal(kept.isClosed(), true);
  });

  test("disposing a closed loop again does nothing", () => {
    const loop = asyncio.newEventLoop();
    loop.close();
    loop[Symbol.dispose]();
    assert.equal(loop.isClosed(), true);
  });
});

// ------------------------------------------------------------------ network resources

describe("Server, StreamWriter and transport disposal", () => {
  test("`await using` a Server closes it and waits for it to be closed", () =>
    asyncio.run(async () => {
      let kept: asyncio.Server;
      {
        await using server = await asyncio.startServer(() => {}, "127.0.0.1", 0);
        kept = server;
        assert.equal(server.isServing(), true);
      }
      assert.equal(kept.isServing(), false);
      assert.deepEqual(kept.sockets, []);
    }));

  test("`await using` a StreamWriter closes the connection and waits for it to close", () =>
    asyncio.run(async () => {
      await using server = await asyncio.startServer(async (reader, writer) => {
        await reader.read();
        writer.close();
      }, "127.0.0.1", 0);
      let kept: asyncio.StreamWriter;
      {
        const [, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
        await using w = writer;
        kept = w;
        w.write("hello");
      }
      assert.equal(kept.isClosing(), true);
      assert.equal(kept.transport.isClosing(), true);
    }));

  test("disposing a StreamWriter whose peer reset the connection does not throw", () =>
    asyncio.run(async () => {
      const sockets: net.Socket[] = [];
      const raw = net.createServer((s) => {
        sockets.push(s);
        s.once("data", () => s.resetAndDestroy());
      });
      await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
      try {
        const [reader, writer] = await asyncio.openConnection("127.0.0.1", (raw.address() as net.AddressInfo).port);
        writer.write("trigger the reset");
        const error = await rejection(reader.read());
        assert.equal((error as NodeJS.ErrnoException).code, "ECONNRESET");
        await writer[Symbol.asyncDispose]();
        assert.equal(writer.isClosing(), true);
      } finally {
        raw.close();
      }
    }));

  test("disposing a StreamWriter propagates a connection error other than a reset", () =>
    asyncio.run(async () => {
      await using server = await asyncio.startServer(drainAndClose, "127.0.0.1", 0);
      const [, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
      const protocol = (writer as unknown as { _protocol: { _getCloseWaiter: () => Promise<void> } })._protocol;
      protocol._getCloseWaiter = () => Promise.reject(Object.assign(new Error("disk on fire"), { code: "EIO" }));
      const error = await rejection(writer[Symbol.asyncDispose]());
      assert.equal((error as Error).message, "disk on fire");
      writer.transport.abort();
    }));

  test("`using` a transport closes it", () =>
    asyncio.run(async () => {
      await using server = await asyncio.startServer(drainAndClose, "127.0.0.1", 0);
      const loop = asyncio.getRunningLoop();
      let kept: asyncio.Transport;
      {
        const [transport] = await loop.createConnection(() => new asyncio.Protocol(), "127.0.0.1", portOf(server));
        using t = transport;
        kept = t;
        assert.equal(t.isClosing(), false);
      }
      assert.equal(kept.isClosing(), true);
    }));

  test("`await using` a transport closes it", () =>
    asyncio.run(async () => {
      await using server = await asyncio.startServer(drainAndClose, "127.0.0.1", 0);
      const loop = asyncio.getRunningLoop();
      const [transport] = await loop.createConnection(() => new asyncio.Protocol(), "127.0.0.1", portOf(server));
      {
        await using _t = transport;
      }
      assert.equal(transport.isClosing(), true);
    }));

  test("a transport whose close() reports the peer gone (ECONNRESET, EPIPE, ESRCH) disposes quietly", async () => {
    for (const code of ["ECONNRESET", "EPIPE", "ESRCH"]) {
      class Gone extends asyncio.BaseTransport {
        override close(): void {
          throw Object.assign(new Error(code), { code });
        }
      }
      new Gone()[Symbol.dispose]();
      await new Gone()[Symbol.asyncDispose]();
    }
  });

  test("a transport whose close() fails otherwise propagates the error", async () => {
    class Broken extends asyncio.BaseTransport {
      override close(): void {
        throw Object.assign(new Error("bad fd"), { code: "EBADF" });
      }
    }
    assert.throws(() => new Broken()[Symbol.dispose](), /bad fd/);
    await assert.rejects(new Broken()[Symbol.asyncDispose](), /bad fd/);
  });
});

// ------------------------------------------------------------------ processes

describe("Process disposal", () => {
  test("`await using` kills a child still running and waits for it", () =>
    asyncio.run(async () => {
      let kept: asyncio.Process;
      {
        await using proc = await asyncio.createSubprocessExec(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
        kept = proc;
        assert.equal(proc.returncode, null);
      }
      assert.equal(kept.returncode, -9);
    }));

  test("a child that already exited is only waited for: its exit code stays", () =>
    asyncio.run(async () => {
      let kept: asyncio.Process;
      {
        await using proc = await asyncio.createSubprocessExec(process.execPath, ["-e", "process.exit(4)"]);
        kept = proc;
        await proc.wait();
      }
      assert.equal(kept.returncode, 4);
    }));

  test("disposing twice, after the child was waited for, never throws ESRCH", () =>
    asyncio.run(async () => {
      const proc = await asyncio.createSubprocessExec(process.execPath, ["-e", "0"]);
      assert.equal(await proc.wait(), 0);
      assert.throws(() => proc.kill(), (e: unknown) => (e as NodeJS.ErrnoException).code === "ESRCH");
      await proc[Symbol.asyncDispose]();
      await proc[Symbol.asyncDispose]();
      assert.equal(proc.returncode, 0);
    }));

  test("a shell child is killed by disposal", () =>
    asyncio.run(async () => {
      const proc = await asyncio.createSubprocessShell("exec sleep 60");
      await proc[Symbol.asyncDispose]();
      assert.equal(proc.returncode, -9);
    }));
});

describe("CapacityLimiter.acquireGuard", () => {
  test("`using` borrows a token for the block and gives it back at its end", () =>
    vrun(async () => {
      const limiter = new asyncio.CapacityLimiter(2);
      {
        using token = await limiter.acquireGuard();
        assert.equal(limiter.borrowedTokens, 1);
        assert.equal(token.held, true);
      }
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("the token is given back when the block throws, and the next waiter gets it", () =>
    vrun(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      const order: string[] = [];
      const first = asyncio.createTask(async () => {
        using _token = await limiter.acquireGuard();
        order.push("first in");
        await asyncio.sleep(1);
        throw new Error("inside");
      });
      const second = asyncio.createTask(async () => {
        using _token = await limiter.acquireGuard();
        order.push("second in");
      });
      assert.equal(((await rejection(first)) as Error).message, "inside");
      await second;
      assert.deepEqual(order, ["first in", "second in"]);
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("a cancelled acquireGuard borrows nothing", () =>
    vrun(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const waiter = asyncio.createTask(() => limiter.acquireGuard());
      await tick();
      waiter.cancel();
      isInstance(await rejection(waiter), asyncio.CancelledError);
      limiter.release();
      assert.equal(limiter.borrowedTokens, 0);
      assert.equal(limiter.statistics().tasksWaiting, 0);
    }));
});
