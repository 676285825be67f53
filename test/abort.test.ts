// AbortSignal as input: every operation that takes `signal`, what aborting it does, and that nothing leaks.
// Time is virtual (asyncio.testing.run) wherever a sleep is involved; aborts come from loop callbacks or tasks.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import * as net from "node:net";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import fc from "fast-check";
import * as asyncio from "../src/index.js";
import { _listenedSignalCount, _registrationCount, abortMessage } from "../src/_internal/abort.js";
import { isInstance, rejection } from "./helpers/expect.js";

const vrun = asyncio.testing.run;

/** A full garbage collection, also when node was started without --expose-gc. */
function collectGarbage(): void {
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}

/** Lets the loop run `n` iterations. */
async function tick(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await asyncio.sleep(0);
}

/** Asserts `error` is a CancelledError with `message`. */
function assertCancelled(error: unknown, message: string): void {
  isInstance(error, asyncio.CancelledError, "the error");
  assert.equal(error.message, message);
}

function listeners(signal: AbortSignal): number {
  return getEventListeners(signal, "abort").length;
}

/** Aborts `controller` with `reason` from a loop callback `delay` seconds from now. */
function abortLater(controller: AbortController, delay: number, reason?: unknown): void {
  asyncio.getRunningLoop().callLater(delay, () => controller.abort(reason));
}

// ------------------------------------------------------------------ the registry

describe("the abort registry", () => {
  test("the CancelledError message is the reason's message, or String(reason)", () => {
    const a = new AbortController();
    a.abort(new Error("boom"));
    assert.equal(abortMessage(a.signal), "boom");
    const b = new AbortController();
    b.abort("plain words");
    assert.equal(abortMessage(b.signal), "plain words");
    const c = new AbortController();
    c.abort(42);
    assert.equal(abortMessage(c.signal), "42");
    const d = new AbortController();
    d.abort();
    assert.equal(abortMessage(d.signal), "This operation was aborted");
  });

  test("many operations on one signal share a single listener, removed when the last ends", () =>
    vrun(async () => {
      const controller = new AbortController();
      const sleeps = Array.from({ length: 50 }, (_, i) => asyncio.sleep(1 + i, i, { signal: controller.signal }));
      assert.equal(listeners(controller.signal), 1);
      assert.equal(_registrationCount(controller.signal), 50);
      await asyncio.sleep(25.5);
      assert.equal(_registrationCount(controller.signal), 25);
      assert.equal(listeners(controller.signal), 1);
      await asyncio.gather(...sleeps);
      assert.equal(_registrationCount(controller.signal), 0);
      assert.equal(listeners(controller.signal), 0);
    }));

  test("100,000 operations on one long-lived signal leave no listener and no registration behind", () =>
    vrun(async () => {
      const controller = new AbortController();
      const signal = controller.signal;
      const lock = new asyncio.Lock();
      const queue = new asyncio.Queue<number>();
      const event = new asyncio.Event();
      for (let round = 0; round < 100; round++) {
        const ops: Promise<unknown>[] = [];
        for (let i = 0; i < 250; i++) {
          ops.push(asyncio.sleep(0.001, i, { signal }));
          ops.push(lock.acquire({ signal }).then(() => lock.release()));
          ops.push(queue.get({ signal }));
          ops.push(event.wait({ signal }));
        }
        assert.equal(listeners(signal), 1);
        for (let i = 0; i < 250; i++) queue.putNowait(i);
        event.set();
        await Promise.all(ops);
        event.clear();
      }
      assert.equal(listeners(signal), 0);
      assert.equal(_registrationCount(signal), 0);
      assert.equal(_listenedSignalCount(), 0);
    }));

  test("the heap does not grow with operations on one long-lived signal", () =>
    vrun(async () => {
      const controller = new AbortController();
      const signal = controller.signal;
      const lock = new asyncio.Lock();
      const queue = new asyncio.Queue<number>();
      const batch = async (): Promise<void> => {
        for (let round = 0; round < 20; round++) {
          const ops: Promise<unknown>[] = [];
          for (let i = 0; i < 170; i++) {
            ops.push(asyncio.sleep(0.001, i, { signal }));
            ops.push(lock.acquire({ signal }).then(() => lock.release()));
            ops.push(queue.get({ signal }));
          }
          for (let i = 0; i < 170; i++) queue.putNowait(i);
          await Promise.all(ops);
        }
      };
      await batch();
      collectGarbage();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 10; i++) await batch();
      collectGarbage();
      const growth = process.memoryUsage().heapUsed - before;
      // 100,000 waits: a leak of even one small object per wait would pass 5 MB.
      assert.equal(growth < 5 * 2 ** 20, true, `heap grew by ${growth} bytes`);
      assert.equal(listeners(signal), 0);
    }));

  test("an abort runs every registered operation's cancellation once and empties the registry", () =>
    vrun(async () => {
      const controller = new AbortController();
      const sleeps = Array.from({ length: 20 }, () => asyncio.sleep(10, null, { signal: controller.signal }));
      abortLater(controller, 1, "all");
      const outcomes = await Promise.allSettled(sleeps);
      for (const o of outcomes) {
        assert.equal(o.status, "rejected");
        assertCancelled((o as PromiseRejectedResult).reason, "all");
      }
      assert.equal(_listenedSignalCount(), 0);
    }));

  test("a cancelled or aborted operation leaves no timer and no listener (getActiveResourcesInfo)", async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    await asyncio.run(async () => {
      const controller = new AbortController();
      const task = asyncio.createTask(() => asyncio.sleep(3600, null, { signal: controller.signal }));
      await tick();
      controller.abort();
      await rejection(task);
      const t2 = asyncio.createTask(() => asyncio.sleep(3600, null, { signal: controller.signal }));
      await tick();
      assert.equal(t2.done(), true);
      await rejection(t2);
    });
    const after = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    assert.equal(after <= before, true, `timers before ${before}, after ${after}`);
    assert.equal(_listenedSignalCount(), 0);
  });

  test("property: whatever subset is aborted, every operation ends once and nothing stays registered", () =>
    fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(4), fc.boolean()), { minLength: 1, maxLength: 30 }), async (plan) =>
        vrun(async () => {
          const controllers = Array.from({ length: 5 }, () => new AbortController());
          const queue = new asyncio.Queue<number>();
          const gets = plan.map(([which]) => queue.get({ signal: controllers[which]!.signal }));
          const aborted = new Set<number>();
          for (const [which, abort] of plan) if (abort) aborted.add(which);
          await tick();
          for (const which of aborted) controllers[which]!.abort("x");
          for (let i = 0; i < plan.length; i++) queue.putNowait(i);
          const outcomes = await Promise.allSettled(gets);
          const received: number[] = [];
          for (let i = 0; i < plan.length; i++) {
            const o = outcomes[i]!;
            if (aborted.has(plan[i]![0])) assert.equal(o.status, "rejected");
            else received.push((o as PromiseFulfilledResult<number>).value);
          }
          // Nothing lost: every item went to a live getter or is still in the queue.
          const left: number[] = [];
          while (!queue.empty()) left.push(queue.getNowait());
          assert.deepEqual([...received, ...left].sort((a, b) => a - b), plan.map((_, i) => i));
          assert.equal(_listenedSignalCount(), 0);
        }),
      ),
      { numRuns: 40 },
    ));
});

