import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as asyncio from "../src/index.js";
import { looseRejection as rejection } from "./helpers/expect.js";

const fixtures = new URL("./fixtures/worker_functions.mjs", import.meta.url);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** Runs in a worker: counts itself in `sab[0]`, keeps the highest count seen in `sab[1]`, sleeps, leaves. */
function trackedJob(sab: SharedArrayBuffer, ms: number): number {
  const a = new Int32Array(sab);
  const now = Atomics.add(a, 0, 1) + 1;
  for (;;) {
    const seen = Atomics.load(a, 1);
    if (now <= seen || Atomics.compareExchange(a, 1, seen, now) === seen) break;
  }
  Atomics.wait(a, 3, 0, ms);
  Atomics.sub(a, 0, 1);
  return (globalThis as any).require("node:worker_threads").threadId;
}

/** Runs in a worker: sleeps `ms`, then sets `sab[index]` to 1. */
function setFlagLater(sab: SharedArrayBuffer, index: number, ms: number): number {
  const a = new Int32Array(sab);
  Atomics.wait(a, 7, 0, ms);
  Atomics.store(a, index, 1);
  return index;
}

function threadId(): number {
  return (globalThis as any).require("node:worker_threads").threadId;
}


// ------------------------------------------------------------------ results

test("runInExecutor runs a function with its arguments in a worker thread and resolves with its result", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  try {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const fut = loop.runInExecutor(executor, (a: number, b: string) => `${b}${a * 2}`, 21, "x");
      assert.ok(asyncio.isFuture(fut));
      assert.equal(await fut, "x42");
    });
  } finally {
    await executor.shutdown();
  }
});

test("toThread runs the function off the main thread and returns its result", async () => {
  const id = await asyncio.run(() => asyncio.toThread(threadId));
  assert.notEqual(id, 0);
});

test("an async function is awaited in the worker", async () => {
  const value = await asyncio.run(() =>
    asyncio.toThread(async (x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return x + 1;
    }, 41),
  );
  assert.equal(value, 42);
});

test("nested named functions and classes work inside a function sent as source", async () => {
  const value = await asyncio.run(() =>
    asyncio.toThread((n: number) => {
      function double(x: number): number {
        return x * 2;
      }
      class Box {
        constructor(readonly v: number) {}
      }
      return new Box(double(n)).v;
    }, 5),
  );
  assert.equal(value, 10);
});

test("a method written in shorthand form can be sent to a worker", async () => {
  const obj = {
    triple(x: number): number {
      return x * 3;
    },
  };
  assert.equal(await asyncio.run(() => asyncio.toThread(obj.triple, 7)), 21);
});

test("arguments and results are copied with structured clone: bytes, maps, dates and bigints survive", async () => {
  const [bytes, map, date, big] = await asyncio.run(() =>
    asyncio.toThread(
      (b: Uint8Array, m: Map<string, number>, d: Date, n: bigint) => [b.map((x) => x + 1), new Map([...m, ["z", 26]]), new Date(d.getTime() + 1000), n * 2n] as const,
      new Uint8Array([1, 2, 3]),
      new Map([["a", 1]]),
      new Date(0),
      2n ** 70n,
    ),
  );
  assert.deepEqual(Array.from(bytes), [2, 3, 4]);
  assert.deepEqual([...map], [["a", 1], ["z", 26]]);
  assert.equal(date.getTime(), 1000);
  assert.equal(big, 2n ** 71n);
});

