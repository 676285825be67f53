// Task steps: a task runs from its start or resumption until it suspends on something not yet done (or its body
// ends), atomically, at the place CPython's ready queue gives that step; cancellation is decided when the step starts.
// Every expected order below was printed by CPython 3.13 running the same program (given or described above each
// test), except the one test that says it has no CPython counterpart.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createConnection, createServer, type AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import * as asyncio from "../src/index.js";
import { newFuture } from "./helpers/loop.js";
import { isInstance, rejection } from "./helpers/expect.js";

const thisFile = fileURLToPath(import.meta.url);

/** An async function that never suspends (Python: `async def nothing(): pass`). */
async function nothing(): Promise<void> {}

function busyWait(seconds: number): void {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    // spin
  }
}

/** Awaits `aw` and says how it ended: its value as a string, or the name of what it threw. */
async function outcome(aw: PromiseLike<unknown>): Promise<string> {
  try {
    return `value ${String(await aw)}`;
  } catch (e) {
    return (e as Error).constructor.name;
  }
}

/**
 * Awaits that never suspend, each with a fresh object made by `make` (called inside the running loop). CPython's
 * counterparts: a done future, `await nothing()`, 1000 of those, `async with lock`, `await lock.acquire()`,
 * `await q.get()` with an item, `await q.put(1)` with room, `await event.wait()` set, `await sem.acquire()`,
 * `async with sem`, `async with cond`. A settled native promise has no counterpart there; it behaves as `nothing()`.
 */
const FAST_PATHS: { name: string; make: () => unknown; run: (obj: any) => Promise<unknown> }[] = [
  {
    name: "a done Future",
    make: () => {
      const f = newFuture<number>();
      f.setResult(1);
      return f;
    },
    run: async (f: asyncio.Future<number>) => await f,
  },
  { name: "an async function that does not suspend", make: () => null, run: () => nothing() },
  { name: "a resolved promise", make: () => null, run: async () => await Promise.resolve(1) },
  {
    name: "a thousand async functions and resolved promises in a row",
    make: () => null,
    run: async () => {
      for (let i = 0; i < 500; i++) {
        await nothing();
        await Promise.resolve(i);
      }
    },
  },
  { name: "lock.with on a free lock", make: () => new asyncio.Lock(), run: (l: asyncio.Lock) => l.with(() => 1) },
  { name: "lock.acquire on a free lock", make: () => new asyncio.Lock(), run: (l: asyncio.Lock) => l.acquire() },
  {
    name: "queue.get with an item queued",
    make: () => {
      const q = new asyncio.Queue<number>();
      q.putNowait(1);
      return q;
    },
    run: (q: asyncio.Queue<number>) => q.get(),
  },
  { name: "queue.put with room", make: () => new asyncio.Queue<number>(1), run: (q: asyncio.Queue<number>) => q.put(1) },
  {
    name: "event.wait on a set event",
    make: () => {
      const e = new asyncio.Event();
      e.set();
      return e;
    },
    run: (e: asyncio.Event) => e.wait(),
  },
  { name: "semaphore.acquire with a free slot", make: () => new asyncio.Semaphore(1), run: (s: asyncio.Semaphore) => s.acquire() },
  { name: "semaphore.with with a free slot", make: () => new asyncio.Semaphore(1), run: (s: asyncio.Semaphore) => s.with(() => 1) },
  { name: "condition.with on a free lock", make: () => new asyncio.Condition(), run: (c: asyncio.Condition) => c.with(() => 1) },
];