describe("nothing lost under random aborts", () => {
  test("property: a Semaphore gets every permit back whichever waiters are aborted, and when", () =>
    fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.record({ abortAt: fc.option(fc.integer({ min: 0, max: 5 })), hold: fc.integer({ min: 0, max: 3 }) }), {
          minLength: 1,
          maxLength: 12,
        }),
        async (permits, workers) =>
          vrun(async () => {
            const sem = new asyncio.Semaphore(permits);
            let inside = 0;
            let most = 0;
            const tasks = workers.map((w) => {
              const controller = new AbortController();
              if (w.abortAt !== null) abortLater(controller, w.abortAt, "random");
              return asyncio.createTask(async () => {
                await sem.acquire({ signal: controller.signal });
                inside++;
                most = Math.max(most, inside);
                try {
                  await asyncio.sleep(w.hold);
                } finally {
                  inside--;
                  sem.release();
                }
              });
            });
            await asyncio.gather(...tasks, { returnExceptions: true });
            assert.equal(most <= permits, true);
            assert.deepEqual(sem.statistics(), { value: permits, locked: false, waiters: 0 });
            assert.equal(_listenedSignalCount(), 0);
          }),
      ),
      { numRuns: 60 },
    ));

  test("property: a Lock is free and unqueued at the end whichever acquirers are aborted", () =>
    fc.assert(
      fc.asyncProperty(fc.array(fc.option(fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 10 }), async (aborts) =>
        vrun(async () => {
          const lock = new asyncio.Lock();
          let holders = 0;
          const tasks = aborts.map((abortAt) => {
            const controller = new AbortController();
            if (abortAt !== null) abortLater(controller, abortAt);
            return asyncio.createTask(async () => {
              await lock.acquire({ signal: controller.signal });
              holders++;
              assert.equal(holders, 1);
              try {
                await asyncio.sleep(1);
              } finally {
                holders--;
                lock.release();
              }
            });
          });
          await asyncio.gather(...tasks, { returnExceptions: true });
          assert.deepEqual(lock.statistics(), { locked: false, waiters: 0 });
        }),
      ),
      { numRuns: 60 },
    ));
});

// ------------------------------------------------------------------ bad input

describe("a signal that is not an AbortSignal", () => {
  const bad: [string, () => unknown][] = [
    ["createTask", () => asyncio.createTask(async () => 1, { signal: {} as AbortSignal })],
    ["loop.createTask", () => asyncio.getRunningLoop().createTask(async () => 1, { signal: "x" as unknown as AbortSignal })],
    ["sleep", () => asyncio.sleep(1, null, { signal: 1 as unknown as AbortSignal })],
    ["waitFor", () => asyncio.waitFor(asyncio.sleep(1), 1, { signal: {} as AbortSignal })],
    ["timeout", () => asyncio.timeout(1, { signal: {} as AbortSignal })],
    ["timeoutAt", () => asyncio.timeoutAt(1, { signal: {} as AbortSignal })],
    ["wait", () => asyncio.wait([asyncio.ensureFuture(asyncio.sleep(1))], { signal: {} as AbortSignal })],
    ["gather", () => asyncio.gather(asyncio.sleep(0), { signal: {} as AbortSignal })],
    ["Lock.acquire", () => new asyncio.Lock().acquire({ signal: {} as AbortSignal })],
    ["Semaphore.acquire", () => new asyncio.Semaphore().acquire({ signal: {} as AbortSignal })],
    ["Condition.acquire", () => new asyncio.Condition().acquire({ signal: {} as AbortSignal })],
    ["Condition.wait", () => new asyncio.Condition().wait({ signal: {} as AbortSignal })],
    ["Event.wait", () => new asyncio.Event().wait({ signal: {} as AbortSignal })],
    ["Barrier.wait", () => new asyncio.Barrier(2).wait({ signal: {} as AbortSignal })],
    ["Queue.get", () => new asyncio.Queue().get({ signal: {} as AbortSignal })],
    ["Queue.put", () => new asyncio.Queue().put(1, { signal: {} as AbortSignal })],
    ["openConnection", () => asyncio.openConnection("127.0.0.1", 1, { signal: {} as AbortSignal })],
    ["createSubprocessExec", () => asyncio.createSubprocessExec("true", [], { signal: {} as AbortSignal })],
    ["createSubprocessShell", () => asyncio.createSubprocessShell("true", { signal: {} as AbortSignal })],
  ];
  for (const [name, call] of bad) {
    test(`${name} throws TypeError synchronously, naming the signal`, () =>
      asyncio.run(async () => {
        assert.throws(call, (e: unknown) => e instanceof TypeError && /`signal`/.test(e.message) && e.message.includes(name.split(".").pop()!));
      }));
  }

  test("run and Runner.run throw TypeError synchronously", async () => {
    assert.throws(() => asyncio.run(async () => 1, { signal: {} as AbortSignal }), TypeError);
    const runner = new asyncio.Runner();
    try {
      assert.throws(() => runner.run(async () => 1, { signal: 5 as unknown as AbortSignal }), TypeError);
    } finally {
      await runner.close();
    }
  });

  test("null and undefined signals mean no signal", () =>
    vrun(async () => {
      assert.equal(await asyncio.sleep(1, "a", { signal: null }), "a");
      assert.equal(await asyncio.sleep(1, "b", { signal: undefined }), "b");
      assert.equal(await asyncio.createTask(async () => "c", { signal: null }), "c");
    }));
});

