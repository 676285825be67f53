// A busy thread is sent its next job before its current one ends (worker_pool.ts, "sent ahead"): the job still runs
// once, after the one before it, and goes elsewhere, or nowhere, when the pool takes it back.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as asyncio from "../src/index.js";
import { looseRejection as rejection } from "./helpers/expect.js";
import { flags, release } from "./helpers/flags.js";

/** Runs in a worker: waits until `sab[0]` is no longer 0 (or `ms` passed), returns its thread id. */
function blockUntilReleased(sab: SharedArrayBuffer, ms: number): number {
  Atomics.wait(new Int32Array(sab), 0, 0, ms);
  return (globalThis as any).require("node:worker_threads").threadId;
}

/** Runs in a worker: adds 1 to `sab[index]` and returns the thread id. */
function mark(sab: SharedArrayBuffer, index: number): number {
  Atomics.add(new Int32Array(sab), index, 1);
  return (globalThis as any).require("node:worker_threads").threadId;
}

/** The pool's inside, for the checks that a job was really sent ahead. */
function poolOf(executor: asyncio.ThreadPoolExecutor): { sentAhead: number; queue: { length: number } } {
  return executor._pool as any;
}

test("a job sent ahead to a busy thread starts only after the thread's current job ends, async jobs included", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const sab = new SharedArrayBuffer(64);
  // Each job counts itself in sab[0] while it runs, keeps the highest count in sab[1] and its turn in sab[2 + k].
  const job = async (buf: SharedArrayBuffer, k: number): Promise<void> => {
    const a = new Int32Array(buf);
    const now = Atomics.add(a, 0, 1) + 1;
    if (now > Atomics.load(a, 1)) Atomics.store(a, 1, now);
    await new Promise((resolve) => setTimeout(resolve, 20));
    Atomics.store(a, 2 + k, Atomics.add(a, 15, 1) + 1);
    Atomics.sub(a, 0, 1);
  };
  const jobs = [0, 1, 2, 3].map((k) => executor.submit(job, sab, k));
  assert.equal(poolOf(executor).sentAhead, 1);
  await Promise.all(jobs);
  const a = new Int32Array(sab);
  assert.equal(a[1], 1, "two jobs ran at once in one thread");
  assert.deepEqual(Array.from(a.slice(2, 6)), [1, 2, 3, 4]);
});

test("a job sent ahead to a busy thread moves to a worker that becomes idle", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  const { sab, view } = flags();
  const long = executor.submit(blockUntilReleased, sab, 30_000);
  const short = executor.submit(mark, sab, 2);
  const waiting = executor.submit(mark, sab, 3);
  assert.equal(poolOf(executor).sentAhead, 1);
  const shortThread = await short;
  // The long job still blocks its thread: the waiting job must have left it for the other one.
  assert.equal(await waiting, shortThread);
  assert.equal(poolOf(executor).sentAhead, 0);
  release(view);
  assert.notEqual(await long, shortThread);
  assert.deepEqual([view[2], view[3]], [1, 1]);
});

test("cancel() of a job sent ahead drops it: it never runs, and its thread is kept", async () => {
  for (const cancel of ["abandon", "terminate"] as const) {
    await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, cancel });
    const { sab, view } = flags();
    const long = executor.submit(blockUntilReleased, sab, 30_000);
    const ahead = executor.submit(mark, sab, 2);
    assert.equal(poolOf(executor).sentAhead, 1);
    assert.equal(ahead.running(), false);
    assert.equal(ahead.cancel(), true, cancel);
    assert.equal(ahead.cancelled(), true);
    await assert.rejects(async () => await ahead, asyncio.CancelledError);
    release(view);
    const thread = await long;
    assert.equal(await executor.submit(mark, sab, 3), thread, `${cancel}: the thread was replaced`);
    assert.deepEqual([view[2], view[3]], [0, 1], cancel);
  }
});

test("a job sent ahead that times out fails with TimeoutError, never runs, and the job before it finishes", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const long = executor.submit(blockUntilReleased, sab, 30_000);
  const ahead = executor.submit({ fn: mark, timeout: 0.05 }, sab, 2);
  assert.equal(poolOf(executor).sentAhead, 1);
  const error = await rejection(ahead);
  assert.ok((error as unknown) instanceof asyncio.TimeoutError);
  release(view);
  const thread = await long;
  assert.equal(await executor.submit(mark, sab, 3), thread);
  assert.deepEqual([view[2], view[3]], [0, 1]);
});

test("an aborted signal drops a job sent ahead", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const long = executor.submit(blockUntilReleased, sab, 30_000);
  const controller = new AbortController();
  const ahead = executor.submit({ fn: mark, signal: controller.signal }, sab, 2);
  assert.equal(poolOf(executor).sentAhead, 1);
  controller.abort("enough");
  await assert.rejects(async () => await ahead, asyncio.CancelledError);
  release(view);
  await long;
  assert.equal(view[2], 0);
});

test("when a thread exits in the middle of a job, the job sent ahead to it runs in its replacement", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const dying = executor.submit(() => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    process.exit(3);
  });
  const ahead = executor.submit(mark, sab, 2);
  assert.equal(poolOf(executor).sentAhead, 1);
  const error = await rejection(dying);
  assert.ok((error as unknown) instanceof asyncio.RuntimeError);
  assert.match(error.message, /exited with code 3/);
  assert.equal(typeof (await ahead), "number");
  assert.equal(view[2], 1);
});

