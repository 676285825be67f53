import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer, connect } from "node:net";
import { fileURLToPath } from "node:url";
import * as asyncio from "../src/index.js";
import * as testingModule from "../src/testing.js";
import { coreBodies, type CoreContext } from "./conformance/core_bodies.js";
import { isInstance, rejection } from "./helpers/expect.js";

const { VirtualEventLoop } = asyncio.testing;

const loops: [string, () => asyncio.EventLoop][] = [
  ["EventLoop", () => asyncio.newEventLoop()],
  ["VirtualEventLoop", () => new VirtualEventLoop()],
];

for (const [name, make] of loops) {
  describe(`core conformance on ${name}`, () => {
    const ctx: CoreContext = {
      run: (main) => asyncio.run(main, { loopFactory: make }),
      newLoop: make,
    };
    for (const [title, body] of Object.entries(coreBodies)) test(title, () => body(ctx));
  });
}

describe("the testing module", () => {
  test("is the same module as asyncio.testing", () => {
    assert.equal(asyncio.testing.VirtualEventLoop, testingModule.VirtualEventLoop);
    assert.equal(asyncio.testing.run, testingModule.run);
  });

  test("importing only asyncio-ts/testing gives a loop with every method of EventLoop", () => {
    // A fresh process, so that no other module of the package was imported before.
    const code = [
      'const { VirtualEventLoop } = await import("asyncio-ts/testing");',
      "const proto = Object.getPrototypeOf(VirtualEventLoop.prototype);",
      "console.log(JSON.stringify(Object.getOwnPropertyNames(proto).sort()));",
    ].join("\n");
    const child = spawnSync(process.execPath, ["--conditions=asyncio-ts-source", "--import", "tsx", "--input-type=module", "-e", code], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      encoding: "utf8",
    });
    assert.equal(child.status, 0, child.stderr);
    const expected = Object.getOwnPropertyNames(asyncio.EventLoop.prototype).sort();
    assert.ok(expected.includes("createConnection") && expected.includes("runInExecutor") && expected.includes("subprocessExec"));
    assert.deepEqual(JSON.parse(child.stdout) as string[], expected);
  });

  test("VirtualEventLoop is an EventLoop whose clock starts at 0, or at `start`", () => {
    const loop = new VirtualEventLoop();
    const other = new VirtualEventLoop({ start: 100 });
    try {
      isInstance(loop, asyncio.EventLoop);
      assert.equal(loop.time(), 0);
      assert.equal(other.time(), 100);
    } finally {
      loop.close();
      other.close();
    }
  });

  test("testing.run runs main on a VirtualEventLoop and returns its result", async () => {
    const result = await asyncio.testing.run(async () => {
      isInstance(asyncio.getRunningLoop(), VirtualEventLoop);
      return "main result";
    });
    assert.equal(result, "main result");
  });

  test("testing.run passes debug mode on", async () => {
    assert.equal(await asyncio.testing.run(async () => asyncio.getRunningLoop().getDebug(), { debug: true }), true);
  });

  test("options are checked", () => {
    assert.throws(() => new VirtualEventLoop({ idleThreshold: -1 }), RangeError);
    assert.throws(() => new VirtualEventLoop({ start: Number.NaN }), TypeError);
  });
});