describe("an options argument that is not an object", () => {
  test("createTask(fn, 'name') throws TypeError instead of dropping the name", () =>
    asyncio.run(async () => {
      assert.throws(() => asyncio.createTask(async () => 1, "myname" as never), /createTask: expected `options` to be an object, got "myname"/);
    }));

  test("loop.createTask and TaskGroup.createTask refuse a non-object too", () =>
    asyncio.run(async () => {
      assert.throws(() => asyncio.getRunningLoop().createTask(async () => 1, 3 as never), TypeError);
      await new asyncio.TaskGroup().with(async (tg) => {
        assert.throws(() => tg.createTask(async () => 1, "x" as never), TypeError);
      });
    }));

  test("sleep, Lock.acquire, Queue.get and wait refuse a non-object", () =>
    asyncio.run(async () => {
      assert.throws(() => asyncio.sleep(0, null, "s" as never), /sleep: expected `options` to be an object/);
      assert.throws(() => new asyncio.Lock().acquire(1 as never), /Lock.acquire: expected `options`/);
      assert.throws(() => new asyncio.Queue().get(true as never), /Queue.get: expected `options`/);
      assert.throws(() => asyncio.wait([asyncio.ensureFuture(asyncio.sleep(0))], "fast" as never), /wait: expected `options`/);
    }));

  test("run and Runner.run refuse a non-object", async () => {
    assert.throws(() => asyncio.run(async () => 1, "debug" as never), TypeError);
    const runner = new asyncio.Runner();
    try {
      assert.throws(() => runner.run(async () => 1, 7 as never), TypeError);
    } finally {
      await runner.close();
    }
  });

  test("asCompleted, ensureFuture, Runner and PriorityQueue refuse a non-object too", () =>
    asyncio.run(async () => {
      assert.throws(() => asyncio.asCompleted([asyncio.sleep(0)], 5 as never), /asCompleted: expected `options` to be an object/);
      assert.throws(() => asyncio.ensureFuture(asyncio.sleep(0), "loop" as never), /ensureFuture: expected `options`/);
      assert.throws(() => new asyncio.Runner("debug" as never), /Runner: expected `options`/);
      assert.throws(() => new asyncio.PriorityQueue(0, (() => 0) as never), /PriorityQueue: expected `options`/);
    }));

  test("null options mean no options", () =>
    vrun(async () => {
      assert.equal(await asyncio.createTask(async () => 1, null), 1);
      assert.equal(await asyncio.sleep(0, 2, null), 2);
      const lock = new asyncio.Lock();
      assert.equal(await lock.acquire(null), true);
    }));
});

// ------------------------------------------------------------------ tasks and run