test("require is available inside a worker function for node: modules", async () => {
  const hex = await asyncio.run(() =>
    asyncio.toThread((text: string) => (globalThis as any).require("node:crypto").createHash("sha256").update(text).digest("hex"), "abc"),
  );
  assert.equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("a function of a module runs by module URL and export name", async () => {
  const [fib, hello, doubled] = await asyncio.run(() =>
    Promise.all([
      asyncio.toThread({ module: fixtures, export: "fib" }, 20),
      asyncio.toThread({ module: fixtures.href }, "you"),
      asyncio.toThread({ module: fileURLToPath(fixtures), export: "slowDouble" }, 4),
    ]),
  );
  assert.equal(fib, 6765);
  assert.equal(hello, "hello you");
  assert.equal(doubled, 8);
});

test("a built-in module's export runs by its node: specifier", async () => {
  assert.equal(await asyncio.run(() => asyncio.toThread({ module: "node:path", export: "join" }, "a", "b")), "a/b");
});

// ------------------------------------------------------------------ errors

test("an error thrown in a worker comes back with its class, message and stack", async () => {
  const error = await asyncio.run(() =>
    rejection(
      asyncio.toThread(function explode(): never {
        throw new RangeError("out of range in the worker");
      }),
    ),
  );
  assert.ok((error as unknown) instanceof RangeError);
  assert.equal(error.message, "out of range in the worker");
  assert.match(error.stack, /^RangeError: out of range in the worker\n\s+at /);
});

test("an error of a class the caller does not have keeps the class name and its own fields", async () => {
  const error = await asyncio.run(() =>
    rejection(
      asyncio.toThread(() => {
        class QuotaError extends Error {
          code = "E_QUOTA";
          limit = 10;
        }
        throw new QuotaError("quota exceeded", { cause: new TypeError("inner") });
      }),
    ),
  );
  assert.ok((error as unknown) instanceof Error);
  assert.equal(error.name, "QuotaError");
  assert.equal(error.message, "quota exceeded");
  assert.equal(error.code, "E_QUOTA");
  assert.equal(error.limit, 10);
  assert.ok(error.cause instanceof TypeError);
  assert.equal(error.cause.message, "inner");
});

test("a value thrown that is not an Error comes back as it is", async () => {
  assert.equal(
    await asyncio.run(() =>
      rejection(
        asyncio.toThread(() => {
          throw "plain string";
        }),
      ),
    ),
    "plain string",
  );
});

test("a function that uses a variable from outside fails with a ReferenceError that explains why", async () => {
  const outside = 5;
  const error = await asyncio.run(() => rejection(asyncio.toThread(() => outside * 2)));
  assert.ok((error as unknown) instanceof ReferenceError);
  assert.match(error.message, /outside is not defined/);
  assert.match(error.message, /self|source text alone/);
  assert.match(error.stack, /source text alone/);
});

test("an error thrown by a module function comes back with its class", async () => {
  const error = await asyncio.run(() => rejection(asyncio.toThread({ module: fixtures, export: "fail" }, "nope")));
  assert.ok((error as unknown) instanceof RangeError);
  assert.equal(error.message, "nope");
});

test("a module export that is not a function fails with TypeError", async () => {
  const error = await asyncio.run(() => rejection(asyncio.toThread({ module: fixtures, export: "notAFunction" })));
  assert.ok((error as unknown) instanceof TypeError);
  assert.match(error.message, /notAFunction/);
});

test("a result that cannot be copied back fails with the worker's DataCloneError", async () => {
  const error = await asyncio.run(() => rejection(asyncio.toThread(() => () => 1)));
  assert.equal(error.name, "DataCloneError");
});

test("an argument that cannot be copied fails the call and leaves the worker usable", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  await executor.with(() =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const error = await rejection(loop.runInExecutor(executor, (f: unknown) => typeof f, () => 1));
      assert.equal(error.name, "DataCloneError");
      assert.equal(await loop.runInExecutor(executor, () => "still fine"), "still fine");
    }),
  );
});

test("a worker that exits in the middle of a job fails that job with RuntimeError and is replaced", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  await executor.with(() =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const error = await rejection(loop.runInExecutor(executor, () => process.exit(3)));
      assert.ok((error as unknown) instanceof asyncio.RuntimeError);
      assert.match(error.message, /exited with code 3/);
      assert.equal(await loop.runInExecutor(executor, () => 2 + 2), 4);
    }),
  );
});

// ------------------------------------------------------------------ bad input

test("functions that have no source, and values that are not functions, are refused with TypeError", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.throws(() => loop.runInExecutor(null, Math.max as any), (e: any) => e instanceof TypeError && /native or bound/.test(e.message));
    assert.throws(() => loop.runInExecutor(null, ((x: number) => x).bind(null) as any), TypeError);
    assert.throws(() => loop.runInExecutor(null, 42 as any), /expected `fn` to be a function/);
    assert.throws(() => asyncio.toThread("x => x" as any), TypeError);
  });
});

test("a module given by a relative path is refused with RangeError, a module of the wrong type with TypeError", async () => {
  await asyncio.run(async () => {
    assert.throws(() => asyncio.toThread({ module: "./work.js", export: "f" }), (e: any) => e instanceof RangeError && /import\.meta\.url/.test(e.message));
    assert.throws(() => asyncio.toThread({ module: 42 as any }), TypeError);
    assert.throws(() => asyncio.toThread({ module: "node:path", export: 1 as any }), TypeError);
  });
});