test("in terminate mode, cancelling a running job sends the job sent ahead of it to the replacement thread", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1, cancel: "terminate" });
  const { sab, view } = flags();
  const spinning = executor.submit(() => {
    for (;;);
  });
  const ahead = executor.submit(mark, sab, 2);
  assert.equal(poolOf(executor).sentAhead, 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(spinning.cancel(), true);
  await assert.rejects(async () => await spinning, asyncio.CancelledError);
  assert.equal(typeof (await ahead), "number");
  assert.equal(view[2], 1);
});

test("shutdown({ cancelFutures: true }) cancels a job sent ahead that its thread has not started", async () => {
  const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const long = executor.submit(blockUntilReleased, sab, 30_000);
  const ahead = executor.submit(mark, sab, 2);
  assert.equal(poolOf(executor).sentAhead, 1);
  const closing = executor.shutdown({ cancelFutures: true });
  assert.equal(ahead.cancelled(), true);
  release(view);
  await long;
  await closing;
  assert.equal(view[2], 0);
  assert.equal(executor._pool.workerCount, 0);
});

test("a job with a transferList is not sent ahead: it waits in the queue and gets its buffer", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const { sab, view } = flags();
  const long = executor.submit(blockUntilReleased, sab, 30_000);
  const bytes = new Uint8Array([1, 2, 3]);
  const moving = executor.submit(
    { fn: (b: ArrayBuffer) => new Uint8Array(b).reduce((s, x) => s + x, 0), transferList: [bytes.buffer] },
    bytes.buffer,
  );
  assert.equal(poolOf(executor).sentAhead, 0);
  assert.equal(poolOf(executor).queue.length, 1);
  release(view);
  await long;
  assert.equal(await moving, 6);
});

// ------------------------------------------------------------------ nothing lost, nothing run twice

interface Plan {
  workers: number;
  terminate: boolean;
  jobs: { ms: number; cancelAfterMs: number | null; timeoutMs: number | null }[];
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  workers: fc.integer({ min: 1, max: 3 }),
  terminate: fc.boolean(),
  jobs: fc.array(
    fc.record({
      ms: fc.constantFrom(0, 0, 1, 5),
      cancelAfterMs: fc.option(fc.constantFrom(0, 1, 3, 8), { freq: 3 }),
      timeoutMs: fc.option(fc.constantFrom(2, 6), { freq: 6 }),
    }),
    { minLength: 1, maxLength: 30 },
  ),
});

test("whatever is cancelled or times out, every job settles once and none runs twice", async () => {
  await fc.assert(
    fc.asyncProperty(planArb, async (plan) => {
      await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: plan.workers, cancel: plan.terminate ? "terminate" : "abandon" });
      const runs = new SharedArrayBuffer(4 * plan.jobs.length);
      const counts = new Int32Array(runs);
      const body = (buf: SharedArrayBuffer, k: number, ms: number): number => {
        Atomics.add(new Int32Array(buf), k, 1);
        if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
        return k * 2;
      };
      const timers: ReturnType<typeof setTimeout>[] = [];
      const jobs = plan.jobs.map((spec, k) => {
        const job = executor.submit({ fn: body, timeout: spec.timeoutMs === null ? null : spec.timeoutMs / 1000 }, runs, k, spec.ms);
        if (spec.cancelAfterMs !== null) timers.push(setTimeout(() => job.cancel(), spec.cancelAfterMs));
        return job;
      });
      const outcomes = await Promise.allSettled(jobs);
      for (const timer of timers) clearTimeout(timer);
      outcomes.forEach((outcome, k) => {
        assert.ok(counts[k]! <= 1, `job ${k} ran ${counts[k]} times`);
        if (outcome.status === "fulfilled") {
          assert.equal(outcome.value, k * 2);
          assert.equal(counts[k], 1, `job ${k} succeeded without running`);
        } else {
          const error = outcome.reason as Error;
          assert.ok(
            error instanceof asyncio.CancelledError || error instanceof asyncio.TimeoutError || error instanceof asyncio.RuntimeError,
            `job ${k}: ${error}`,
          );
        }
        assert.equal(jobs[k]!.done(), true);
      });
    }),
    { numRuns: 25 },
  );
});

test("many short jobs on two threads, some cancelled at random moments: each result arrives once", async () => {
  await using executor = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
  const n = 3_000;
  const runs = new SharedArrayBuffer(4 * n);
  const counts = new Int32Array(runs);
  const jobs = Array.from({ length: n }, (_, k) =>
    executor.submit((buf: SharedArrayBuffer, i: number) => {
      Atomics.add(new Int32Array(buf), i, 1);
      return i;
    }, runs, k),
  );
  let cancelled = 0;
  for (let round = 0; round < 30; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    for (let k = round * 97; k < n; k += 251) if (jobs[k]!.cancel()) cancelled++;
  }
  const outcomes = await Promise.allSettled(jobs);
  let fulfilled = 0;
  outcomes.forEach((outcome, k) => {
    assert.ok(counts[k]! <= 1, `job ${k} ran ${counts[k]} times`);
    if (outcome.status === "fulfilled") {
      fulfilled++;
      assert.equal(outcome.value, k);
      assert.equal(counts[k], 1);
    } else {
      assert.ok(outcome.reason instanceof asyncio.CancelledError);
      assert.equal(counts[k], 0, `job ${k} was cancelled yet ran`);
    }
  });
  assert.equal(fulfilled + cancelled, n);
  assert.ok(cancelled > 0);
});
