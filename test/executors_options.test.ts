// Executor options (initializer, initargs, minWorkers, idleTimeout, maxTasksPerChild), broken pools, disposal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as asyncio from "../src/index.js";
import { looseRejection as rejection } from "./helpers/expect.js";

const fixtures = new URL("./fixtures/worker_functions.mjs", import.meta.url);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** Waits (for real, at most `ms`) until `check()` is true; fails otherwise. */
async function eventually(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail("the condition did not come true in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs in a worker: waits until `sab[0]` is no longer 0 (or `ms` passed). */
function blockUntilReleased(sab: SharedArrayBuffer, ms: number): number {
  Atomics.wait(new Int32Array(sab), 0, 0, ms);
  return (globalThis as any).require("node:worker_threads").threadId;
}

function release(sab: SharedArrayBuffer): void {
  const view = new Int32Array(sab);
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
}

function threadId(): number {
  return (globalThis as any).require("node:worker_threads").threadId;
}

/** An initializer: counts its runs in the worker and keeps its argument there. */
function initWorker(tag: string): void {
  const g = globalThis as any;
  g.__initRuns = (g.__initRuns ?? 0) + 1;
  g.__tag = tag;
}

/** A job that reports what the initializer left in its worker. */
function readInit(): { runs: number; tag: string; thread: number } {
  const g = globalThis as any;
  return { runs: g.__initRuns, tag: g.__tag, thread: g.require("node:worker_threads").threadId };
}

function failingInit(): void {
  throw new RangeError("no database");
}

/** Runs a child `node` program (TypeScript through tsx) and resolves with its exit code and output. */
function runChild(source: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", source], { cwd: repoRoot });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

// ------------------------------------------------------------------ bad options

test("minWorkers must be an integer from 0 up: RangeError, or TypeError for a non-number", () => {
  assert.throws(() => new asyncio.ThreadPoolExecutor({ minWorkers: -1 }), (e: any) => e instanceof RangeError && /minWorkers/.test(e.message));
  assert.throws(() => new asyncio.ThreadPoolExecutor({ minWorkers: 0.5 }), RangeError);
  assert.throws(() => new asyncio.ThreadPoolExecutor({ minWorkers: "1" as any }), (e: any) => e instanceof TypeError && /minWorkers/.test(e.message));
});

test("minWorkers above maxWorkers is a RangeError that names both", () => {
  assert.throws(
    () => new asyncio.ThreadPoolExecutor({ maxWorkers: 2, minWorkers: 3 }),
    (e: any) => e instanceof RangeError && /minWorkers/.test(e.message) && /maxWorkers/.test(e.message),
  );
});

test("idleTimeout must be a number of seconds from 0 up", () => {
  assert.throws(() => new asyncio.ThreadPoolExecutor({ idleTimeout: -1 }), (e: any) => e instanceof RangeError && /idleTimeout/.test(e.message));
  assert.throws(() => new asyncio.ThreadPoolExecutor({ idleTimeout: Number.NaN }), RangeError);
  assert.throws(() => new asyncio.ProcessPoolExecutor({ idleTimeout: "10" as any }), TypeError);
});

test("maxTasksPerChild below 1 is a RangeError", () => {
  for (const bad of [0, -1, 1.5]) {
    assert.throws(
      () => new asyncio.ProcessPoolExecutor({ maxTasksPerChild: bad }),
      (e: any) => e instanceof RangeError && /maxTasksPerChild/.test(e.message),
      String(bad),
    );
  }
});

test("maxTasksPerChild that is not a number is a TypeError", () => {
  assert.throws(() => new asyncio.ProcessPoolExecutor({ maxTasksPerChild: "2" as any }), TypeError);
});

test("maxTasksPerChild is refused by ThreadPoolExecutor, whose threads cannot be renewed", () => {
  assert.throws(
    () => new asyncio.ThreadPoolExecutor({ maxTasksPerChild: 2 } as any),
    (e: any) => e instanceof TypeError && /ProcessPoolExecutor only/.test(e.message),
  );
});

test("an initializer that cannot be sent to a worker is a TypeError; a relative module a RangeError", () => {
  assert.throws(() => new asyncio.ThreadPoolExecutor({ initializer: 42 as any }), (e: any) => e instanceof TypeError && /initializer/.test(e.message));
  assert.throws(() => new asyncio.ThreadPoolExecutor({ initializer: Math.random as any }), /native or bound/);
  assert.throws(() => new asyncio.ThreadPoolExecutor({ initializer: { module: "./setup.js" } }), (e: any) => e instanceof RangeError && /initializer\.module/.test(e.message));
});

test("initargs must be an array and needs an initializer", () => {
  assert.throws(() => new asyncio.ThreadPoolExecutor({ initializer: initWorker, initargs: "x" as any }), (e: any) => e instanceof TypeError && /initargs/.test(e.message));
  assert.throws(() => new asyncio.ThreadPoolExecutor({ initargs: [1] }), (e: any) => e instanceof TypeError && /without an `initializer`/.test(e.message));
});

// ------------------------------------------------------------------ initializer

test("the initializer runs once in each worker, with initargs, before the worker's first job", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2, initializer: initWorker, initargs: ["ready"] });
  const sab = new SharedArrayBuffer(4);
  // Two jobs at once occupy both workers; then more jobs on the same workers.
  const both = [executor.submit(blockUntilReleased, sab, 200), executor.submit(blockUntilReleased, sab, 200)];
  const threads = new Set(await Promise.all(both));
  assert.equal(threads.size, 2);
  const reports = await Promise.all(Array.from({ length: 6 }, () => executor.submit(readInit)));
  for (const r of reports) {
    assert.equal(r.runs, 1, "once per worker");
    assert.equal(r.tag, "ready");
    assert.ok(threads.has(r.thread));
  }
});