void describe("a step runs whole: awaits that do not suspend continue it", () => {
  // CPython 3.13 prints A B C D E for the same program (tasks a, b, c created in a row; d, e woken by fd, fe).
  void test("the issue's reproduction records A B C D E, as CPython", async () => {
    const out: string[] = [];
    await asyncio.run(async () => {
      const lock = new asyncio.Lock(),
        loop = asyncio.getRunningLoop();
      asyncio.createTask(async () => {
        await nothing();
        out.push("A");
      });
      asyncio.createTask(async () => {
        await lock.with(() => out.push("B"));
      });
      asyncio.createTask(async () => {
        out.push("C");
      });
      await asyncio.sleep(0.01);
      const fd = loop.createFuture(),
        fe = loop.createFuture();
      const td = asyncio.createTask(async () => {
        await fd;
        await nothing();
        out.push("D");
      });
      const te = asyncio.createTask(async () => {
        await fe;
        out.push("E");
      });
      await asyncio.sleep(0);
      fd.setResult(null);
      fe.setResult(null);
      await asyncio.gather(td, te);
    });
    assert.deepEqual(out, ["A", "B", "C", "D", "E"]);
  });

  // CPython, for each fast path (see FAST_PATHS):
  //   a = create_task(t1()); loop.call_soon(out.append, "cb"); b = create_task(t2())
  //   t1: out.append("1a"); await <fast path>; out.append("1b")    t2: out.append("2")
  // prints ['1a', '1b', 'cb', '2'] every time.
  for (const fast of FAST_PATHS) {
    void test(`a first step that awaits ${fast.name} runs on before the callback and the task queued after it`, async () => {
      await asyncio.run(async () => {
        const loop = asyncio.getRunningLoop();
        const out: string[] = [];
        const obj = fast.make();
        const a = asyncio.createTask(async () => {
          out.push("1a");
          await fast.run(obj);
          out.push("1b");
        });
        loop.callSoon(() => out.push("cb"));
        const b = asyncio.createTask(async () => {
          out.push("2");
        });
        await asyncio.gather(a, b);
        assert.deepEqual(out, ["1a", "1b", "cb", "2"]);
      });
    });
  }

  // CPython, for each fast path: t1 awaits f1 then the fast path, t2 awaits f2; then
  //   f1.set_result(None); loop.call_soon(out.append, "cb"); f2.set_result(None)
  // prints ['1a', '1b', 'cb', '2'] every time.
  for (const fast of FAST_PATHS) {
    void test(`a resumed step that awaits ${fast.name} runs on before the callback and the wakeup queued after it`, async () => {
      await asyncio.run(async () => {
        const loop = asyncio.getRunningLoop();
        const out: string[] = [];
        const obj = fast.make();
        const f1 = newFuture(),
          f2 = newFuture();
        const a = asyncio.createTask(async () => {
          await f1;
          out.push("1a");
          await fast.run(obj);
          out.push("1b");
        });
        const b = asyncio.createTask(async () => {
          await f2;
          out.push("2");
        });
        await asyncio.sleep(0);
        f1.setResult();
        loop.callSoon(() => out.push("cb"));
        f2.setResult();
        await asyncio.gather(a, b);
        assert.deepEqual(out, ["1a", "1b", "cb", "2"]);
      });
    });
  }
});

void describe("a step takes its CPython place in the ready queue", () => {
  // CPython: t awaits fut; a callback does call_soon(cb1); fut.set_result(None); call_soon(cb2)
  // → ['cb1', 'step', 'step end', 'cb2']
  void test("a task woken by a Future runs between the callbacks scheduled before and after the wakeup", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const fut = newFuture();
      const out: string[] = [];
      const t = asyncio.createTask(async () => {
        await fut;
        out.push("step");
        await nothing();
        out.push("step end");
      });
      await asyncio.sleep(0);
      loop.callSoon(() => {
        loop.callSoon(() => out.push("cb1"));
        fut.setResult();
        loop.callSoon(() => out.push("cb2"));
      });
      await t;
      await asyncio.sleep(0);
      assert.deepEqual(out, ["cb1", "step", "step end", "cb2"]);
    });
  });

  // CPython: t1 awaits f; f.add_done_callback(cb); t2 awaits f; f.set_result(None); each task records, awaits
  // nothing(), records → ['t1 resumed', 't1 end', 'cb', 't2 resumed', 't2 end']
  void test("a Future delivers to its awaiters and done callbacks in registration order, each step whole", async () => {
    await asyncio.run(async () => {
      const f = newFuture();
      const out: string[] = [];
      const waiter = (n: string) => async () => {
        await f;
        out.push(`${n} resumed`);
        await nothing();
        out.push(`${n} end`);
      };
      const t1 = asyncio.createTask(waiter("t1"));
      await asyncio.sleep(0);
      f.addDoneCallback(() => out.push("cb"));
      const t2 = asyncio.createTask(waiter("t2"));
      await asyncio.sleep(0);
      f.setResult();
      await asyncio.gather(t1, t2);
      assert.deepEqual(out, ["t1 resumed", "t1 end", "cb", "t2 resumed", "t2 end"]);
    });
  });

  // CPython: a callback that counts itself and call_soon's itself again; each `await sleep(0)` sees the count move
  // by one: [1, 1, 1, 1, 1]
  void test("sleep(0) yields exactly one loop iteration", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      let n = 0;
      let handle: asyncio.Handle;
      const count = (): void => {
        n++;
        handle = loop.callSoon(count);
      };
      handle = loop.callSoon(count);
      await asyncio.sleep(0);
      const deltas: number[] = [];
      for (let i = 0; i < 5; i++) {
        const before = n;
        await asyncio.sleep(0);
        deltas.push(n - before);
      }
      handle.cancel();
      assert.deepEqual(deltas, [1, 1, 1, 1, 1]);
    });
  });
});