describe("createTask with a signal", () => {
  test("aborting cancels the task as task.cancel(msg) would", () =>
    vrun(async () => {
      const controller = new AbortController();
      let cancelling = -1;
      const task = asyncio.createTask(
        async () => {
          try {
            await asyncio.sleep(10);
          } finally {
            cancelling = asyncio.currentTask()!.cancelling();
          }
        },
        { signal: controller.signal },
      );
      abortLater(controller, 1, new Error("user left"));
      assertCancelled(await rejection(task), "user left");
      assert.equal(task.cancelled(), true);
      assert.equal(cancelling, 1);
    }));

  test("an already-aborted signal: createTask returns, and the body never runs", () =>
    vrun(async () => {
      const controller = new AbortController();
      controller.abort("too late");
      let ran = false;
      const task = asyncio.createTask(
        async () => {
          ran = true;
        },
        { signal: controller.signal },
      );
      assert.equal(task.done(), false);
      assertCancelled(await rejection(task), "too late");
      assert.equal(ran, false);
    }));

  test("an already-aborted signal with eagerStart: the body never runs either", () =>
    vrun(async () => {
      const controller = new AbortController();
      controller.abort();
      let ran = false;
      const task = asyncio.createTask(
        async () => {
          ran = true;
        },
        { signal: controller.signal, eagerStart: true },
      );
      await rejection(task);
      assert.equal(ran, false);
      assert.equal(task.cancelled(), true);
    }));

  test("a task factory that builds Tasks from the options (eagerTaskFactory) honours the signal", () =>
    vrun(async () => {
      const loop = asyncio.getRunningLoop();
      loop.setTaskFactory(asyncio.eagerTaskFactory);
      try {
        const controller = new AbortController();
        controller.abort("eager");
        let ran = false;
        const task = asyncio.createTask(
          async () => {
            ran = true;
          },
          { signal: controller.signal },
        );
        assertCancelled(await rejection(task), "eager");
        assert.equal(ran, false);
      } finally {
        loop.setTaskFactory(null);
      }
    }));

  test("loop.createTask takes a signal", () =>
    vrun(async () => {
      const controller = new AbortController();
      const task = asyncio.getRunningLoop().createTask(() => asyncio.sleep(5), { signal: controller.signal });
      abortLater(controller, 1, "loop");
      assertCancelled(await rejection(task), "loop");
    }));

  test("TaskGroup.createTask takes a signal; an aborted child does not fail the group", () =>
    vrun(async () => {
      const controller = new AbortController();
      let child!: asyncio.Task<unknown>;
      let sibling!: asyncio.Task<string>;
      await new asyncio.TaskGroup().with(async (tg) => {
        child = tg.createTask(() => asyncio.sleep(5), { signal: controller.signal });
        sibling = tg.createTask(() => asyncio.sleep(2, "ok"));
        abortLater(controller, 1, "child only");
      });
      assert.equal(child.cancelled(), true);
      assert.equal(sibling.result(), "ok");
    }));

  test("the task's listener is removed once the task is done", () =>
    vrun(async () => {
      const controller = new AbortController();
      const tasks = Array.from({ length: 10 }, () => asyncio.createTask(() => asyncio.sleep(1), { signal: controller.signal }));
      assert.equal(listeners(controller.signal), 1);
      await asyncio.gather(...tasks);
      await tick();
      assert.equal(listeners(controller.signal), 0);
    }));

  test("an abort after the task ended does nothing", () =>
    vrun(async () => {
      const controller = new AbortController();
      const task = asyncio.createTask(async () => "done", { signal: controller.signal });
      assert.equal(await task, "done");
      controller.abort();
      assert.equal(task.result(), "done");
    }));

  test("the task can catch the abort's cancellation and uncancel, as with cancel()", () =>
    vrun(async () => {
      const controller = new AbortController();
      const task = asyncio.createTask(
        async () => {
          try {
            await asyncio.sleep(10);
          } catch (error) {
            if (!(error instanceof asyncio.CancelledError)) throw error;
            asyncio.currentTask()!.uncancel();
            return `caught ${error.message}`;
          }
          return "not aborted";
        },
        { signal: controller.signal },
      );
      abortLater(controller, 1, "please");
      assert.equal(await task, "caught please");
    }));
});

describe("run and Runner.run with a signal", () => {
  test("aborting cancels the main task: run rejects with CancelledError", async () => {
    const controller = new AbortController();
    const error = await rejection(
      asyncio.run(
        async () => {
          setTimeout(() => controller.abort(new Error("shutdown")), 1);
          await asyncio.sleep(3600);
        },
        { signal: controller.signal },
      ),
    );
    assertCancelled(error, "shutdown");
  });

  test("an already-aborted signal: run rejects with CancelledError and main never runs", async () => {
    const controller = new AbortController();
    controller.abort("no");
    let ran = false;
    const error = await rejection(
      asyncio.run(
        async () => {
          ran = true;
        },
        { signal: controller.signal },
      ),
    );
    assertCancelled(error, "no");
    assert.equal(ran, false);
  });

  test("Runner.run aborts only that run; the runner runs the next one", async () => {
    const controller = new AbortController();
    const runner = new asyncio.Runner({ loopFactory: () => new asyncio.testing.VirtualEventLoop() });
    try {
      const first = runner.run(
        async () => {
          abortLater(controller, 1, "first");
          await asyncio.sleep(10);
        },
        { signal: controller.signal },
      );
      assertCancelled(await rejection(first), "first");
      assert.equal(await runner.run(async () => "second", { signal: controller.signal }).catch((e: unknown) => e instanceof asyncio.CancelledError), true);
      assert.equal(await runner.run(async () => "third"), "third");
    } finally {
      await runner.close();
    }
  });
});

// ------------------------------------------------------------------ sleep, waitFor, timeout, wait, gather

describe("signals made by the platform", () => {
  test("AbortSignal.timeout() cancels a sleep with the platform's timeout message", () =>
    asyncio.run(async () => {
      const error = await rejection(asyncio.sleep(3600, null, { signal: AbortSignal.timeout(5) }));
      isInstance(error, asyncio.CancelledError);
      assert.match(error.message, /timeout/i);
    }));

  test("AbortSignal.any() of two controllers cancels when either aborts", () =>
    vrun(async () => {
      const a = new AbortController();
      const b = new AbortController();
      abortLater(b, 1, "second");
      assertCancelled(await rejection(new asyncio.Event().wait({ signal: AbortSignal.any([a.signal, b.signal]) })), "second");
    }));
});

describe("sleep with a signal", () => {
  test("aborting cancels the sleep, not the task: cancelling() stays 0", () =>
    vrun(async () => {
      const controller = new AbortController();
      abortLater(controller, 1, "wake");
      const error = await rejection(asyncio.sleep(100, null, { signal: controller.signal }));
      assertCancelled(error, "wake");
      assert.equal(asyncio.currentTask()!.cancelling(), 0);
      assert.equal(await asyncio.sleep(1, "still running"), "still running");
    }));

  test("an already-aborted signal returns an already-rejected promise: no loop iteration passes", () =>
    vrun(async () => {
      const controller = new AbortController();
      controller.abort("pre");
      let iterated = false;
      asyncio.getRunningLoop().callSoon(() => (iterated = true));
      const slept = asyncio.sleep(1, null, { signal: controller.signal });
      assertCancelled(await rejection(slept), "pre");
      assert.equal(iterated, false);
    }));

  test("sleep(0) with a signal yields once and resolves", () =>
    vrun(async () => {
      const controller = new AbortController();
      assert.equal(await asyncio.sleep(0, 7, { signal: controller.signal }), 7);
      assert.equal(listeners(controller.signal), 0);
    }));

  test("the sleep's result comes through unchanged when not aborted", () =>
    vrun(async () => {
      const controller = new AbortController();
      const start = asyncio.getRunningLoop().time();
      assert.equal(await asyncio.sleep(3, "r", { signal: controller.signal }), "r");
      assert.equal(asyncio.getRunningLoop().time() - start >= 3, true);
    }));

  test("an abort in the same iteration as the timer: the sleep ends one way, exactly once", () =>
    vrun(async () => {
      const controller = new AbortController();
      abortLater(controller, 1, "race");
      const outcome = await asyncio.sleep(1, "timer", { signal: controller.signal }).then(
        (v) => v,
        (e: unknown) => (e instanceof asyncio.CancelledError ? "aborted" : "other"),
      );
      assert.equal(["timer", "aborted"].includes(outcome as string), true);
      assert.equal(_listenedSignalCount(), 0);
    }));
});