test("executor options are checked: maxWorkers an integer from 1 up, cancel one of two words", () => {
  assert.throws(() => new asyncio.ThreadPoolExecutor({ maxWorkers: 0 }), (e: any) => e instanceof RangeError && /maxWorkers/.test(e.message));
  assert.throws(() => new asyncio.ThreadPoolExecutor({ maxWorkers: 1.5 }), RangeError);
  assert.throws(() => new asyncio.ProcessPoolExecutor({ maxWorkers: "2" as any }), TypeError);
  assert.throws(() => new asyncio.ThreadPoolExecutor({ cancel: "kill" as any }), (e: any) => e instanceof RangeError && /cancel/.test(e.message));
  assert.throws(() => new asyncio.ThreadPoolExecutor(5 as any), TypeError);
  assert.equal(new asyncio.ThreadPoolExecutor({ maxWorkers: 3 }).maxWorkers, 3);
  assert.ok(new asyncio.ThreadPoolExecutor().maxWorkers >= 5);
});

test("runInExecutor refuses an executor without submit, and a closed loop", async () => {
  await asyncio.run(async () => {
    assert.throws(() => asyncio.getRunningLoop().runInExecutor({} as any, () => 1), TypeError);
  });
  const loop = asyncio.newEventLoop();
  loop.close();
  assert.throws(() => loop.runInExecutor(null, () => 1), asyncio.RuntimeError);
});

test("toThread outside a running loop rejects with RuntimeError", async () => {
  await assert.rejects(asyncio.toThread(() => 1), asyncio.RuntimeError);
});

test("setDefaultExecutor accepts only a ThreadPoolExecutor", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const pool = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
    assert.throws(() => loop.setDefaultExecutor(pool as any), (e: any) => e instanceof TypeError && /ThreadPoolExecutor/.test(e.message));
    assert.throws(() => loop.setDefaultExecutor(null as any), TypeError);
    await pool.shutdown();
  });
});

// ------------------------------------------------------------------ concurrency

test("no more than maxWorkers jobs run at once, and jobs use at most maxWorkers threads", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  const sab = new SharedArrayBuffer(16);
  const ids = await executor.with(() =>
    asyncio.run(() => {
      const loop = asyncio.getRunningLoop();
      return asyncio.gather(...Array.from({ length: 6 }, () => loop.runInExecutor(executor, trackedJob, sab, 50)));
    }),
  );
  const counts = new Int32Array(sab);
  assert.equal(counts[1], 2);
  assert.equal(counts[0], 0);
  assert.ok(new Set(ids).size <= 2);
});

test("with one worker, jobs run one after the other in the order they were submitted", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const sab = new SharedArrayBuffer(64);
  await executor.with(() =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const jobs = [0, 1, 2, 3].map((i) =>
        loop.runInExecutor(
          executor,
          (buf: SharedArrayBuffer, k: number) => {
            const a = new Int32Array(buf);
            const slot = Atomics.add(a, 0, 1);
            Atomics.store(a, 1 + slot, k);
          },
          sab,
          i,
        ),
      );
      await asyncio.gather(...jobs);
    }),
  );
  assert.deepEqual(Array.from(new Int32Array(sab).slice(1, 5)), [0, 1, 2, 3]);
});

test("CPU-bound work in a worker does not block the event loop: a ticker keeps ticking", async () => {
  let ticks = 0;
  await asyncio.run(async () => {
    const ticker = asyncio.createTask(async () => {
      for (;;) {
        await asyncio.sleep(0.01);
        ticks++;
      }
    });
    await asyncio.toThread(() => {
      const end = Date.now() + 400;
      let x = 0;
      while (Date.now() < end) x++;
      return x;
    });
    ticker.cancel();
  });
  assert.ok(ticks >= 5, `the ticker ticked only ${ticks} times while the worker was busy`);
});

test("the default executor is one pool per loop, made on first use and shut down by run", async () => {
  const ids = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    loop.setDefaultExecutor(new asyncio.ThreadPoolExecutor({ maxWorkers: 1 }));
    const a = await asyncio.toThread(threadId);
    const b = await loop.runInExecutor(null, threadId);
    return [a, b];
  });
  assert.equal(ids[0], ids[1]);
});

test("after shutdownDefaultExecutor, the loop refuses to run work on its default executor", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.equal(await asyncio.toThread(() => 1), 1);
    await loop.shutdownDefaultExecutor();
    assert.throws(() => loop.runInExecutor(null, () => 1), (e: any) => e instanceof asyncio.RuntimeError && /shutdown/.test(e.message));
  });
});

