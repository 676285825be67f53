// The options of one executor call: `{ fn | module, signal, timeout, transferList }`, and what crosses the boundary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as asyncio from "../src/index.js";
import { looseRejection as rejection } from "./helpers/expect.js";
import { flags, release } from "./helpers/flags.js";

const fixtures = new URL("./fixtures/worker_functions.mjs", import.meta.url);

/** Runs in a worker: waits until `sab[0]` is no longer 0 (or `ms` passed), sets `sab[1]` to 1, returns its thread id. */
function blockUntilReleased(sab: SharedArrayBuffer, ms: number): number {
  const a = new Int32Array(sab);
  Atomics.wait(a, 0, 0, ms);
  Atomics.store(a, 1, 1);
  return (globalThis as any).require("node:worker_threads").threadId;
}

/** Runs in a worker: marks `sab[index]` and returns the thread id. */
function mark(sab: SharedArrayBuffer, index: number): number {
  Atomics.store(new Int32Array(sab), index, 1);
  return (globalThis as any).require("node:worker_threads").threadId;
}

function threadId(): number {
  return (globalThis as any).require("node:worker_threads").threadId;
}

/** How many entries of `kind` `process.getActiveResourcesInfo()` lists. */
function activeCount(kind: string): number {
  return process.getActiveResourcesInfo().filter((k) => k === kind).length;
}

// ------------------------------------------------------------------ the { fn } form

test("submit accepts { fn } and runs it like the bare function", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  assert.equal(await executor.submit({ fn: (a: number, b: number) => a * b }, 6, 7), 42);
});

test("toThread accepts { fn } with options", async () => {
  const value = await asyncio.run(() => asyncio.toThread({ fn: (s: string) => s.toUpperCase(), timeout: 60 }, "abc"));
  assert.equal(value, "ABC");
});

test("runInExecutor accepts { fn } and { module, export } with options", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const signal = new AbortController().signal;
    assert.equal(await loop.runInExecutor(executor, { fn: (x: number) => x + 1, signal }, 1), 2);
    assert.equal(await loop.runInExecutor(executor, { module: fixtures, export: "fib", timeout: 60, signal }, 10), 55);
  });
});

test("null and undefined options are the same as none", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const value = await executor.submit({ fn: () => 5, signal: null, timeout: null, transferList: null });
  assert.equal(value, 5);
  assert.equal(await executor.submit({ fn: () => 6, signal: undefined, timeout: Infinity }), 6);
});

// ------------------------------------------------------------------ bad input

test("a signal that is not an AbortSignal is a TypeError thrown by submit, runInExecutor and toThread at the call", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const fake = { aborted: false, addEventListener() {}, removeEventListener() {} };
  assert.throws(() => executor.submit({ fn: () => 1, signal: fake as any }), (e: any) => e instanceof TypeError && /signal/.test(e.message));
  assert.throws(() => executor.submit({ module: fixtures, export: "fib", signal: "stop" as any }, 1), TypeError);
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.throws(() => loop.runInExecutor(executor, { fn: () => 1, signal: {} as any }), TypeError);
    assert.throws(() => asyncio.toThread({ fn: () => 1, signal: new EventTarget() as any }), /AbortSignal/);
  });
  assert.equal(executor._pool.workerCount, 0, "nothing was started for a refused call");
});

test("a timeout that is negative or not a number is refused: RangeError or TypeError", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  assert.throws(() => executor.submit({ fn: () => 1, timeout: -1 }), (e: any) => e instanceof RangeError && /timeout/.test(e.message));
  assert.throws(() => executor.submit({ fn: () => 1, timeout: Number.NaN }), RangeError);
  assert.throws(() => executor.submit({ fn: () => 1, timeout: "5" as any }), (e: any) => e instanceof TypeError && /timeout/.test(e.message));
});