void describe("cancellation is decided when a step starts", () => {
  // CPython: t awaits fut; loop.call_soon(lambda: fut.set_result("value")); loop.call_soon(lambda: t.cancel())
  // → t gets CancelledError at `await fut`, t.cancelled() is True.
  void test("a cancel() after the Future's completion, before the step, lands at the await of that Future", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const fut = newFuture<string>();
      const out: string[] = [];
      const t = asyncio.createTask(async () => {
        try {
          out.push(`got ${await fut}`);
        } catch (e) {
          out.push(`${(e as Error).constructor.name} at await`);
          throw e;
        }
      });
      await asyncio.sleep(0);
      loop.callSoon(() => fut.setResult("value"));
      loop.callSoon(() => t.cancel());
      assert.equal(await outcome(t), "CancelledError");
      assert.deepEqual(out, ["CancelledError at await"]);
      assert.equal(t.cancelled(), true);
    });
  });

  // CPython: t = create_task(q.get()); await sleep(0); q.put_nowait("x"); t.cancel() → t cancelled, q.qsize() == 1
  void test("a get() woken by a put and cancelled before it resumed leaves the item in the queue", async () => {
    await asyncio.run(async () => {
      const q = new asyncio.Queue<string>();
      const t = asyncio.createTask(() => q.get());
      await asyncio.sleep(0);
      q.putNowait("x");
      t.cancel();
      assert.equal(await outcome(t), "CancelledError");
      assert.equal(q.qsize(), 1);
    });
  });

  // CPython: the same, with loop.call_soon(q.put_nowait, "x"); loop.call_soon(t.cancel) → q.qsize() == 1
  void test("a put and a cancel from two callbacks of one iteration leave the item in the queue", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const q = new asyncio.Queue<string>();
      const t = asyncio.createTask(() => q.get());
      await asyncio.sleep(0);
      loop.callSoon(() => q.putNowait("x"));
      loop.callSoon(() => t.cancel());
      assert.equal(await outcome(t), "CancelledError");
      assert.equal(q.qsize(), 1);
    });
  });

  // CPython: g1, g2 = two q.get() tasks; await sleep(0); q.put_nowait("y"); g1.cancel()
  // → gather(g1, g2, return_exceptions=True) == [CancelledError(''), 'y'], q.qsize() == 0
  void test("a woken get() cancelled before it resumed passes the item on to the next getter", async () => {
    await asyncio.run(async () => {
      const q = new asyncio.Queue<string>();
      const g1 = asyncio.createTask(() => q.get());
      const g2 = asyncio.createTask(() => q.get());
      await asyncio.sleep(0);
      q.putNowait("y");
      g1.cancel();
      const [r1, r2] = await asyncio.gather(g1, g2, { returnExceptions: true });
      isInstance(r1, asyncio.CancelledError);
      assert.equal(r2, "y");
      assert.equal(q.qsize(), 0);
    });
  });

  // CPython: t1 awaits f1, t2 awaits f2; one callback sets both; t1's step calls t2.cancel()
  // → ['t1 resumed', 't2 cancelled at await'], t2.cancelled() is True.
  void test("a task woken in the same iteration gets the cancel an earlier step of that iteration asked for", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const f1 = newFuture(),
        f2 = newFuture();
      const out: string[] = [];
      const t2 = asyncio.createTask(async () => {
        try {
          await f2;
          out.push("t2 resumed");
        } catch (e) {
          out.push("t2 cancelled at await");
          throw e;
        }
      });
      const t1 = asyncio.createTask(async () => {
        await f1;
        out.push("t1 resumed");
        t2.cancel();
      });
      await asyncio.sleep(0);
      loop.callSoon(() => {
        f1.setResult();
        f2.setResult();
      });
      await asyncio.gather(t1, t2, { returnExceptions: true });
      assert.deepEqual(out, ["t1 resumed", "t2 cancelled at await"]);
      assert.equal(t2.cancelled(), true);
    });
  });

  // CPython (TaskGroup with children c1: await f1; raise ValueError and c2: await f2; record): with
  //   loop.call_soon(f1.set_result, None); loop.call_soon(lambda: loop.call_soon(f2.set_result, None))
  // c1 fails in one iteration, the group's done callback cancels c2 in the next, before c2's wakeup queued behind it
  // → ['c1 resumed', 'c2 cancelled at await'], then the ExceptionGroup of the ValueError.
  void test("a TaskGroup child cancelled by its group before its wakeup ran never runs on past its await", async () => {
    const { out, messages } = await groupOfTwo((loop, f1, f2) => {
      loop.callSoon(() => f1.setResult());
      loop.callSoon(() => loop.callSoon(() => f2.setResult()));
    });
    assert.deepEqual(messages, ["boom"]);
    assert.deepEqual(out, ["c1 resumed", "c2 cancelled at await"]);
  });

  // CPython, same group with both futures set by one callback: c2's wakeup is queued before the group's done
  // callback (call_soon'd when c1 ends), so c2 does run on → ['c1 resumed', 'c2 resumed'], then the ExceptionGroup.
  void test("a TaskGroup child woken in the iteration its sibling fails runs its step, as in CPython", async () => {
    const { out, messages } = await groupOfTwo((loop, f1, f2) => {
      loop.callSoon(() => {
        f1.setResult();
        f2.setResult();
      });
    });
    assert.deepEqual(messages, ["boom"]);
    assert.deepEqual(out, ["c1 resumed", "c2 resumed"]);
  });
});