test("an async initializer is awaited before the first job", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({
    maxWorkers: 1,
    initializer: async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      (globalThis as any).__late = "set after the wait";
    },
    initargs: [50],
  });
  assert.equal(await executor.submit(() => (globalThis as any).__late), "set after the wait");
});

test("an initializer may be a module function", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, initializer: { module: fixtures, export: "setup" }, initargs: [{ db: "x" }] });
  assert.deepEqual(await executor.submit({ module: fixtures, export: "readSetup" }), { db: "x" });
});

test("a worker that replaces a terminated one runs the initializer too", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, cancel: "terminate", initializer: initWorker, initargs: ["again"] });
  const first = await executor.submit(readInit);
  const job = executor.submit(blockUntilReleased, new SharedArrayBuffer(4), 30_000);
  await eventually(() => job.running());
  assert.equal(job.cancel(), true);
  const second = await executor.submit(readInit);
  assert.notEqual(second.thread, first.thread);
  assert.deepEqual([second.runs, second.tag], [1, "again"]);
});

test("an initializer that throws fails the pending job with BrokenThreadPool whose cause is its error", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, initializer: failingInit });
  const error = await rejection(executor.submit(() => 1));
  assert.ok(error instanceof asyncio.BrokenThreadPool);
  assert.ok(error instanceof asyncio.BrokenExecutor);
  assert.ok(error.cause instanceof RangeError);
  assert.equal(error.cause.message, "no database");
});

test("after an initializer failed, every queued job fails with BrokenThreadPool", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, initializer: failingInit });
  const jobs = Array.from({ length: 5 }, (_, i) => executor.submit((x: number) => x, i));
  const errors = await Promise.all(jobs.map(rejection));
  for (const e of errors) {
    assert.equal(e instanceof asyncio.BrokenThreadPool, true);
    assert.equal(e.cause.message, "no database");
  }
});

test("submit on a broken pool throws BrokenThreadPool at once, with the initializer's error as cause", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, initializer: failingInit });
  await rejection(executor.submit(() => 1));
  assert.throws(
    () => executor.submit(() => 2),
    (e: any) => e instanceof asyncio.BrokenThreadPool && (e.cause as unknown) instanceof RangeError && /initializer failed/.test(e.message),
  );
  assert.match(String(executor), /broken/);
});

test("runInExecutor on a broken pool throws BrokenThreadPool synchronously, toThread rejects with it", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, initializer: failingInit });
  await rejection(executor.submit(() => 1));
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.throws(() => loop.runInExecutor(executor, () => 1), asyncio.BrokenThreadPool);
    loop.setDefaultExecutor(executor);
    await assert.rejects(asyncio.toThread(() => 1), asyncio.BrokenThreadPool);
  });
});