test("a transferList that is not an array is a TypeError", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const buffer = new ArrayBuffer(8);
  assert.throws(() => executor.submit({ fn: () => 1, transferList: buffer as any }), (e: any) => e instanceof TypeError && /transferList/.test(e.message));
  assert.equal(buffer.byteLength, 8);
});

test("an object with both fn and module, or neither, or a fn that is not a function, is a TypeError", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  assert.throws(() => executor.submit({ fn: () => 1, module: fixtures } as any), /not both/);
  assert.throws(() => executor.submit({ timeout: 1 } as any), /function, \{ fn \} or \{ module, export \}/);
  assert.throws(() => executor.submit({ fn: "() => 1" } as any), (e: any) => e instanceof TypeError && /fn\.fn/.test(e.message));
  assert.throws(() => executor.submit({ fn: Math.max } as any), /native or bound/);
});

// ------------------------------------------------------------------ timeout

test("a running job past its timeout fails with TimeoutError and its worker is replaced", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const first = await executor.submit(threadId);
  const error = await rejection(executor.submit({ fn: blockUntilReleased, timeout: 0.2 }, sab, 30_000));
  assert.ok(error instanceof asyncio.TimeoutError);
  const second = await executor.submit(threadId);
  assert.notEqual(second, first, "a new worker runs the next job");
  assert.equal(Atomics.load(view, 1), 0, "the job was stopped before it ended");
});

test("a timeout ends a running job even when the executor abandons cancelled jobs", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, cancel: "abandon" });
  const { sab, view } = flags();
  const job = executor.submit({ fn: blockUntilReleased, timeout: 0.1 }, sab, 30_000);
  await rejection(job);
  assert.equal(job.done(), true);
  assert.equal(job.cancelled(), false, "a timed-out job failed; it was not cancelled");
  // The terminated worker is gone: shutdown does not wait for the 30 s job.
  await executor.shutdown();
  assert.equal(Atomics.load(view, 1), 0);
});

test("the TimeoutError names the function and the timeout", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab } = flags();
  const error = await rejection(executor.submit({ fn: blockUntilReleased, timeout: 0.05 }, sab, 30_000));
  assert.match(error.message, /blockUntilReleased/);
  assert.match(error.message, /0\.05 seconds/);
});

test("a queued job whose timeout passes before a worker is free fails with TimeoutError and never runs", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const blocker = executor.submit(blockUntilReleased, sab, 30_000);
  const queued = executor.submit({ fn: mark, timeout: 0.05 }, sab, 2);
  const error = await rejection(queued);
  assert.ok(error instanceof asyncio.TimeoutError);
  assert.equal(blocker.running(), true, "the job running before it was not touched");
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
  await blocker;
  await executor.shutdown();
  assert.equal(Atomics.load(view, 2), 0, "the timed-out job never ran");
});

test("a job that ends before its timeout keeps its result and leaves no timer behind", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  await executor.submit(() => 0);
  const timersBefore = activeCount("Timeout");
  const job = executor.submit({ fn: (x: number) => x * 2, timeout: 3600 }, 21);
  assert.equal(activeCount("Timeout"), timersBefore + 1, "the timeout is armed while the job runs");
  assert.equal(await job, 42);
  assert.equal(activeCount("Timeout"), timersBefore);
});

test("with runInExecutor, a timeout fails the Future with TimeoutError; the awaiting task is not cancelled", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab } = flags();
  const outcome = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const fut = loop.runInExecutor(executor, { fn: blockUntilReleased, timeout: 0.05 }, sab, 30_000);
    const error = await rejection(fut);
    return { error, cancelled: fut.cancelled(), cancelling: asyncio.currentTask()!.cancelling() };
  });
  assert.ok(outcome.error instanceof asyncio.TimeoutError);
  assert.equal(outcome.cancelled, false);
  assert.equal(outcome.cancelling, 0);
});

test("toThread with a timeout rejects with TimeoutError", async () => {
  const { sab } = flags();
  const error = await asyncio.run(() => rejection(asyncio.toThread({ fn: blockUntilReleased, timeout: 0.05 }, sab, 30_000)));
  assert.ok(error instanceof asyncio.TimeoutError);
});