describe("waitFor with a signal", () => {
  test("aborting rejects with CancelledError (not TimeoutError) and cancels the awaited task", () =>
    vrun(async () => {
      const controller = new AbortController();
      const inner = asyncio.createTask(() => asyncio.sleep(100));
      abortLater(controller, 1, "enough");
      assertCancelled(await rejection(asyncio.waitFor(inner, 50, { signal: controller.signal })), "enough");
      assert.equal(inner.cancelled(), true);
      assert.equal(asyncio.currentTask()!.cancelling(), 0);
    }));

  test("the timeout still gives TimeoutError when the signal stays quiet", () =>
    vrun(async () => {
      const controller = new AbortController();
      isInstance(await rejection(asyncio.waitFor(asyncio.sleep(100), 1, { signal: controller.signal })), asyncio.TimeoutError);
      assert.equal(listeners(controller.signal), 0);
    }));

  test("an already-aborted signal rejects at once; a coroutine function never runs and a task is cancelled", () =>
    vrun(async () => {
      const controller = new AbortController();
      controller.abort("pre");
      let ran = false;
      assertCancelled(
        await rejection(
          asyncio.waitFor(async () => {
            ran = true;
          }, 5, { signal: controller.signal }),
        ),
        "pre",
      );
      assert.equal(ran, false);
      const task = asyncio.createTask(() => asyncio.sleep(5));
      await rejection(asyncio.waitFor(task, 5, { signal: controller.signal }));
      await rejection(task);
      assert.equal(task.cancelled(), true);
    }));

  test("the result comes through when neither fires", () =>
    vrun(async () => {
      const controller = new AbortController();
      assert.equal(await asyncio.waitFor(asyncio.sleep(1, "v"), 10, { signal: controller.signal }), "v");
    }));
});

describe("timeout with a signal", () => {
  test("aborting the block rejects with CancelledError, not TimeoutError, and restores cancelling()", () =>
    vrun(async () => {
      const controller = new AbortController();
      const t = asyncio.timeout(10, { signal: controller.signal });
      abortLater(controller, 1, "user");
      assertCancelled(await rejection(t.with(() => asyncio.sleep(100))), "user");
      assert.equal(t.expired(), false);
      assert.equal(asyncio.currentTask()!.cancelling(), 0);
    }));

  test("the deadline still gives TimeoutError if it passes first", () =>
    vrun(async () => {
      const controller = new AbortController();
      const t = asyncio.timeout(1, { signal: controller.signal });
      abortLater(controller, 2, "late");
      isInstance(await rejection(t.with(() => asyncio.sleep(100))), asyncio.TimeoutError);
      await asyncio.sleep(3);
      assert.equal(asyncio.currentTask()!.cancelling(), 0);
    }));

  test("timeout(null) with a signal: the signal alone can end the block", () =>
    vrun(async () => {
      const controller = new AbortController();
      abortLater(controller, 1, "only the signal");
      assertCancelled(await rejection(asyncio.timeout(null, { signal: controller.signal }).with(() => asyncio.sleep(100))), "only the signal");
    }));

  test("timeoutAt with a signal", () =>
    vrun(async () => {
      const controller = new AbortController();
      const loop = asyncio.getRunningLoop();
      abortLater(controller, 1, "at");
      assertCancelled(await rejection(asyncio.timeoutAt(loop.time() + 10, { signal: controller.signal }).with(() => asyncio.sleep(100))), "at");
    }));

  test("an already-aborted signal: with() rejects and the body never runs", () =>
    vrun(async () => {
      const controller = new AbortController();
      controller.abort("pre");
      let ran = false;
      assertCancelled(
        await rejection(
          asyncio.timeout(5, { signal: controller.signal }).with(() => {
            ran = true;
          }),
        ),
        "pre",
      );
      assert.equal(ran, false);
    }));

  test("an outer cancel during an aborted block still propagates as the task's cancellation", () =>
    vrun(async () => {
      const controller = new AbortController();
      const task = asyncio.createTask(async () => {
        await asyncio.timeout(null, { signal: controller.signal }).with(() => asyncio.sleep(100));
      });
      await asyncio.sleep(1);
      controller.abort("abort");
      task.cancel("outer");
      await rejection(task);
      assert.equal(task.cancelled(), true);
      assert.equal(task.cancelling(), 1);
    }));

  test("the listener is removed when the block ends", () =>
    vrun(async () => {
      const controller = new AbortController();
      await asyncio.timeout(5, { signal: controller.signal }).with(() => asyncio.sleep(1));
      assert.equal(listeners(controller.signal), 0);
    }));
});