test("runInExecutor accepts any object whose submit returns a promise", async () => {
  const calls: unknown[][] = [];
  const inline = {
    submit(fn: (...a: any[]) => unknown, ...args: unknown[]) {
      calls.push(args);
      return Promise.resolve(fn(...args));
    },
  };
  const value = await asyncio.run(() => asyncio.getRunningLoop().runInExecutor(inline, (a: number, b: number) => a + b, 1, 2));
  assert.equal(value, 3);
  assert.deepEqual(calls, [[1, 2]]);
});

// ------------------------------------------------------------------ cancellation

test("cancelling the awaiting task stops the wait at once and leaves the job running, as Python", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const sab = new SharedArrayBuffer(32);
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const task = asyncio.createTask(() => loop.runInExecutor(executor, setFlagLater, sab, 0, 300));
    await asyncio.sleep(0.05);
    task.cancel();
    await assert.rejects(async () => await task, asyncio.CancelledError);
    assert.equal(new Int32Array(sab)[0], 0);
  });
  await executor.shutdown({ wait: true });
  assert.equal(new Int32Array(sab)[0], 1, "the abandoned job ran to its end");
});

test("with cancel: 'terminate', cancelling the awaiting task ends the worker, and the pool replaces it", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, cancel: "terminate" });
  await executor.with(() =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const first = await loop.runInExecutor(executor, threadId);
      const task = asyncio.createTask(() =>
        loop.runInExecutor(executor, () => {
          for (;;);
        }),
      );
      await asyncio.sleep(0.05);
      task.cancel();
      await assert.rejects(async () => await task, asyncio.CancelledError);
      const second = await loop.runInExecutor(executor, threadId);
      assert.notEqual(second, first);
    }),
  );
});

test("a queued job whose caller is cancelled never runs", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const sab = new SharedArrayBuffer(32);
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const busy = loop.runInExecutor(executor, setFlagLater, sab, 0, 150);
    const queued = asyncio.createTask(() => loop.runInExecutor(executor, setFlagLater, sab, 1, 0));
    await asyncio.sleep(0.02);
    queued.cancel();
    await assert.rejects(async () => await queued, asyncio.CancelledError);
    await busy;
  });
  await executor.shutdown();
  assert.deepEqual(Array.from(new Int32Array(sab).slice(0, 2)), [1, 0]);
});

test("submit returns a future whose cancel() drops a queued job but not a running one, as Python", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const sab = new SharedArrayBuffer(32);
  const running = executor.submit(setFlagLater, sab, 0, 200);
  const queued = executor.submit(setFlagLater, sab, 1, 0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(running.running(), true);
  assert.equal(queued.running(), false);
  assert.equal(queued.cancel(), true);
  assert.equal(queued.cancelled(), true);
  assert.equal(queued.done(), true);
  assert.equal(running.cancel(), false);
  assert.equal(await running, 0);
  assert.equal(running.done(), true);
  assert.equal(running.cancel(), false);
  await assert.rejects(async () => await queued, asyncio.CancelledError);
  await executor.shutdown();
  assert.deepEqual(Array.from(new Int32Array(sab).slice(0, 2)), [1, 0]);
});

test("with cancel: 'terminate', submit's cancel() stops a running job", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, cancel: "terminate" });
  const job = executor.submit(() => {
    for (;;);
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(job.cancel(), true);
  assert.equal(job.cancelled(), true);
  await assert.rejects(async () => await job, asyncio.CancelledError);
  assert.equal(await executor.submit(() => "next"), "next");
  await executor.shutdown();
});

test("a cancelled gather of executor jobs cancels each of them", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2, cancel: "terminate" });
  await executor.with(() =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const spin = (): void => {
        for (;;);
      };
      const all = asyncio.gather(loop.runInExecutor(executor, spin), loop.runInExecutor(executor, spin));
      await asyncio.sleep(0.05);
      all.cancel();
      await assert.rejects(async () => await all, asyncio.CancelledError);
    }),
  );
});

// ------------------------------------------------------------------ shutdown

test("shutdown() waits for running and queued jobs and their workers", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const sab = new SharedArrayBuffer(32);
  const a = executor.submit(setFlagLater, sab, 0, 100);
  const b = executor.submit(setFlagLater, sab, 1, 10);
  await executor.shutdown();
  assert.deepEqual(Array.from(new Int32Array(sab).slice(0, 2)), [1, 1]);
  assert.equal(a.done() && b.done(), true);
  assert.match(String(executor), /workers=0 shutdown/);
});