test("a module function takes a timeout too", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  assert.equal(await executor.submit({ module: fixtures, export: "slowDouble", timeout: 60 }, 4), 8);
});

// ------------------------------------------------------------------ signal

test("aborting the signal of a running job rejects it with CancelledError carrying the reason's message", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab } = flags();
  const controller = new AbortController();
  const job = executor.submit({ fn: blockUntilReleased, signal: controller.signal }, sab, 30_000);
  await asyncio.run(() => asyncio.sleep(0.05));
  controller.abort(new Error("user left"));
  const error = await rejection(job);
  assert.ok(error instanceof asyncio.CancelledError);
  assert.equal(error.message, "user left");
  assert.equal(job.cancelled(), true);
});

test("an abort reason that is not an error becomes the message as a string", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab } = flags();
  const controller = new AbortController();
  const job = executor.submit({ fn: blockUntilReleased, signal: controller.signal }, sab, 30_000);
  controller.abort(404);
  assert.equal((await rejection(job)).message, "404");
});

test("the default abort reason gives its DOMException message", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab } = flags();
  const controller = new AbortController();
  const job = executor.submit({ fn: blockUntilReleased, signal: controller.signal }, sab, 30_000);
  controller.abort();
  const error = await rejection(job);
  assert.ok(error instanceof asyncio.CancelledError);
  assert.equal(error.message, new DOMException("This operation was aborted", "AbortError").message);
});

test("an abort ends the running job's worker even when the executor abandons cancelled jobs", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, cancel: "abandon" });
  const { sab, view } = flags();
  const before = await executor.submit(threadId);
  const controller = new AbortController();
  const job = executor.submit({ fn: blockUntilReleased, signal: controller.signal }, sab, 30_000);
  await asyncio.run(() => asyncio.sleep(0.05));
  assert.equal(job.running(), true);
  controller.abort("stop");
  await rejection(job);
  const after = await executor.submit(threadId);
  assert.notEqual(after, before);
  assert.equal(Atomics.load(view, 1), 0, "the job did not reach its end");
});

test("an aborted queued job never runs, and the job before it is untouched", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const blocker = executor.submit(blockUntilReleased, sab, 30_000);
  const controller = new AbortController();
  const queued = executor.submit({ fn: mark, signal: controller.signal }, sab, 2);
  controller.abort("no longer needed");
  assert.equal((await rejection(queued)).message, "no longer needed");
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
  assert.equal(typeof (await blocker), "number");
  await executor.shutdown();
  assert.equal(Atomics.load(view, 2), 0);
});

test("an already-aborted signal gives a future already cancelled, and nothing starts", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const job = executor.submit({ fn: mark, signal: AbortSignal.abort(new Error("too late")) }, sab, 0);
  assert.equal(job.cancelled(), true);
  assert.equal(job.done(), true);
  assert.equal((await rejection(job)).message, "too late");
  assert.equal(executor._pool.workerCount, 0);
  assert.equal(Atomics.load(view, 0), 0);
});

test("an already-aborted signal makes toThread reject with CancelledError without running the function", async () => {
  const { sab, view } = flags();
  const error = await asyncio.run(() => rejection(asyncio.toThread({ fn: mark, signal: AbortSignal.abort("gone") }, sab, 0)));
  assert.ok(error instanceof asyncio.CancelledError);
  assert.equal(error.message, "gone");
  assert.equal(Atomics.load(view, 0), 0);
});

test("an already-aborted signal makes runInExecutor's Future cancelled, with the reason as message", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  await asyncio.run(async () => {
    const fut = asyncio.getRunningLoop().runInExecutor(executor, { fn: () => 1, signal: AbortSignal.abort("early") });
    const error = await rejection(fut);
    assert.ok(error instanceof asyncio.CancelledError);
    assert.equal(error.message, "early");
    assert.equal(fut.cancelled(), true);
  });
});