/**
 * A TaskGroup of two children: c1 awaits f1 then fails, c2 awaits f2 and records whether it ran on or was cancelled
 * at its await. `complete` sets the two Futures (after both children started). Returns what was recorded and the
 * messages of the group's ExceptionGroup.
 */
async function groupOfTwo(
  complete: (loop: asyncio.EventLoop, f1: asyncio.Future<void>, f2: asyncio.Future<void>) => void,
): Promise<{ out: string[]; messages: string[] }> {
  return asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const f1 = newFuture(),
      f2 = newFuture();
    const out: string[] = [];
    const err = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(async () => {
          await f1;
          out.push("c1 resumed");
          throw new RangeError("boom");
        });
        tg.createTask(async () => {
          try {
            await f2;
            out.push("c2 resumed");
          } catch (e) {
            out.push("c2 cancelled at await");
            throw e;
          }
        });
        await asyncio.sleep(0);
        complete(loop, f1, f2);
      }),
    );
    isInstance(err, asyncio.ExceptionGroup);
    return { out, messages: err.exceptions.map((e) => (e as Error).message) };
  });
}

void describe("a task suspended on a foreign promise never stalls the loop", () => {
  void test("other tasks keep stepping while a task waits on a Node timer's promise, and it continues after", async () => {
    await asyncio.run(async () => {
      let steps = 0;
      const spinner = asyncio.createTask(async () => {
        for (;;) {
          steps++;
          await asyncio.sleep(0);
        }
      });
      const t0 = performance.now();
      const waiter = asyncio.createTask(async () => {
        await new Promise<void>((resolve) => setTimeout(resolve, 100));
        const stepsMeanwhile = steps;
        await asyncio.sleep(0);
        return stepsMeanwhile;
      });
      const stepsMeanwhile = await waiter;
      const elapsed = performance.now() - t0;
      spinner.cancel();
      assert.equal(elapsed >= 90, true, `the waiter continued after ${elapsed} ms`);
      assert.equal(stepsMeanwhile >= 10, true, `only ${stepsMeanwhile} spinner steps ran in ${elapsed} ms`);
    });
  });

  void test("the same for timers/promises setTimeout", async () => {
    await asyncio.run(async () => {
      let steps = 0;
      const spinner = asyncio.createTask(async () => {
        for (;;) {
          steps++;
          await asyncio.sleep(0);
        }
      });
      const value = await asyncio.createTask(async () => {
        const v = await delay(50, "slept");
        return `${v} ${steps >= 10}`;
      });
      spinner.cancel();
      assert.equal(value, "slept true");
    });
  });

  // No CPython counterpart (Python has no native promises): the promise's continuation belongs to the callback
  // that resolved it, so it ends before the task step queued behind that callback starts.
  void test("a native promise resolved by a loop callback continues, through resolved awaits, before the next step", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const out: string[] = [];
      let resolve!: () => void;
      const p = new Promise<void>((r) => (resolve = r));
      const a = asyncio.createTask(async () => {
        await p;
        out.push("A1");
        await Promise.resolve();
        await nothing();
        out.push("A2");
      });
      await asyncio.sleep(0);
      loop.callSoon(() => {
        out.push("cb");
        resolve();
      });
      const b = asyncio.createTask(async () => {
        out.push("B");
      });
      await asyncio.gather(a, b);
      assert.deepEqual(out, ["cb", "A1", "A2", "B"]);
    });
  });
});