describe("autojump", () => {
  test("sleep(3600) inside timeout(7200) returns at once, at virtual time 3600", async () => {
    const t0 = performance.now();
    const now = await asyncio.testing.run(async () => {
      await asyncio.timeout(7200).with(() => asyncio.sleep(3600));
      return asyncio.getRunningLoop().time();
    });
    assert.equal(now, 3600);
    // A generous bound: an hour of virtual time must not take anything like real time.
    assert.equal(performance.now() - t0 < 5000, true);
  });

  test("a one-hour timeout expires exactly at its deadline", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      isInstance(await rejection(asyncio.timeout(3600).with(() => asyncio.sleep(86400))), asyncio.TimeoutError);
      assert.equal(loop.time(), 3600);
    });
  });

  test("timers run in virtual-time order, each at its own when()", async () => {
    const seen = await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const out: [string, number][] = [];
      const done = loop.createFuture<void>();
      loop.callLater(30, () => out.push(["c", loop.time()]));
      loop.callLater(10, () => out.push(["a", loop.time()]));
      loop.callLater(20, () => out.push(["b", loop.time()]));
      loop.callLater(40, () => done.setResult());
      await done;
      return out;
    });
    assert.deepEqual(seen, [
      ["a", 10],
      ["b", 20],
      ["c", 30],
    ]);
  });

  test("TaskGroup children sleeping for hours finish in virtual time", async () => {
    const trace = await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const out: string[] = [];
      await new asyncio.TaskGroup().with((tg) => {
        for (const hours of [3, 1, 2]) {
          tg.createTask(async () => {
            await asyncio.sleep(hours * 3600);
            out.push(`${hours}h at ${loop.time()}`);
          });
        }
      });
      out.push(`group done at ${loop.time()}`);
      return out;
    });
    assert.deepEqual(trace, ["1h at 3600", "2h at 7200", "3h at 10800", "group done at 10800"]);
  });

  test("a TaskGroup under a timeout is cancelled at the deadline", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const cancelledAt: number[] = [];
      const error = await rejection(
        asyncio.timeout(60).with(() =>
          new asyncio.TaskGroup().with((tg) => {
            for (let i = 0; i < 3; i++) {
              tg.createTask(async () => {
                try {
                  await asyncio.sleep(3600);
                } finally {
                  cancelledAt.push(loop.time());
                }
              });
            }
          }),
        ),
      );
      isInstance(error, asyncio.TimeoutError);
      assert.deepEqual(cancelledAt, [60, 60, 60]);
    });
  });

  test("waitFor and wait use virtual time", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      isInstance(await rejection(asyncio.waitFor(asyncio.sleep(100), 10)), asyncio.TimeoutError);
      assert.equal(loop.time(), 10);
      const slow = asyncio.createTask(() => asyncio.sleep(50));
      const [done, pending] = await asyncio.wait([slow], { timeout: 5 });
      assert.equal(done.size + pending.size, 1);
      assert.equal(loop.time(), 15);
      await slow;
      assert.equal(loop.time(), 60);
    });
  });

  test("microtasks are drained before the clock moves", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const seen: number[] = [];
      const chatty = asyncio.createTask(async () => {
        await asyncio.sleep(1);
        // A long chain of promise jobs and process.nextTick callbacks, none of which goes through the loop.
        for (let i = 0; i < 1000; i++) await Promise.resolve();
        await new Promise<void>((resolve) => process.nextTick(resolve));
        seen.push(loop.time());
      });
      const sleeper = asyncio.createTask(async () => {
        await asyncio.sleep(2);
        seen.push(loop.time());
      });
      await asyncio.gather(chatty, sleeper);
      assert.deepEqual(seen, [1, 2]);
    });
  });

  test("Node's own timers are left alone", async () => {
    const realSetTimeout = globalThis.setTimeout;
    await asyncio.testing.run(async () => {
      assert.equal(globalThis.setTimeout, realSetTimeout);
      assert.equal(Date.now() > 0, true);
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Real time passed for the real timer (allowing Node's usual 1 ms of early firing).
      assert.equal(performance.now() - t0 >= 15, true);
    });
  });

  test("the same scenario gives the same trace twice", async () => {
    const scenario = async (): Promise<string[]> => {
      const loop = asyncio.getRunningLoop();
      const trace: string[] = [];
      let seed = 12345;
      const random = (): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const queue = new asyncio.Queue<number>(3);
      await new asyncio.TaskGroup().with((tg) => {
        for (let p = 0; p < 3; p++) {
          tg.createTask(async () => {
            for (let i = 0; i < 5; i++) {
              await asyncio.sleep(random() * 10);
              await queue.put(p * 10 + i);
              trace.push(`put ${p * 10 + i} at ${loop.time().toFixed(6)}`);
            }
          });
        }
        tg.createTask(async () => {
          for (let i = 0; i < 15; i++) {
            const item = await queue.get();
            await asyncio.sleep(random());
            trace.push(`got ${item} at ${loop.time().toFixed(6)}`);
          }
        });
      });
      return trace;
    };
    const first = await asyncio.testing.run(scenario);
    const second = await asyncio.testing.run(scenario);
    assert.equal(first.length, 30);
    assert.deepEqual(second, first);
  });
});