test("an operation's abort cancels the operation, not the task awaiting it", async () => {
  const { sab } = flags();
  const outcome = await asyncio.run(async () => {
    const controller = new AbortController();
    const task = asyncio.createTask(async () => {
      try {
        await asyncio.toThread({ fn: blockUntilReleased, signal: controller.signal }, sab, 30_000);
        return "finished";
      } catch (error) {
        if (!(error instanceof asyncio.CancelledError)) throw error;
        await asyncio.sleep(0);
        return `caught ${error.message}, cancelling=${asyncio.currentTask()!.cancelling()}`;
      }
    });
    await asyncio.sleep(0.05);
    controller.abort(new Error("abandoned"));
    return await task;
  });
  assert.equal(outcome, "caught abandoned, cancelling=0");
});

test("many jobs on one signal share one abort listener, which is removed when the last of them ends", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  const controller = new AbortController();
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  process.on("warning", onWarning);
  try {
    const jobs = Array.from({ length: 50 }, (_, i) => executor.submit({ fn: (x: number) => x, signal: controller.signal }, i));
    assert.equal(getEventListeners(controller.signal, "abort").length, 1);
    const results = await Promise.all(jobs);
    assert.equal(results.reduce((a, b) => a + b, 0), (49 * 50) / 2);
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  } finally {
    process.off("warning", onWarning);
  }
  assert.deepEqual(warnings.filter((w) => w.name === "MaxListenersExceededWarning"), []);
});

test("100,000 calls on one long-lived signal keep at most one listener on it and none at the end", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const controller = new AbortController();
  const blocker = executor.submit({ fn: blockUntilReleased, signal: controller.signal }, sab, 30_000);
  let most = 0;
  for (let i = 0; i < 100_000; i++) {
    const job = executor.submit({ fn: mark, signal: controller.signal }, sab, 2);
    if (i % 10_000 === 0) most = Math.max(most, getEventListeners(controller.signal, "abort").length);
    job.cancel();
  }
  most = Math.max(most, getEventListeners(controller.signal, "abort").length);
  assert.equal(most, 1);
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
  await blocker;
  assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  assert.equal(Atomics.load(view, 2), 0, "no cancelled job ran");
});