test("with minWorkers, a failing initializer breaks the pool before any job is submitted", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2, minWorkers: 2, initializer: failingInit });
  await eventually(() => executor._pool.isBroken);
  assert.throws(() => executor.submit(() => 1), asyncio.BrokenThreadPool);
  await eventually(() => executor._pool.workerCount === 0);
});

test("initargs that cannot be copied break the pool, the copy error as cause", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, initializer: initWorker, initargs: [() => 1] });
  const error = await rejection(executor.submit(() => 1));
  assert.equal(error instanceof asyncio.BrokenThreadPool, true);
  assert.equal(error.cause.name, "DataCloneError");
});

test("a broken pool still shuts down, and its workers exit", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2, initializer: failingInit });
  await rejection(executor.submit(() => 1));
  await executor.shutdown();
  assert.equal(executor._pool.workerCount, 0);
  assert.equal(executor._pool.isShutdown, true);
});

test("a job running in a healthy worker when another worker's initializer fails still finishes", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({
    maxWorkers: 2,
    // The first worker's initializer succeeds, the second one's fails.
    initializer: (sab: SharedArrayBuffer) => {
      if (Atomics.add(new Int32Array(sab), 0, 1) === 1) throw new Error("second worker");
    },
    initargs: [new SharedArrayBuffer(4)],
  });
  // The first worker starts and passes its initializer; only then is a second one needed.
  await executor.submit(() => 0);
  const gate = new SharedArrayBuffer(4);
  const first = executor.submit(blockUntilReleased, gate, 30_000);
  await eventually(() => first.running());
  const second = executor.submit(() => "never");
  assert.ok((await rejection(second)) instanceof asyncio.BrokenThreadPool);
  release(gate);
  assert.equal(typeof (await first), "number");
});

test("the Broken classes extend RuntimeError as in concurrent.futures, and carry their names", () => {
  const t = new asyncio.BrokenThreadPool("t");
  const p = new asyncio.BrokenProcessPool("p", { cause: new Error("c") });
  assert.ok(t instanceof asyncio.BrokenExecutor && t instanceof asyncio.RuntimeError && t instanceof Error);
  assert.ok(p instanceof asyncio.BrokenExecutor && !(p instanceof asyncio.BrokenThreadPool));
  assert.deepEqual([t.name, p.name, new asyncio.BrokenExecutor().name], ["BrokenThreadPool", "BrokenProcessPool", "BrokenExecutor"]);
  assert.equal((p.cause as Error).message, "c");
});

test("ProcessPoolExecutor runs its initializer in each process", async () => {
  await using executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1, initializer: (n: number) => ((globalThis as any).__n = n * 2), initargs: [21] });
  assert.deepEqual(await executor.submit(() => [(globalThis as any).__n, process.pid !== undefined]), [42, true]);
});

test("a ProcessPoolExecutor whose initializer throws is broken: BrokenProcessPool, cause kept", async () => {
  await using executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1, initializer: { module: fixtures, export: "failSetup" }, initargs: ["bad config"] });
  const error = await rejection(executor.submit(() => 1));
  assert.equal(error instanceof asyncio.BrokenProcessPool, true);
  assert.equal(error.cause instanceof TypeError, true);
  assert.equal(error.cause.message, "bad config");
  assert.throws(() => executor.submit(() => 1), asyncio.BrokenProcessPool);
});

// ------------------------------------------------------------------ minWorkers and idleTimeout

test("minWorkers workers start with the executor, before any job", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 4, minWorkers: 3 });
  assert.equal(executor._pool.workerCount, 3);
});

test("without minWorkers no worker starts until a job comes", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 4 });
  assert.equal(executor._pool.workerCount, 0);
  await executor.submit(() => 1);
  assert.equal(executor._pool.workerCount, 1);
});

test("the first job runs on a worker started ahead of time", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, minWorkers: 1 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  await executor.submit(() => 1);
  assert.equal(executor._pool.workerCount, 1, "no second worker was needed");
});

test("workers started by minWorkers do not keep Node alive", async () => {
  const { code, out } = await runChild(
    `import * as asyncio from "./src/index.ts";
     const ex = new asyncio.ThreadPoolExecutor({ maxWorkers: 2, minWorkers: 2 });
     console.log(await ex.submit(() => "ran"));`,
  );
  assert.equal(code, 0, out);
  assert.match(out, /ran/);
});