describe("advance", () => {
  test("with autojump off, time moves only with advance(), running what falls due", async () => {
    const loop = new VirtualEventLoop({ autojump: false });
    try {
      await loop.runUntilComplete(async () => {
        const fired: number[] = [];
        for (const d of [1, 5, 7]) loop.callLater(d, () => fired.push(loop.time()));
        const sleeper = asyncio.createTask(() => asyncio.sleep(10, "woke"));
        await asyncio.sleep(0);
        assert.equal(loop.time(), 0);
        await loop.advance(5);
        assert.equal(loop.time(), 5);
        assert.deepEqual(fired, [1, 5]);
        assert.equal(sleeper.done(), false);
        await loop.advance(5);
        assert.equal(loop.time(), 10);
        assert.deepEqual(fired, [1, 5, 7]);
        assert.equal(sleeper.done(), true);
        assert.equal(await sleeper, "woke");
        await loop.advance(0);
        assert.equal(loop.time(), 10);
      });
    } finally {
      loop.close();
    }
  });

  test("each timer's consequences run before the clock moves on", async () => {
    const loop = new VirtualEventLoop({ autojump: false });
    try {
      const trace = await loop.runUntilComplete(async () => {
        const out: string[] = [];
        asyncio.createTask(async () => {
          await asyncio.sleep(1);
          out.push(`woke at ${loop.time()}`);
          await asyncio.sleep(1);
          out.push(`woke again at ${loop.time()}`);
        });
        await loop.advance(3);
        out.push(`advanced to ${loop.time()}`);
        return out;
      });
      assert.deepEqual(trace, ["woke at 1", "woke again at 2", "advanced to 3"]);
    } finally {
      loop.close();
    }
  });

  test("advance() on a loop that is not running runs it until the target", async () => {
    const loop = new VirtualEventLoop({ autojump: false });
    try {
      let done = false;
      loop.createTask(async () => {
        await asyncio.sleep(10);
        done = true;
      });
      await loop.advance(9);
      assert.equal(done, false);
      await loop.advance(1);
      assert.equal(done, true);
      assert.equal(loop.time(), 10);
    } finally {
      loop.close();
    }
  });

  test("advance() checks its argument and refuses to overlap", async () => {
    const loop = new VirtualEventLoop({ autojump: false });
    try {
      await assert.rejects(loop.advance(-1), RangeError);
      await assert.rejects(loop.advance(Number.NaN), RangeError);
      await loop.runUntilComplete(async () => {
        const first = asyncio.ensureFuture(loop.advance(1));
        await asyncio.sleep(0);
        isInstance(await rejection(loop.advance(1)), asyncio.RuntimeError);
        await first;
        assert.equal(loop.time(), 1);
      });
    } finally {
      loop.close();
    }
  });

  test("turning autojump on lets the clock run to the next timer", async () => {
    const loop = new VirtualEventLoop({ autojump: false });
    try {
      await loop.runUntilComplete(async () => {
        const sleeper = asyncio.createTask(() => asyncio.sleep(100));
        await loop.advance(1);
        assert.equal(sleeper.done(), false);
        loop.autojump = true;
        await sleeper;
        assert.equal(loop.time(), 100);
      });
    } finally {
      loop.close();
    }
  });
});

describe("idle threshold with real I/O", () => {
  /** A TCP echo server on localhost; real I/O the virtual clock cannot see. */
  async function echoServer(): Promise<{ port: number; close: () => void }> {
    const server = createServer((socket) => socket.pipe(socket));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const address = server.address();
    assert.equal(typeof address === "object" && address !== null, true);
    return { port: (address as { port: number }).port, close: () => server.close() };
  }

  async function roundTrip(port: number): Promise<string> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write("ping");
    const [data] = await once(socket, "data");
    socket.destroy();
    return String(data);
  }

  test("with idleThreshold, the clock waits while real I/O is in flight", async () => {
    const server = await echoServer();
    try {
      await asyncio.testing.run(
        async () => {
          const loop = asyncio.getRunningLoop();
          const sleeper = asyncio.createTask(() => asyncio.sleep(1000));
          const before = loop.time();
          assert.equal(await roundTrip(server.port), "ping");
          // The round trip took real milliseconds, far below the threshold: virtual time did not move meanwhile.
          assert.equal(loop.time(), before);
          assert.equal(sleeper.done(), false);
          await sleeper;
          assert.equal(loop.time(), 1000);
        },
        { idleThreshold: 1 },
      );
    } finally {
      server.close();
    }
  });

  test("without it, the clock jumps while real I/O is still in flight", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const sleeper = asyncio.createTask(() => asyncio.sleep(1000));
      // A real 300 ms wait: the loop is idle at once, so virtual time runs ahead to the sleeper's timer.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(sleeper.done(), true);
      assert.equal(loop.time(), 1000);
    });
  });

  test("the threshold can be changed while the loop runs", async () => {
    await asyncio.testing.run(
      async () => {
        const loop = asyncio.getRunningLoop() as InstanceType<typeof VirtualEventLoop>;
        assert.equal(loop.idleThreshold, 0.5);
        loop.idleThreshold = 0;
        await asyncio.sleep(100);
        assert.equal(loop.time(), 100);
        assert.throws(() => {
          loop.idleThreshold = -1;
        }, RangeError);
      },
      { idleThreshold: 0.5 },
    );
  });
});