describe("wait and gather with a signal", () => {
  test("aborting wait() stops the waiting with CancelledError; the awaitables keep running", () =>
    vrun(async () => {
      const controller = new AbortController();
      const task = asyncio.createTask(() => asyncio.sleep(5, "x"));
      abortLater(controller, 1, "stop waiting");
      assertCancelled(await rejection(asyncio.wait([task], { signal: controller.signal })), "stop waiting");
      assert.equal(task.done(), false);
      assert.equal(await task, "x");
      assert.equal(asyncio.currentTask()!.cancelling(), 0);
    }));

  test("wait() with an already-aborted signal rejects without waiting", () =>
    vrun(async () => {
      const controller = new AbortController();
      controller.abort("pre");
      const task = asyncio.createTask(() => asyncio.sleep(5));
      assertCancelled(await rejection(asyncio.wait([task], { signal: controller.signal })), "pre");
      assert.equal(task.done(), false);
      task.cancel();
    }));

  test("wait() returns [done, pending] as usual when not aborted", () =>
    vrun(async () => {
      const controller = new AbortController();
      const a = asyncio.createTask(() => asyncio.sleep(1));
      const b = asyncio.createTask(() => asyncio.sleep(5));
      const [done, pending] = await asyncio.wait([a, b], { returnWhen: asyncio.FIRST_COMPLETED, signal: controller.signal });
      assert.deepEqual([done.has(a), pending.has(b)], [true, true]);
      assert.equal(listeners(controller.signal), 0);
      b.cancel();
    }));

  test("aborting gather cancels every child and rejects with the abort's message", () =>
    vrun(async () => {
      const controller = new AbortController();
      const a = asyncio.createTask(() => asyncio.sleep(5));
      const b = asyncio.createTask(() => asyncio.sleep(6));
      abortLater(controller, 1, "gathered");
      assertCancelled(await rejection(asyncio.gather(a, b, { signal: controller.signal })), "gathered");
      assert.equal(a.cancelled() && b.cancelled(), true);
      assert.equal(asyncio.currentTask()!.cancelling(), 0);
    }));

  test("gather with an already-aborted signal is cancelled at once and its coroutine functions never run", () =>
    vrun(async () => {
      const controller = new AbortController();
      controller.abort("pre");
      let ran = 0;
      const g = asyncio.gather(
        async () => {
          ran++;
        },
        async () => {
          ran++;
        },
        { signal: controller.signal },
      );
      assert.equal(g.cancelled(), true);
      assertCancelled(await rejection(g), "pre");
      await tick(2);
      assert.equal(ran, 0);
    }));

  test("gather() of nothing with an aborted signal is cancelled too", () =>
    vrun(async () => {
      const controller = new AbortController();
      controller.abort("none");
      assertCancelled(await rejection(asyncio.gather({ signal: controller.signal })), "none");
    }));

  test("gather with returnExceptions and a quiet signal returns every result", () =>
    vrun(async () => {
      const controller = new AbortController();
      const results = await asyncio.gather(
        asyncio.sleep(1, 1),
        async () => {
          throw new Error("e");
        },
        { returnExceptions: true, signal: controller.signal },
      );
      assert.equal(results[0], 1);
      isInstance(results[1], Error);
      assert.equal(listeners(controller.signal), 0);
    }));
});

// ------------------------------------------------------------------ locks