test("workers idle for idleTimeout seconds exit, down to minWorkers", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 3, minWorkers: 1, idleTimeout: 0.05 });
  const sab = new SharedArrayBuffer(4);
  await Promise.all([0, 1, 2].map(() => executor.submit(blockUntilReleased, sab, 100)));
  await eventually(() => executor._pool.workerCount === 1);
  assert.equal(await executor.submit(() => "after"), "after");
});

test("idleTimeout: 0 retires an extra worker as soon as it is idle", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2, idleTimeout: 0 });
  await executor.submit(() => 1);
  await eventually(() => executor._pool.workerCount === 0);
});

test("without idleTimeout idle workers stay", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  const sab = new SharedArrayBuffer(4);
  await Promise.all([executor.submit(blockUntilReleased, sab, 50), executor.submit(blockUntilReleased, sab, 50)]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(executor._pool.workerCount, 2);
});

test("a worker that gets work again before idleTimeout is reused, not retired", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, idleTimeout: 3600 });
  const a = await executor.submit(threadId);
  const b = await executor.submit(threadId);
  assert.equal(a, b);
  assert.equal(executor._pool.workerCount, 1);
});

test("minWorkers is kept after a worker is terminated", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2, minWorkers: 2, cancel: "terminate" });
  const job = executor.submit(blockUntilReleased, new SharedArrayBuffer(4), 30_000);
  await eventually(() => job.running());
  job.cancel();
  assert.equal(executor._pool.workerCount, 2, "a replacement starts at once");
});

// ------------------------------------------------------------------ maxTasksPerChild

test("with maxTasksPerChild a worker process is replaced after that many jobs", async () => {
  await using executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1, maxTasksPerChild: 2 });
  const pids: number[] = [];
  for (let i = 0; i < 4; i++) pids.push(await executor.submit(() => process.pid));
  assert.equal(pids[0], pids[1]);
  assert.equal(pids[2], pids[3]);
  assert.notEqual(pids[1], pids[2]);
});

test("maxTasksPerChild: null is the same as no limit", async () => {
  await using executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1, maxTasksPerChild: null });
  const a = await executor.submit(() => process.pid);
  const b = await executor.submit(() => process.pid);
  assert.equal(a, b);
});

// ------------------------------------------------------------------ disposal

test("Symbol.asyncDispose shuts the executor down and waits for its jobs and workers", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  const job = executor.submit(async (ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return "finished";
  }, 50);
  await executor[Symbol.asyncDispose]();
  assert.equal(job.done(), true);
  assert.equal(await job, "finished");
  assert.equal(executor._pool.workerCount, 0);
  assert.throws(() => executor.submit(() => 1), asyncio.RuntimeError);
});

test("await using shuts the executor down at the end of the block", async () => {
  let seen: asyncio.ThreadPoolExecutor | undefined;
  {
    await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
    seen = executor;
    assert.equal(await executor.submit(() => 7), 7);
  }
  assert.equal(seen._pool.isShutdown, true);
  assert.equal(seen._pool.workerCount, 0);
});

test("disposing twice, or after shutdown, resolves", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  await executor.submit(() => 1);
  await executor.shutdown();
  await executor[Symbol.asyncDispose]();
  await executor[Symbol.asyncDispose]();
  assert.equal(executor._pool.workerCount, 0);
});

test("disposing a ProcessPoolExecutor whose worker was already killed does not throw", async () => {
  const executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
  const pid = await executor.submit(() => process.pid);
  process.kill(pid, "SIGKILL");
  await executor[Symbol.asyncDispose]();
  assert.equal(executor._pool.workerCount, 0);
});

test("ProcessPoolExecutor works when the IPC channel has no ref or unref (as on Bun)", async () => {
  const executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1, minWorkers: 1 });
  const pool = executor._pool as any;
  for (const worker of pool.workers) {
    const real = worker.child;
    // The same child, seen through a runtime whose ChildProcess and channel lack ref/unref.
    worker.child = new Proxy(real, {
      get(target, prop) {
        if (prop === "channel") return {};
        if (prop === "ref" || prop === "unref") return undefined;
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
  // Without ref() nothing keeps this Node alive while the job runs; a timer stands in for the runtime's own liveness.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    assert.equal(await executor.submit((x: number) => x * 3, 5), 15);
    assert.equal(await executor.submit((x: number) => x * 3, 6), 18);
  } finally {
    await executor.shutdown();
    clearInterval(keepAlive);
  }
});