test("100,000 calls cancelled on one long-lived signal behind a long job leave the heap as it was", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const signal = new AbortController().signal;
  const blocker = executor.submit(blockUntilReleased, sab, 30_000);
  // A job waiting in front of them: the cancelled ones are not at the head of the queue, where they would go at once.
  const waiting = executor.submit(() => "waited");
  const churn = (n: number): void => {
    for (let i = 0; i < n; i++) executor.submit({ fn: mark, signal, timeout: 3600 }, sab, 2).cancel();
  };
  churn(10_000);
  gc();
  const before = process.memoryUsage().heapUsed;
  churn(100_000);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(grown < 8 * 2 ** 20, `the heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  assert.equal(getEventListeners(signal, "abort").length, 0);
  release(view);
  await blocker;
  assert.equal(await waiting, "waited");
});

test("one abort cancels every job that uses the signal, queued and running", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  const { sab } = flags();
  const controller = new AbortController();
  const jobs = Array.from({ length: 5 }, () => executor.submit({ fn: blockUntilReleased, signal: controller.signal }, sab, 30_000));
  const other = executor.submit(() => "independent");
  controller.abort("all of them");
  const errors = await Promise.all(jobs.map(rejection));
  assert.ok(errors.every((e) => e instanceof asyncio.CancelledError && e.message === "all of them"));
  assert.equal(await other, "independent");
});

test("a job that finished is not affected by a later abort of its signal", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const controller = new AbortController();
  const job = executor.submit({ fn: () => "done", signal: controller.signal });
  assert.equal(await job, "done");
  controller.abort();
  assert.equal(job.cancelled(), false);
  assert.equal(await job, "done");
});

test("AbortSignal.timeout() stops a running job", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab } = flags();
  const error = await rejection(executor.submit({ fn: blockUntilReleased, signal: AbortSignal.timeout(50) }, sab, 30_000));
  assert.ok(error instanceof asyncio.CancelledError);
  assert.match(error.message, /timeout|aborted/i);
});

test("a cancelled, aborted or timed-out job leaves no listener, timer or busy worker behind", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  const { sab } = flags();
  const timersBefore = activeCount("Timeout");
  const controller = new AbortController();
  const aborted = executor.submit({ fn: blockUntilReleased, signal: controller.signal, timeout: 3600 }, sab, 30_000);
  const timedOut = executor.submit({ fn: blockUntilReleased, timeout: 0.05 }, sab, 30_000);
  const queued = executor.submit({ fn: blockUntilReleased, signal: controller.signal, timeout: 3600 }, sab, 30_000);
  await rejection(timedOut);
  controller.abort();
  await rejection(aborted);
  await rejection(queued);
  await executor.shutdown();
  assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  assert.equal(activeCount("Timeout"), timersBefore);
  assert.equal(activeCount("MessagePort"), 0, "no worker thread is left");
  assert.equal(executor._pool.workerCount, 0);
});

// ------------------------------------------------------------------ transferList

test("an ArrayBuffer in transferList is moved to the thread: the caller's copy is detached", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const bytes = new Uint8Array([1, 2, 3, 4]);
  const sum = await executor.submit(
    { fn: (b: ArrayBuffer) => new Uint8Array(b).reduce((s, x) => s + x, 0), transferList: [bytes.buffer] },
    bytes.buffer,
  );
  assert.equal(sum, 10);
  assert.equal(bytes.buffer.byteLength, 0, "the buffer now belongs to the worker");
});

test("without transferList the buffer is copied and stays usable", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const buffer = new Uint8Array([5, 6]).buffer;
  assert.equal(await executor.submit((b: ArrayBuffer) => b.byteLength, buffer), 2);
  assert.equal(buffer.byteLength, 2);
});

test("toThread moves the buffers of its transferList", async () => {
  const buffer = new ArrayBuffer(1024);
  const length = await asyncio.run(() => asyncio.toThread({ fn: (b: ArrayBuffer) => b.byteLength, transferList: [buffer] }, buffer));
  assert.equal(length, 1024);
  assert.equal(buffer.byteLength, 0);
});

test("a transferList holding what cannot be transferred fails the job with structuredClone's error, and the pool goes on", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const notTransferable = { some: "object" };
  let expected: any;
  try {
    structuredClone(notTransferable, { transfer: [notTransferable as any] });
  } catch (error) {
    expected = error;
  }
  assert.ok(expected instanceof Error);
  const error = await rejection(executor.submit({ fn: (x: unknown) => x, transferList: [notTransferable as any] }, notTransferable));
  assert.equal(error.name, expected.name);
  assert.equal(error.constructor, expected.constructor);
  assert.equal(await executor.submit(() => "still works"), "still works");
});

test("a buffer listed twice in transferList fails the job with DataCloneError instead of hanging", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const buffer = new ArrayBuffer(4);
  const error = await rejection(executor.submit({ fn: (b: ArrayBuffer) => b.byteLength, transferList: [buffer, buffer] }, buffer));
  assert.equal(error.name, "DataCloneError");
});

// ------------------------------------------------------------------ errors across the boundary

test("an error's cause keeps its class and fields across the boundary", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const error = await rejection(
    executor.submit(() => {
      const inner = Object.assign(new RangeError("inner"), { code: "E_INNER", detail: { n: 1 } });
      throw Object.assign(new TypeError("outer", { cause: inner }), { code: "E_OUTER" });
    }),
  );
  assert.equal(error instanceof TypeError, true);
  assert.equal(error.message, "outer");
  assert.equal(error.code, "E_OUTER");
  assert.equal(error.cause instanceof RangeError, true);
  assert.equal(error.cause.message, "inner");
  assert.equal(error.cause.code, "E_INNER");
  assert.deepEqual(error.cause.detail, { n: 1 });
});

test("an AggregateError comes back with each of its errors rebuilt", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const error = await rejection(
    executor.submit(() => {
      throw new AggregateError([new TypeError("a"), new SyntaxError("b")], "both");
    }),
  );
  assert.ok(error instanceof AggregateError);
  assert.equal(error.message, "both");
  assert.ok(error.errors[0] instanceof TypeError);
  assert.ok(error.errors[1] instanceof SyntaxError);
});

test("an error of a user class keeps its class name and own fields, also in a process", async () => {
  await using executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
  const error = await rejection(
    executor.submit(() => {
      class QuotaError extends Error {
        limit = 10;
      }
      throw new QuotaError("over quota", { cause: new Error("root") });
    }),
  );
  assert.equal(error.name, "QuotaError");
  assert.equal(error.message, "over quota");
  assert.equal(error.limit, 10);
  assert.equal(error.cause.message, "root");
});

test("jobs cancelled while queued behind a long job are not kept in the queue", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const blocker = executor.submit(blockUntilReleased, sab, 30_000);
  const controller = new AbortController();
  for (let i = 0; i < 10_000; i++) executor.submit({ fn: mark, signal: controller.signal }, sab, 2);
  const kept = executor.submit(() => "kept");
  const pool = executor._pool as any;
  // One of them was sent ahead to the busy thread; the rest wait in the queue.
  assert.equal(pool.queue.length + pool.sentAhead, 10_001);
  controller.abort();
  assert.ok(pool.queue.length < 1_000, `${pool.queue.length} jobs still queued`);
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
  await blocker;
  assert.equal(await kept, "kept");
  assert.equal(Atomics.load(view, 2), 0);
});

test("shutdown waits and ends even when the queue held only cancelled jobs when the last job finished", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const blocker = executor.submit(blockUntilReleased, sab, 30_000);
  const queued = [1, 2, 3].map(() => executor.submit(mark, sab, 2));
  for (const job of queued) job.cancel();
  const closing = executor.shutdown();
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
  await blocker;
  await closing;
  assert.equal(executor._pool.workerCount, 0);
});

// ------------------------------------------------------------------ the same options with processes

test("a ProcessPoolExecutor job past its timeout fails with TimeoutError and its process is replaced", async () => {
  await using executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
  const first = await executor.submit(() => process.pid);
  const error = await rejection(executor.submit({ fn: () => new Promise((resolve) => setTimeout(resolve, 30_000)), timeout: 0.2 }));
  assert.ok(error instanceof asyncio.TimeoutError);
  const second = await executor.submit(() => process.pid);
  assert.notEqual(second, first);
});

test("aborting the signal of a ProcessPoolExecutor job kills its process and rejects with CancelledError", async () => {
  await using executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
  const first = await executor.submit(() => process.pid);
  const controller = new AbortController();
  const job = executor.submit({ fn: () => new Promise((resolve) => setTimeout(resolve, 30_000)), signal: controller.signal });
  await asyncio.run(() => asyncio.sleep(0.1));
  controller.abort(new Error("stop the process"));
  const error = await rejection(job);
  assert.ok(error instanceof asyncio.CancelledError);
  assert.equal(error.message, "stop the process");
  assert.notEqual(await executor.submit(() => process.pid), first);
});

test("a ProcessPoolExecutor copies the buffers of a transferList and leaves the caller's intact", async () => {
  await using executor = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
  const buffer = new Uint8Array([1, 2, 3]).buffer;
  const length = await executor.submit({ fn: (b: ArrayBuffer) => b.byteLength, transferList: [buffer] }, buffer);
  assert.equal(length, 3);
  assert.equal(buffer.byteLength, 3);
});