describe("locks with a signal", () => {
  test("Lock.acquire: aborting a blocked call leaves the lock and its queue untouched", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      const controller = new AbortController();
      const blocked = lock.acquire({ signal: controller.signal });
      const next = lock.acquire();
      await tick();
      controller.abort("give up");
      assertCancelled(await rejection(blocked), "give up");
      assert.deepEqual(lock.statistics(), { locked: true, waiters: 1 });
      lock.release();
      assert.equal(await next, true);
      assert.equal(lock.locked(), true);
      assert.equal(asyncio.currentTask()!.cancelling(), 0);
    }));

  test("Lock.acquire: woken and aborted before it resumed, the lock goes to the next waiter", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      const controller = new AbortController();
      const first = lock.acquire({ signal: controller.signal });
      const second = lock.acquire();
      lock.release(); // wakes `first`, whose turn comes on the next iteration
      controller.abort("after the wakeup");
      assertCancelled(await rejection(first), "after the wakeup");
      assert.equal(await second, true);
      assert.equal(lock.locked(), true);
    }));

  test("Lock.acquire with an already-aborted signal rejects even when the lock is free", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      const controller = new AbortController();
      controller.abort("pre");
      assertCancelled(await rejection(lock.acquire({ signal: controller.signal })), "pre");
      assert.equal(lock.locked(), false);
    }));

  test("Lock.acquire with a quiet signal takes a free lock at once", () =>
    vrun(async () => {
      const lock = new asyncio.Lock();
      const controller = new AbortController();
      const p = lock.acquire({ signal: controller.signal });
      assert.equal(lock.locked(), true);
      assert.equal(await p, true);
      assert.equal(listeners(controller.signal), 0);
    }));

  test("Semaphore.acquire: an aborted waiter takes no permit and hands a given one on", () =>
    vrun(async () => {
      const sem = new asyncio.Semaphore(1);
      await sem.acquire();
      const controller = new AbortController();
      const first = sem.acquire({ signal: controller.signal });
      const second = sem.acquire();
      sem.release();
      controller.abort("no permit");
      assertCancelled(await rejection(first), "no permit");
      assert.equal(await second, true);
      assert.equal(sem.statistics().value, 0);
      sem.release();
      assert.equal(sem.statistics().value, 1);
    }));

  test("BoundedSemaphore.acquire takes a signal", () =>
    vrun(async () => {
      const sem = new asyncio.BoundedSemaphore(1);
      await sem.acquire();
      const controller = new AbortController();
      abortLater(controller, 1, "bounded");
      assertCancelled(await rejection(sem.acquire({ signal: controller.signal })), "bounded");
      sem.release();
      assert.equal(sem.statistics().value, 1);
    }));

  test("Condition.acquire takes a signal", () =>
    vrun(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      const controller = new AbortController();
      abortLater(controller, 1, "cond");
      assertCancelled(await rejection(cond.acquire({ signal: controller.signal })), "cond");
      cond.release();
      assert.equal(cond.locked(), false);
    }));

  test("Condition.wait: aborted, the lock is held again when the CancelledError arrives", () =>
    vrun(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      const controller = new AbortController();
      abortLater(controller, 1, "no notify");
      assertCancelled(await rejection(cond.wait({ signal: controller.signal })), "no notify");
      assert.equal(cond.locked(), true);
      assert.equal(cond.statistics().waiters, 0);
      cond.release();
    }));

  test("Condition.wait: a notification the aborted waiter received goes to another waiter", () =>
    vrun(async () => {
      const cond = new asyncio.Condition();
      const controller = new AbortController();
      const outcomes: string[] = [];
      const aborted = asyncio.createTask(() =>
        cond.with(async () => {
          try {
            await cond.wait({ signal: controller.signal });
            outcomes.push("aborted waiter woke");
          } catch {
            outcomes.push("aborted waiter cancelled");
          }
        }),
      );
      const other = asyncio.createTask(() =>
        cond.with(async () => {
          await cond.wait();
          outcomes.push("other woke");
        }),
      );
      await tick(2);
      await cond.with(() => {
        cond.notify(1);
        controller.abort("x");
      });
      await asyncio.gather(aborted, other);
      assert.deepEqual(outcomes.sort(), ["aborted waiter cancelled", "other woke"]);
    }));

  test("Condition.wait with an already-aborted signal rejects and keeps the lock", () =>
    vrun(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      const controller = new AbortController();
      controller.abort("pre");
      assertCancelled(await rejection(cond.wait({ signal: controller.signal })), "pre");
      assert.equal(cond.locked(), true);
      cond.release();
    }));

  test("Event.wait: aborting stops this wait only", () =>
    vrun(async () => {
      const event = new asyncio.Event();
      const controller = new AbortController();
      const aborted = event.wait({ signal: controller.signal });
      const other = event.wait();
      abortLater(controller, 1, "bye");
      assertCancelled(await rejection(aborted), "bye");
      assert.equal(event.statistics().waiters, 1);
      event.set();
      assert.equal(await other, true);
    }));

  test("a waiter awaited only after set() leaves the Event's list (no waiter kept forever)", () =>
    vrun(async () => {
      const event = new asyncio.Event();
      const controller = new AbortController();
      const waits = [event.wait(), event.wait({ signal: controller.signal })];
      event.set();
      await tick();
      await Promise.all(waits);
      assert.equal(event.statistics().waiters, 0);
    }));

  test("Event.wait on a set event with a quiet signal resolves at once; already aborted rejects", () =>
    vrun(async () => {
      const event = new asyncio.Event();
      event.set();
      const controller = new AbortController();
      assert.equal(await event.wait({ signal: controller.signal }), true);
      controller.abort("pre");
      assertCancelled(await rejection(event.wait({ signal: controller.signal })), "pre");
    }));

  test("Barrier.wait: an aborted party leaves and the barrier stays usable", () =>
    vrun(async () => {
      const barrier = new asyncio.Barrier(2);
      const controller = new AbortController();
      const leaving = asyncio.createTask(() => barrier.wait({ signal: controller.signal }));
      await tick(2);
      assert.equal(barrier.nWaiting, 1);
      controller.abort("leave");
      assertCancelled(await rejection(leaving), "leave");
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
      const [a, b] = await asyncio.gather(
        () => barrier.wait(),
        () => barrier.wait(),
      );
      assert.deepEqual([a, b].sort(), [0, 1]);
    }));

  test("Barrier.wait with an already-aborted signal rejects without entering", () =>
    vrun(async () => {
      const barrier = new asyncio.Barrier(2);
      const controller = new AbortController();
      controller.abort("pre");
      assertCancelled(await rejection(barrier.wait({ signal: controller.signal })), "pre");
      assert.equal(barrier.nWaiting, 0);
    }));

  test("Barrier.wait with a quiet signal trips as usual", () =>
    vrun(async () => {
      const barrier = new asyncio.Barrier(2);
      const controller = new AbortController();
      const indexes = await asyncio.gather(
        () => barrier.wait({ signal: controller.signal }),
        () => barrier.wait({ signal: controller.signal }),
      );
      assert.deepEqual([...indexes].sort(), [0, 1]);
      assert.equal(listeners(controller.signal), 0);
    }));
});

// ------------------------------------------------------------------ queues