test("shutdown({ wait: false }) returns at once; queued jobs still run", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const sab = new SharedArrayBuffer(32);
  executor.submit(setFlagLater, sab, 0, 100);
  const queued = executor.submit(setFlagLater, sab, 1, 0);
  await executor.shutdown({ wait: false });
  assert.equal(new Int32Array(sab)[0], 0);
  assert.equal(await queued, 1);
  assert.deepEqual(Array.from(new Int32Array(sab).slice(0, 2)), [1, 1]);
});

test("shutdown({ cancelFutures: true }) cancels the queued jobs, and their awaiting tasks get CancelledError", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const sab = new SharedArrayBuffer(32);
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const running = loop.runInExecutor(executor, setFlagLater, sab, 0, 100);
    const queued = asyncio.createTask(() => loop.runInExecutor(executor, setFlagLater, sab, 1, 0));
    await asyncio.sleep(0.02);
    await executor.shutdown({ cancelFutures: true });
    assert.equal(await running, 0);
    await assert.rejects(async () => await queued, asyncio.CancelledError);
  });
  assert.deepEqual(Array.from(new Int32Array(sab).slice(0, 2)), [1, 0]);
});

test("submit after shutdown fails with RuntimeError", async () => {
  const executor = new asyncio.ThreadPoolExecutor();
  await executor.shutdown();
  assert.throws(() => executor.submit(() => 1), (e: any) => e instanceof asyncio.RuntimeError && /after shutdown/.test(e.message));
});

test("Executor.with shuts the executor down when the body ends, even when it fails", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  await assert.rejects(
    executor.with(async (ex) => {
      assert.equal(await ex.submit((x: number) => x * 2, 4), 8);
      throw new Error("body failed");
    }),
    /body failed/,
  );
  assert.throws(() => executor.submit(() => 1), asyncio.RuntimeError);
});

test("a program that uses an executor and never shuts it down still exits", async () => {
  const code = [
    `import { ThreadPoolExecutor } from ${JSON.stringify(repoRoot + "src/index.ts")};`,
    "const ex = new ThreadPoolExecutor({ maxWorkers: 2 });",
    "console.log(await ex.submit((a, b) => a + b, 2, 3));",
  ].join("\n");
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const exitCode = await new Promise((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  assert.equal(exitCode, 0);
  assert.equal(out.trim(), "5");
});

// ------------------------------------------------------------------ process pool

test("ProcessPoolExecutor runs functions in other processes", async () => {
  const executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 2 });
  await executor.with(() =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const [pid, doubled] = await loop.runInExecutor(executor, (x: number) => [process.pid, x * 2] as const, 21);
      assert.notEqual(pid, process.pid);
      assert.equal(doubled, 42);
      assert.equal(await loop.runInExecutor(executor, { module: fixtures, export: "fib" }, 15), 610);
    }),
  );
});

test("ProcessPoolExecutor sends errors back with their class and message", async () => {
  const executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
  await executor.with(() =>
    asyncio.run(async () => {
      const error = await rejection(
        asyncio.getRunningLoop().runInExecutor(executor, () => {
          throw new TypeError("wrong type in a child process");
        }),
      );
      assert.ok((error as unknown) instanceof TypeError);
      assert.equal(error.message, "wrong type in a child process");
    }),
  );
});

test("ProcessPoolExecutor uses at most maxWorkers processes, which exit on shutdown", async () => {
  const executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 2 });
  const pids = await asyncio.run(() => {
    const loop = asyncio.getRunningLoop();
    const job = (ms: number): number => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      return process.pid;
    };
    return asyncio.gather(...[60, 60, 60, 60, 60].map((ms) => loop.runInExecutor(executor, job, ms)));
  });
  assert.ok(new Set(pids).size <= 2);
  await executor.shutdown();
  for (const pid of new Set(pids)) assert.throws(() => process.kill(pid, 0), (e: any) => e.code === "ESRCH");
});

test("ProcessPoolExecutor with cancel: 'terminate' kills the worker of a cancelled job and starts another", async () => {
  const executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1, cancel: "terminate" });
  await executor.with(() =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const first = await loop.runInExecutor(executor, () => process.pid);
      const task = asyncio.createTask(() =>
        loop.runInExecutor(executor, () => {
          for (;;);
        }),
      );
      await asyncio.sleep(0.05);
      task.cancel();
      await assert.rejects(async () => await task, asyncio.CancelledError);
      const second = await loop.runInExecutor(executor, () => process.pid);
      assert.notEqual(second, first);
    }),
  );
});