// No CPython counterpart (Python has no process.nextTick nor native promises): how the loop learns that a step is
// over. A task that suspended on our own awaitable, or whose body ended, lets the next step start without waiting for
// Node's tick queue; a task whose own code only touched a Future (`Promise.race`) keeps its step whole.
void describe("a step that suspends on asyncio-ts ends without waiting for Node's tick queue", () => {
  const SUSPENSIONS: { name: string; run: (f: asyncio.Future<void>, lock: asyncio.Lock) => Promise<unknown> }[] = [
    { name: "awaiting a pending Future", run: async (f) => await f },
    { name: "a blocked Lock.acquire()", run: async (_f, lock) => await lock.acquire() },
    { name: "sleep(0)", run: async () => await asyncio.sleep(0) },
    { name: "the body's end", run: async () => undefined },
  ];
  for (const suspension of SUSPENSIONS) {
    void test(`after ${suspension.name}, the next task's step runs before a tick the step queued`, async () => {
      await asyncio.run(async () => {
        const order: string[] = [];
        const f = newFuture<void>();
        const lock = new asyncio.Lock();
        await lock.acquire();
        const a = asyncio.createTask(async () => {
          process.nextTick(() => order.push("tick"));
          order.push("A");
          await suspension.run(f, lock);
        });
        const b = asyncio.createTask(async () => {
          order.push("B");
        });
        await b;
        assert.deepEqual(order.slice(0, 2), ["A", "B"]);
        f.setResult();
        lock.release();
        await a;
        await new Promise((resolve) => process.nextTick(resolve));
        assert.deepEqual(order.slice(0, 3), ["A", "B", "tick"]);
      });
    });
  }

  for (const where of ["first", "resumed"]) {
    void test(`a ${where} step that calls then() on a pending Future itself and runs on through resolved awaits stays whole`, async () => {
      await asyncio.run(async () => {
        const order: string[] = [];
        const f = newFuture<void>();
        const a = asyncio.createTask(async () => {
          if (where === "resumed") await asyncio.sleep(0);
          void f.then(() => order.push("then"));
          for (let i = 0; i < 20; i++) await Promise.resolve(i);
          await nothing();
          order.push("A done");
          await f;
        });
        const b = asyncio.createTask(async () => {
          if (where === "resumed") await asyncio.sleep(0);
          order.push("B");
        });
        await b;
        assert.deepEqual(order, ["A done", "B"]);
        f.setResult();
        await a;
        assert.deepEqual(order, ["A done", "B", "then"]);
      });
    });
  }

  void test("a step that calls then(cb) on a pending Future after an await that did not suspend stays whole", async () => {
    await asyncio.run(async () => {
      const order: string[] = [];
      const f = newFuture<void>();
      const a = asyncio.createTask(async () => {
        await nothing();
        await Promise.resolve();
        void f.then(() => order.push("then"));
        for (let i = 0; i < 20; i++) await Promise.resolve(i);
        order.push("A done");
        await f;
      });
      const b = asyncio.createTask(async () => {
        order.push("B");
      });
      await b;
      assert.deepEqual(order, ["A done", "B"]);
      f.setResult();
      await a;
    });
  });

  void test("a task that awaits Promise.race of pending Futures suspends there, and its step is over", async () => {
    await asyncio.run(async () => {
      const order: string[] = [];
      const f = newFuture<string>();
      const g = newFuture<string>();
      const a = asyncio.createTask(async () => {
        order.push("A");
        order.push(`A got ${await Promise.race([f, g])}`);
      });
      const b = asyncio.createTask(async () => {
        order.push("B");
        g.setResult("g");
      });
      await asyncio.gather(a, b);
      assert.deepEqual(order, ["A", "B", "A got g"]);
    });
  });

  void test("a task waiting on a foreign promise that settles through several microtasks still runs whole", async () => {
    await asyncio.run(async () => {
      const order: string[] = [];
      const a = asyncio.createTask(async () => {
        const chain = Promise.resolve().then(() => undefined).then(() => "x");
        order.push(`A ${await chain}`);
        await nothing();
        order.push("A done");
      });
      const b = asyncio.createTask(async () => {
        order.push("B");
      });
      await asyncio.gather(a, b);
      assert.deepEqual(order, ["A x", "A done", "B"]);
    });
  });
});