describe("queues with a signal", () => {
  test("Queue.get: aborting a waiting get takes no item", () =>
    vrun(async () => {
      const queue = new asyncio.Queue<string>();
      const controller = new AbortController();
      const get = queue.get({ signal: controller.signal });
      abortLater(controller, 1, "no item");
      assertCancelled(await rejection(get), "no item");
      queue.putNowait("kept");
      assert.equal(queue.qsize(), 1);
      assert.equal(queue.statistics().getters, 0);
    }));

  test("Queue.get: woken for an item and aborted before resuming, the item goes to the next getter", () =>
    vrun(async () => {
      const queue = new asyncio.Queue<string>();
      const controller = new AbortController();
      const first = queue.get({ signal: controller.signal });
      const second = queue.get();
      await tick();
      queue.putNowait("item");
      controller.abort("late");
      assertCancelled(await rejection(first), "late");
      assert.equal(await second, "item");
    }));

  test("Queue.get with an item available and a quiet signal returns it", () =>
    vrun(async () => {
      const queue = new asyncio.Queue<number>();
      queue.putNowait(1);
      const controller = new AbortController();
      assert.equal(await queue.get({ signal: controller.signal }), 1);
    }));

  test("Queue.get with an already-aborted signal rejects even with items queued", () =>
    vrun(async () => {
      const queue = new asyncio.Queue<number>();
      queue.putNowait(1);
      const controller = new AbortController();
      controller.abort("pre");
      assertCancelled(await rejection(queue.get({ signal: controller.signal })), "pre");
      assert.equal(queue.qsize(), 1);
    }));

  test("Queue.put: aborting a put waiting for room never inserts the item", () =>
    vrun(async () => {
      const queue = new asyncio.Queue<string>(1);
      queue.putNowait("a");
      const controller = new AbortController();
      const put = queue.put("b", { signal: controller.signal });
      abortLater(controller, 1, "full");
      assertCancelled(await rejection(put), "full");
      assert.equal(queue.getNowait(), "a");
      assert.equal(queue.empty(), true);
    }));

  test("Queue.put: room made for an aborted put goes to the next putter", () =>
    vrun(async () => {
      const queue = new asyncio.Queue<string>(1);
      queue.putNowait("a");
      const controller = new AbortController();
      const first = queue.put("b", { signal: controller.signal });
      const second = queue.put("c");
      await tick();
      queue.getNowait();
      controller.abort("late");
      assertCancelled(await rejection(first), "late");
      await second;
      assert.equal(queue.getNowait(), "c");
    }));

  test("PriorityQueue and LifoQueue take a signal too", () =>
    vrun(async () => {
      const controller = new AbortController();
      abortLater(controller, 1);
      await rejection(new asyncio.PriorityQueue<number>().get({ signal: controller.signal }));
      const lifo = new asyncio.LifoQueue<number>();
      lifo.putNowait(1);
      lifo.putNowait(2);
      assert.equal(await lifo.get({ signal: new AbortController().signal }), 2);
    }));

  test("a queue shut down while a get with a signal waits gives QueueShutDown", () =>
    vrun(async () => {
      const queue = new asyncio.Queue<number>();
      const controller = new AbortController();
      const get = queue.get({ signal: controller.signal });
      await tick();
      queue.shutdown();
      isInstance(await rejection(get), asyncio.QueueShutDown);
      assert.equal(listeners(controller.signal), 0);
    }));
});

// ------------------------------------------------------------------ connections and subprocesses

describe("openConnection with a signal", () => {
  test("aborting during the TLS handshake cancels the attempt, not the task, and closes the socket", () =>
    asyncio.run(async () => {
      const sockets: net.Socket[] = [];
      const silent = net.createServer((s) => sockets.push(s));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      try {
        const port = (silent.address() as net.AddressInfo).port;
        const controller = new AbortController();
        silent.once("connection", () => controller.abort(new Error("navigated away")));
        const error = await rejection(asyncio.openConnection("127.0.0.1", port, { ssl: true, signal: controller.signal }));
        assertCancelled(error, "navigated away");
        assert.equal(asyncio.currentTask()!.cancelling(), 0);
        assert.equal(listeners(controller.signal), 0);
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
    }));

  test("an already-aborted signal rejects without connecting", () =>
    asyncio.run(async () => {
      let connections = 0;
      const server = net.createServer((s) => {
        connections++;
        s.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const controller = new AbortController();
        controller.abort("pre");
        const port = (server.address() as net.AddressInfo).port;
        assertCancelled(await rejection(asyncio.openConnection("127.0.0.1", port, { signal: controller.signal })), "pre");
        await asyncio.sleep(0.05);
        assert.equal(connections, 0);
      } finally {
        server.close();
      }
    }));

  test("a connection made before the abort is returned, and a later abort does not touch it", () =>
    asyncio.run(async () => {
      const server = await asyncio.startServer(async (reader, writer) => {
        writer.write(await reader.readline());
        await writer.drain();
        writer.close();
      }, "127.0.0.1", 0);
      try {
        const port = (server.sockets[0]!.getsockname() as [string, number])[1];
        const controller = new AbortController();
        const [reader, writer] = await asyncio.openConnection("127.0.0.1", port, { signal: controller.signal });
        controller.abort();
        writer.write("hi\n");
        assert.equal((await reader.readline()).toString(), "hi\n");
        writer.close();
        await writer.waitClosed();
      } finally {
        server.close();
        await server.waitClosed();
      }
    }));
});

describe("subprocesses with a signal", () => {
  test("aborted before spawning: CancelledError, and no child is started", () =>
    asyncio.run(async () => {
      const controller = new AbortController();
      controller.abort("pre");
      assertCancelled(await rejection(asyncio.createSubprocessExec(process.execPath, ["-e", "0"], { signal: controller.signal })), "pre");
      assertCancelled(await rejection(asyncio.createSubprocessShell("exit 0", { signal: controller.signal })), "pre");
    }));

  test("aborted after spawning: the child gets SIGKILL and wait() gives -9", () =>
    asyncio.run(async () => {
      const controller = new AbortController();
      const proc = await asyncio.createSubprocessExec(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], {
        signal: controller.signal,
      });
      assert.equal(proc.returncode, null);
      controller.abort();
      assert.equal(await proc.wait(), -9);
      assert.equal(listeners(controller.signal), 0);
    }));

  test("createSubprocessShell: an abort kills the running shell", () =>
    asyncio.run(async () => {
      const controller = new AbortController();
      const proc = await asyncio.createSubprocessShell("exec sleep 60", { signal: controller.signal });
      controller.abort();
      assert.equal(await proc.wait(), -9);
    }));

  test("a child that exited before the abort is left alone and its listener removed", () =>
    asyncio.run(async () => {
      const controller = new AbortController();
      const proc = await asyncio.createSubprocessExec(process.execPath, ["-e", "process.exit(3)"], { signal: controller.signal });
      assert.equal(await proc.wait(), 3);
      await asyncio.sleep(0);
      assert.equal(listeners(controller.signal), 0);
      controller.abort();
      assert.equal(proc.returncode, 3);
    }));
});
