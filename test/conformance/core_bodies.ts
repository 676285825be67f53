/**
 * Core conformance bodies: the behaviour every event loop must have, written once and run against each loop
 * implementation (`EventLoop`, `testing.VirtualEventLoop`) by test/testing.test.ts.
 *
 * Bodies only assert orderings and lower bounds of loop time, never wall-clock durations: on the real loop a
 * `sleep(0.02)` takes about 20 ms, on the virtual loop no time at all.
 */
import assert from "node:assert/strict";
import * as asyncio from "../../src/index.js";
import { isInstance, rejection } from "../helpers/expect.js";

/** What a body gets: ways to run code on a new loop of the kind under test. */
export interface CoreContext {
  /** Runs `main` as `asyncio.run` does, on a new loop of the kind under test. */
  run<T>(main: () => PromiseLike<T> | T): Promise<T>;
  /** A new loop of the kind under test, not running. */
  newLoop(): asyncio.EventLoop;
}

export type CoreBody = (ctx: CoreContext) => Promise<void>;

export const coreBodies: Record<string, CoreBody> = {
  "callSoon runs callbacks in FIFO order, never inline": async ({ run }) => {
    const order: string[] = [];
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      for (const name of ["a", "b", "c"]) loop.callSoon(() => order.push(name));
      order.push("scheduled");
      await asyncio.sleep(0);
    });
    assert.deepEqual(order, ["scheduled", "a", "b", "c"]);
  },

  "callLater orders timers by when, ties in scheduling order": async ({ run }) => {
    const order: string[] = [];
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      const t = loop.time();
      loop.callAt(t + 0.03, () => order.push("late"));
      loop.callAt(t + 0.01, () => order.push("tie-1"));
      loop.callAt(t + 0.01, () => order.push("tie-2"));
      loop.callAt(t + 0.02, () => order.push("middle"));
      await asyncio.sleep(0.04);
    });
    assert.deepEqual(order, ["tie-1", "tie-2", "middle", "late"]);
  },

  "a timer never runs before its when()": async ({ run }) => {
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      const seen: [number, number][] = [];
      const done = loop.createFuture<void>();
      let left = 5;
      for (let i = 1; i <= 5; i++) {
        const handle: asyncio.TimerHandle = loop.callLater(0.005 * i, () => {
          seen.push([loop.time(), handle.when()]);
          if (--left === 0) done.setResult();
        });
      }
      await done;
      for (const [now, when] of seen) assert.equal(now >= when, true, `ran at ${now}, due at ${when}`);
    });
  },

  "a cancelled TimerHandle never runs": async ({ run }) => {
    let ran = false;
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      const handle = loop.callLater(0.01, () => {
        ran = true;
      });
      handle.cancel();
      assert.equal(handle.cancelled(), true);
      await asyncio.sleep(0.02);
    });
    assert.equal(ran, false);
  },

  "sleep(d) resumes no earlier than d seconds of loop time, with its result": async ({ run }) => {
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      const t0 = loop.time();
      assert.equal(await asyncio.sleep(0.02, "value"), "value");
      assert.equal(loop.time() >= t0 + 0.02, true);
    });
  },

  "sleep(0) yields exactly once, so two tasks interleave": async ({ run }) => {
    const trace: string[] = [];
    await run(async () => {
      const worker = async (name: string) => {
        for (let i = 0; i < 3; i++) {
          trace.push(`${name}${i}`);
          await asyncio.sleep(0);
        }
      };
      await asyncio.gather(() => worker("a"), () => worker("b"));
    });
    assert.deepEqual(trace, ["a0", "b0", "a1", "b1", "a2", "b2"]);
  },

  "awaiting a task gives its result or throws its exception": async ({ run }) => {
    await run(async () => {
      const ok = asyncio.createTask(async () => {
        await asyncio.sleep(0.01);
        return 42;
      });
      const bad = asyncio.createTask(async () => {
        await asyncio.sleep(0.01);
        throw new RangeError("bad");
      });
      assert.equal(await ok, 42);
      const error = await rejection(bad);
      isInstance(error, RangeError);
      assert.equal(error.message, "bad");
    });
  },

  "cancelling a sleeping task throws CancelledError at its await, with the message": async ({ run }) => {
    await run(async () => {
      let caught: unknown;
      const task = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(3600);
        } catch (error) {
          caught = error;
          throw error;
        }
      });
      await asyncio.sleep(0.01);
      assert.equal(task.cancel("stop now"), true);
      const error = await rejection(task);
      isInstance(error, asyncio.CancelledError);
      assert.equal(task.cancelled(), true);
      isInstance(caught, asyncio.CancelledError);
      assert.equal(caught.message, "stop now");
    });
  },

  "gather keeps argument order whatever the completion order": async ({ run }) => {
    const finished: number[] = [];
    const results = await run(() =>
      asyncio.gather(
        ...[0.03, 0.01, 0.02].map((d, i) => async () => {
          await asyncio.sleep(d);
          finished.push(i);
          return i;
        }),
      ),
    );
    assert.deepEqual(results, [0, 1, 2]);
    assert.deepEqual(finished, [1, 2, 0]);
  },

  "gather fails with the first error, or collects errors with returnExceptions": async ({ run }) => {
    await run(async () => {
      const failing = async () => {
        await asyncio.sleep(0.01);
        throw new TypeError("child");
      };
      const slow = async () => {
        await asyncio.sleep(0.02);
        return "slow";
      };
      const error = await rejection(asyncio.gather(failing, slow));
      isInstance(error, TypeError);
      const results = await asyncio.gather(failing, slow, { returnExceptions: true });
      isInstance(results[0], TypeError);
      assert.equal(results[1], "slow");
    });
  },

  "cancelling a gather cancels its children": async ({ run }) => {
    await run(async () => {
      const children = [0, 1].map(() => asyncio.createTask(() => asyncio.sleep(3600)));
      const all = asyncio.gather(...children);
      await asyncio.sleep(0.01);
      assert.equal(all.cancel(), true);
      isInstance(await rejection(all), asyncio.CancelledError);
      for (const child of children) assert.equal(child.cancelled(), true);
    });
  },

  "wait FIRST_COMPLETED returns once one is done, leaving the others pending": async ({ run }) => {
    await run(async () => {
      const fast = asyncio.createTask(() => asyncio.sleep(0.01, "fast"));
      const slow = asyncio.createTask(() => asyncio.sleep(3600, "slow"));
      const [done, pending] = await asyncio.wait([fast, slow], { returnWhen: asyncio.FIRST_COMPLETED });
      assert.deepEqual([...done], [fast]);
      assert.deepEqual([...pending], [slow]);
      const [done2, pending2] = await asyncio.wait([slow], { timeout: 0.02 });
      assert.equal(done2.size, 0);
      assert.equal(pending2.size, 1);
      slow.cancel();
    });
  },

  "waitFor times out with TimeoutError and cancels the awaited task": async ({ run }) => {
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      const task = asyncio.createTask(() => asyncio.sleep(3600));
      const t0 = loop.time();
      isInstance(await rejection(asyncio.waitFor(task, 0.02)), asyncio.TimeoutError);
      assert.equal(loop.time() >= t0 + 0.02, true);
      assert.equal(task.cancelled(), true);
      assert.equal(await asyncio.waitFor(asyncio.sleep(0.01, "in time"), 1), "in time");
    });
  },

  "timeout() expires at its deadline, as TimeoutError; reschedule moves it": async ({ run }) => {
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      const t0 = loop.time();
      let cm: asyncio.Timeout | null = null;
      const error = await rejection(
        asyncio.timeout(0.02).with(async (t) => {
          cm = t;
          await asyncio.sleep(3600);
        }),
      );
      isInstance(error, asyncio.TimeoutError);
      assert.equal(cm!.expired(), true);
      assert.equal(loop.time() >= t0 + 0.02, true);
      const result = await asyncio.timeout(0.01).with(async (t) => {
        t.reschedule(loop.time() + 3600);
        await asyncio.sleep(0.02);
        return "moved";
      });
      assert.equal(result, "moved");
    });
  },

  "nested timeouts: the inner one expires, the outer one does not": async ({ run }) => {
    await run(async () => {
      const outcome = await asyncio.timeout(3600).with(async (outer) => {
        const inner = await rejection(asyncio.timeout(0.01).with(() => asyncio.sleep(1800)));
        isInstance(inner, asyncio.TimeoutError);
        assert.equal(outer.expired(), false);
        return "outer finished";
      });
      assert.equal(outcome, "outer finished");
    });
  },

  "timeoutAt a past deadline expires at the first await": async ({ run }) => {
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      isInstance(await rejection(asyncio.timeoutAt(loop.time() - 1).with(() => asyncio.sleep(3600))), asyncio.TimeoutError);
    });
  },

  "TaskGroup: the first failure cancels the siblings; errors come out as an ExceptionGroup": async ({ run }) => {
    const events: string[] = [];
    await run(async () => {
      const error = await rejection(
        new asyncio.TaskGroup().with(async (tg) => {
          tg.createTask(async () => {
            try {
              await asyncio.sleep(3600);
            } catch (e) {
              events.push("sibling cancelled");
              throw e;
            }
          });
          tg.createTask(async () => {
            await asyncio.sleep(0.01);
            throw new RangeError("boom");
          });
        }),
      );
      isInstance(error, asyncio.ExceptionGroup);
      assert.equal(error.exceptions.length, 1);
      isInstance(error.exceptions[0], RangeError);
    });
    assert.deepEqual(events, ["sibling cancelled"]);
  },

  "TaskGroup waits for all its tasks": async ({ run }) => {
    const done: number[] = [];
    await run(() =>
      new asyncio.TaskGroup().with((tg) => {
        for (const d of [0.02, 0.01]) {
          tg.createTask(async () => {
            await asyncio.sleep(d);
            done.push(d);
          });
        }
      }),
    );
    assert.deepEqual(done, [0.01, 0.02]);
  },

  "shield: cancelling the outer Future leaves the inner task running": async ({ run }) => {
    await run(async () => {
      const inner = asyncio.createTask(() => asyncio.sleep(0.02, "inner result"));
      const outer = asyncio.shield(inner);
      await asyncio.sleep(0);
      outer.cancel();
      isInstance(await rejection(outer), asyncio.CancelledError);
      assert.equal(inner.cancelled(), false);
      assert.equal(await inner, "inner result");
    });
  },

  "asCompleted yields results in completion order": async ({ run }) => {
    const results = await run(async () => {
      const out: string[] = [];
      const aws = ["c", "a", "b"].map((name) => () => asyncio.sleep({ a: 0.01, b: 0.02, c: 0.03 }[name]!, name));
      for (const next of asyncio.asCompleted(aws)) out.push(await next);
      return out;
    });
    assert.deepEqual(results, ["a", "b", "c"]);
  },

  "runUntilComplete returns the result; stop() ends runForever after the iteration": async ({ newLoop }) => {
    const loop = newLoop();
    try {
      assert.equal(await loop.runUntilComplete(() => asyncio.sleep(0.01, "done")), "done");
      const order: string[] = [];
      loop.callSoon(() => {
        order.push("first");
        loop.stop();
      });
      loop.callSoon(() => order.push("same iteration"));
      await loop.runForever();
      assert.deepEqual(order, ["first", "same iteration"]);
      assert.equal(loop.isRunning(), false);
    } finally {
      loop.close();
    }
  },

  "an exception in a callback goes to the exception handler and the loop goes on": async ({ run }) => {
    const contexts: asyncio.ExceptionContext[] = [];
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      loop.setExceptionHandler((_loop, context) => {
        contexts.push(context);
      });
      loop.callSoon(function failing() {
        throw new Error("callback failed");
      });
      await asyncio.sleep(0.01);
    });
    assert.equal(contexts.length, 1);
    assert.match(String(contexts[0]!.message), /^Exception in callback failing/);
    isInstance(contexts[0]!.exception, Error);
  },

  "done callbacks are called by the loop, never inline": async ({ run }) => {
    await run(async () => {
      const loop = asyncio.getRunningLoop();
      const fut = loop.createFuture<number>();
      const seen: number[] = [];
      fut.addDoneCallback((f) => seen.push(f.result()));
      fut.setResult(7);
      assert.deepEqual(seen, []);
      await asyncio.sleep(0);
      assert.deepEqual(seen, [7]);
    });
  },

  "an eager task starts its body inside createTask": async ({ run }) => {
    await run(async () => {
      const order: string[] = [];
      const task = asyncio.createTask(
        async () => {
          order.push("body");
          await asyncio.sleep(0);
        },
        { eagerStart: true },
      );
      order.push("after createTask");
      await task;
      assert.deepEqual(order, ["body", "after createTask"]);
    });
  },

  "currentTask and allTasks follow the tasks": async ({ run }) => {
    await run(async () => {
      const main = asyncio.currentTask();
      assert.notEqual(main, null);
      const child = asyncio.createTask(
        async () => {
          assert.equal(asyncio.currentTask()!.getName(), "child");
          await asyncio.sleep(0.01);
        },
        { name: "child" },
      );
      assert.equal(asyncio.allTasks().has(child), true);
      assert.equal(asyncio.allTasks().has(main!), true);
      await child;
      assert.equal(asyncio.allTasks().has(child), false);
    });
  },
};