void describe("Node's I/O and timers are never held back long", () => {
  /** Starts `n` tasks that spin on sleep(0) forever. */
  function spinners(n: number): asyncio.Task<void>[] {
    return Array.from({ length: n }, () =>
      asyncio.createTask(async () => {
        for (;;) await asyncio.sleep(0);
      }),
    );
  }

  void test("a Node timer and a setImmediate callback run while tasks spin on sleep(0)", async () => {
    await asyncio.run(async () => {
      const spinning = spinners(3);
      await asyncio.sleep(0);
      const t0 = performance.now();
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
      const timerMs = performance.now() - t0;
      const t1 = performance.now();
      await new Promise<void>((resolve) => setImmediate(resolve));
      const immediateMs = performance.now() - t1;
      for (const t of spinning) t.cancel();
      assert.equal(timerMs < 1000, true, `setTimeout(5) took ${timerMs} ms`);
      assert.equal(immediateMs < 1000, true, `setImmediate took ${immediateMs} ms`);
    });
  });

  void test("a file read and a socket round trip complete while tasks spin on sleep(0)", async () => {
    const server = createServer((sock) => sock.pipe(sock));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await asyncio.run(async () => {
        const spinning = spinners(3);
        await asyncio.sleep(0);
        const t0 = performance.now();
        const text = await readFile(thisFile, "utf8");
        const echoed = await new Promise<string>((resolve, reject) => {
          const sock = createConnection(port, "127.0.0.1", () => sock.write("ping"));
          sock.on("error", reject);
          sock.once("data", (data) => {
            sock.destroy();
            resolve(data.toString());
          });
        });
        const ms = performance.now() - t0;
        for (const t of spinning) t.cancel();
        assert.equal(text.includes("a socket round trip"), true);
        assert.equal(echoed, "ping");
        assert.equal(ms < 5000, true, `the I/O took ${ms} ms`);
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

void describe("debug mode times a step whole; the virtual clock stands still during a step", () => {
  /** Runs `main` in debug mode with slowCallbackDuration 0.05 s and returns the "Executing ..." lines it logged. */
  async function slowLines(main: () => Promise<void>): Promise<string[]> {
    const lines: string[] = [];
    await asyncio.run(
      async () => {
        const loop = asyncio.getRunningLoop();
        loop._log = (text: string) => {
          lines.push(text);
        };
        loop.slowCallbackDuration = 0.05;
        await main();
      },
      { debug: true },
    );
    return lines.filter((l) => l.startsWith("Executing "));
  }

  /**
   * The lines about the task named `name` itself (another task's line may name it as what that task waits for; on a
   * loaded machine, the main task's own step may be slow too).
   */
  function linesOf(lines: string[], name: string): string[] {
    return lines.filter((l) => l.startsWith(`Executing <Task pending name='${name}'`) || l.startsWith(`Executing <Task finished name='${name}'`));
  }

  /** The seconds of a "took N seconds" line. */
  function took(line: string): number {
    const m = /took (\d+\.\d{3}) seconds/.exec(line);
    assert.notEqual(m, null, line);
    return Number(m![1]);
  }

  void test("busy 30 ms, an await that does not suspend, busy 30 ms: one slow step of 0.06 s, naming the task", async () => {
    const lines = await slowLines(async () => {
      await asyncio.createTask(
        async function halves() {
          busyWait(0.03);
          await nothing();
          busyWait(0.03);
        },
        { name: "two-halves" },
      );
    });
    // Timed in two halves, neither would reach the 0.05 s threshold.
    const mine = linesOf(lines, "two-halves");
    assert.equal(mine.length, 1, lines.join("\n"));
    assert.match(mine[0]!, /^Executing <Task .*name='two-halves' coro=<halves>.*> took \d+\.\d{3} seconds/);
    assert.equal(took(mine[0]!) >= 0.06, true, mine[0]);
    assert.equal(took(mine[0]!) < 5, true, mine[0]);
  });

  void test("code that runs after a foreign promise settled is timed too", async () => {
    const lines = await slowLines(async () => {
      await asyncio.createTask(
        async function afterForeign() {
          await new Promise<void>((resolve) => setTimeout(resolve, 5));
          busyWait(0.06);
          await asyncio.sleep(0);
        },
        { name: "after-foreign" },
      );
      // Time spent outside the loop's steps is reported from a setImmediate: let it run.
      await asyncio.sleep(0.02);
    });
    const mine = linesOf(lines, "after-foreign");
    assert.equal(mine.length, 1, lines.join("\n"));
    assert.equal(took(mine[0]!) >= 0.06, true, mine[0]);
  });

  void test("the virtual clock does not move during a step of thousands of settled awaits while a timer is pending", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const sleeper = asyncio.createTask(() => asyncio.sleep(5));
      await asyncio.sleep(0);
      const done = newFuture<number>();
      done.setResult(1);
      const start = loop.time();
      for (let i = 0; i < 3000; i++) {
        await Promise.resolve(i);
        await nothing();
        await done;
      }
      assert.equal(loop.time(), start);
      await sleeper;
      assert.equal(loop.time(), start + 5);
    });
  });
});

void describe("eager tasks", () => {
  // CPython 3.13: t = asyncio.Task(e(), loop=loop, eager_start=True); then a callback does
  //   call_soon(cb1); f.set_result(None); call_soon(cb2)
  // with e: record "body"; await f; record "resumed"; await nothing(); record "end"
  // → ['body', 'after Task()', 'cb1', 'resumed', 'end', 'cb2']
  void test("an eager body runs inside createTask up to a suspending await, then resumes at its place like any task", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const f = newFuture();
      const out: string[] = [];
      const t = asyncio.createTask(
        async () => {
          out.push("body");
          await f;
          out.push("resumed");
          await nothing();
          out.push("end");
        },
        { eagerStart: true },
      );
      out.push("after createTask");
      loop.callSoon(() => {
        loop.callSoon(() => out.push("cb1"));
        f.setResult();
        loop.callSoon(() => out.push("cb2"));
      });
      await t;
      await asyncio.sleep(0);
      assert.deepEqual(out, ["body", "after createTask", "cb1", "resumed", "end", "cb2"]);
    });
  });

  // CPython 3.13: loop.set_task_factory(asyncio.eager_task_factory); t2 records "body" then awaits g;
  //   loop.call_soon(g.set_result, None); loop.call_soon(t2.cancel)
  // → ['body', 'after create_task', 'cancelled at await', 't2 cancelled']
  void test("an eager task woken and then cancelled before it resumed gets CancelledError at its await", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const g = newFuture();
      const out: string[] = [];
      loop.setTaskFactory(asyncio.eagerTaskFactory);
      let t2: asyncio.Task<void>;
      try {
        t2 = asyncio.createTask(async () => {
          out.push("body");
          try {
            await g;
            out.push("resumed");
          } catch (e) {
            out.push("cancelled at await");
            throw e;
          }
        });
        out.push("after createTask");
      } finally {
        loop.setTaskFactory(null);
      }
      loop.callSoon(() => g.setResult());
      loop.callSoon(() => t2.cancel());
      if ((await outcome(t2)) === "CancelledError") out.push("t2 cancelled");
      assert.deepEqual(out, ["body", "after createTask", "cancelled at await", "t2 cancelled"]);
    });
  });
});
