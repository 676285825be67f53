// Running awaitables together: gather, wait, waitFor, asCompleted, shield.
// Behaviours follow CPython 3.13's asyncio (Lib/test/test_asyncio/test_tasks.py and test_waitfor.py).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as asyncio from "../src/index.js";
import { tick, newFuture } from "./helpers/loop.js";

/** A coroutine function that sleeps `delay` seconds and returns `value`. */
function after<T>(delay: number, value: T): () => Promise<T> {
  return async () => {
    await asyncio.sleep(delay);
    return value;
  };
}

/** Sleeps until cancelled. */
function forever(): PromiseLike<void> {
  return asyncio.sleep(3600);
}

void describe("gather", () => {
  void test("gather resolves with the results in argument order, not in completion order", async () => {
    await asyncio.run(async () => {
      const results = await asyncio.gather(after(0.03, "slow"), after(0.01, "fast"), async () => "now");
      assert.deepEqual(results, ["slow", "fast", "now"]);
    });
  });

  void test("gather accepts a mix of coroutine functions, promises, futures and tasks and gives a typed tuple", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<boolean>();
      asyncio.getRunningLoop().callSoon(() => fut.setResult(true));
      const task = asyncio.createTask(async () => [1, 2]);
      const results: [number, string, boolean, number[]] = await asyncio.gather(
        async () => 1,
        Promise.resolve("two"),
        fut,
        task,
      );
      assert.deepEqual(results, [1, "two", true, [1, 2]]);
    });
  });

  void test("a failing child rejects gather with its error while the other children keep running", async () => {
    await asyncio.run(async () => {
      const boom = new RangeError("first failure");
      const release = newFuture<void>();
      const slow = asyncio.createTask(async () => {
        await release;
        return "slow done";
      });
      await assert.rejects(async () => {
        await asyncio.gather(async () => {
          throw boom;
        }, slow);
      }, (e: unknown) => e === boom);
      assert.equal(slow.done(), false);
      assert.equal(slow.cancelled(), false);
      release.setResult();
      assert.equal(await slow, "slow done");
    });
  });

  void test("with returnExceptions, errors take their place in the results and gather resolves", async () => {
    await asyncio.run(async () => {
      const err1 = new Error("one");
      const err2 = new TypeError("two");
      const results = await asyncio.gather(
        after(0.01, "a"),
        async () => {
          throw err1;
        },
        async () => {
          await asyncio.sleep(0.02);
          throw err2;
        },
        async () => "d",
        { returnExceptions: true },
      );
      assert.equal(results.length, 4);
      assert.equal(results[0], "a");
      assert.equal(results[1], err1);
      assert.equal(results[2], err2);
      assert.equal(results[3], "d");
    });
  });

  void test("with returnExceptions, a cancelled child shows as a CancelledError in the results", async () => {
    // As CPython 3.13: the message of a task's cancel stays with the error its body ended with, which gather does
    // not take; the result is CancelledError('') (a cancelled plain Future gives its message).
    await asyncio.run(async () => {
      const child = asyncio.createTask(forever);
      const fut = asyncio.getRunningLoop().createFuture();
      const g = asyncio.gather(async () => 1, child, fut, { returnExceptions: true });
      await tick();
      child.cancel("child message");
      fut.cancel("future message");
      const results = await g;
      assert.equal(results[0], 1);
      assert.ok(results[1] instanceof asyncio.CancelledError);
      assert.equal((results[1] as Error).message, "");
      assert.ok(results[2] instanceof asyncio.CancelledError);
      assert.equal((results[2] as Error).message, "future message");
      assert.equal(g.cancelled(), false);
    });
  });

  void test("cancelling the gather cancels every child and the gather fails with CancelledError", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(forever);
      const b = asyncio.createTask(forever);
      const g = asyncio.gather(a, b);
      await tick();
      assert.equal(g.cancel(), true);
      await assert.rejects(async () => {
        await g;
      }, asyncio.CancelledError);
      assert.equal(a.cancelled(), true);
      assert.equal(b.cancelled(), true);
      assert.equal(g.done(), true);
      // As CPython: the gather future itself ends with a CancelledError exception, not in the cancelled state.
      assert.equal(g.cancelled(), false);
    });
  });

  void test("cancel(msg) on the gather carries the message to the CancelledError", async () => {
    await asyncio.run(async () => {
      const g = asyncio.gather(forever, forever);
      await tick();
      g.cancel("gather stop");
      await assert.rejects(async () => {
        await g;
      }, { name: "CancelledError", message: "gather stop" });
    });
  });

  void test("a child cancelled on its own makes gather fail with CancelledError without the gather being cancelled", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(forever);
      const b = asyncio.createTask(forever);
      const g = asyncio.gather(a, b);
      await tick();
      a.cancel("only a");
      await assert.rejects(async () => {
        await g;
      }, { name: "CancelledError", message: "only a" });
      assert.equal(g.cancelled(), false);
      assert.ok(g.exception() instanceof asyncio.CancelledError);
      assert.equal(b.done(), false);
      b.cancel();
    });
  });

  void test("cancelling the gather with returnExceptions still fails it with CancelledError", async () => {
    await asyncio.run(async () => {
      const child = asyncio.createTask(forever);
      const g = asyncio.gather(child, { returnExceptions: true });
      await tick();
      g.cancel();
      await assert.rejects(async () => {
        await g;
      }, asyncio.CancelledError);
      assert.equal(child.cancelled(), true);
    });
  });

  void test("cancel() on a gather whose children are all done returns false and the results stay", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      const g = asyncio.gather(fut);
      await tick();
      fut.setResult(42);
      assert.equal(g.cancel(), false);
      assert.deepEqual(await g, [42]);
      assert.equal(g.cancelled(), false);
    });
  });

  void test("cancelling a task that awaits gather cancels every child", async () => {
    await asyncio.run(async () => {
      let proof = 0;
      const waiter = newFuture<void>();
      const inner = async (): Promise<void> => {
        await waiter;
        proof += 1;
      };
      const child1 = asyncio.createTask(inner);
      const child2 = asyncio.createTask(inner);
      let gatherer: asyncio.GatheringFuture<[void, void]> | null = null;
      const outer = asyncio.createTask(async () => {
        gatherer = asyncio.gather(child1, child2);
        await gatherer;
        proof += 100;
      });
      await tick();
      assert.equal(outer.cancel(), true);
      await assert.rejects(async () => {
        await outer;
      }, asyncio.CancelledError);
      assert.equal(gatherer!.cancel(), false);
      assert.equal(waiter.cancelled(), true);
      assert.equal(child1.cancelled(), true);
      assert.equal(child2.cancelled(), true);
      await tick();
      assert.equal(proof, 0);
    });
  });

  void test("gather() with no arguments is already done with an empty array", async () => {
    await asyncio.run(async () => {
      const g = asyncio.gather();
      assert.equal(g.done(), true);
      assert.deepEqual(g.result(), []);
      assert.deepEqual(await g, []);
    });
  });

  void test("gather of futures that are already done is done at once", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      fut.setResult(1);
      const g = asyncio.gather(fut, fut);
      assert.equal(g.done(), true);
      assert.deepEqual(g.result(), [1, 1]);
    });
  });

  void test("the same awaitable passed twice is awaited once and its result repeated", async () => {
    await asyncio.run(async () => {
      let runs = 0;
      const fn = async (): Promise<string> => {
        runs += 1;
        await asyncio.sleep(0);
        return "abc";
      };
      const fut = newFuture<number>();
      asyncio.getRunningLoop().callSoon(() => fut.setResult(7));
      const results = await asyncio.gather(fn, fn, async () => "def", fn, fut, fut);
      assert.deepEqual(results, ["abc", "abc", "def", "abc", 7, 7]);
      assert.equal(runs, 1);
    });
  });

  void test("the error of a child failing after the gather already failed is not reported as never retrieved", async () => {
    const reported: unknown[] = [];
    const late = new Error("late failure");
    await asyncio.run(async () => {
      asyncio.getRunningLoop().setExceptionHandler((_loop, context) => reported.push(context.exception));
      const a = newFuture<void>();
      const b = newFuture<void>();
      const g = asyncio.gather(
        async () => {
          await a;
          throw new Error("early failure");
        },
        async () => {
          await b;
          throw late;
        },
      );
      await tick();
      a.setResult();
      await tick(2);
      assert.equal(g.done(), true);
      assert.match(String((g.exception() as Error).message), /early failure/);
      b.setResult();
      await tick(3);
    });
    assert.ok(!reported.includes(late));
  });

  void test("gather of futures from different loops throws RangeError", async () => {
    const other = asyncio.newEventLoop();
    try {
      await asyncio.run(async () => {
        const mine = newFuture<number>();
        const theirs = other.createFuture<number>();
        assert.throws(() => asyncio.gather(mine, theirs), RangeError);
      });
    } finally {
      other.close();
    }
  });

  // CPython 3.13 after set_event_loop(None): gather(a()) raises RuntimeError("There is no current event loop in
  // thread 'MainThread'.") at once.
  void test("gather outside a running loop with no loop set throws RuntimeError synchronously and makes no loop", () => {
    asyncio.setEventLoop(null);
    let started = false;
    assert.throws(
      () =>
        asyncio.gather(async () => {
          started = true;
          return 1;
        }),
      asyncio.RuntimeError,
    );
    assert.equal(started, false);
    assert.throws(() => asyncio.getEventLoop(), asyncio.RuntimeError);
  });

  // CPython 3.13: loop = new_event_loop(); set_event_loop(loop); loop.run_until_complete(gather(a(), b())) → [1, 2]
  void test("with a loop set, a gather made outside the loop runs under runUntilComplete", async () => {
    const loop = asyncio.newEventLoop();
    asyncio.setEventLoop(loop);
    try {
      const a = async (): Promise<number> => 1;
      const b = async (): Promise<number> => {
        await asyncio.sleep(0);
        return 2;
      };
      assert.deepEqual(await loop.runUntilComplete(asyncio.gather(a, b)), [1, 2]);
    } finally {
      asyncio.setEventLoop(null);
      loop.close();
    }
  });
});

void describe("wait", () => {
  void test("wait with ALL_COMPLETED (the default) returns every future as done and none pending", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(after(0.01, "a"));
      const b = asyncio.createTask(after(0.02, "b"));
      const [done, pending] = await asyncio.wait([b, a]);
      assert.ok(done instanceof Set && pending instanceof Set);
      assert.deepEqual(done, new Set([a, b]));
      assert.equal(pending.size, 0);
      // Waiting again on finished futures returns at once.
      const [done2, pending2] = await asyncio.wait([a, b], { returnWhen: asyncio.ALL_COMPLETED });
      assert.deepEqual(done2, new Set([a, b]));
      assert.equal(pending2.size, 0);
    });
  });

  void test("wait with FIRST_COMPLETED returns as soon as one finishes, the others stay pending and running", async () => {
    await asyncio.run(async () => {
      const slow = asyncio.createTask(after(10, "slow"));
      const fast = asyncio.createTask(after(0.01, "fast"));
      const [done, pending] = await asyncio.wait([slow, fast], { returnWhen: asyncio.FIRST_COMPLETED });
      assert.deepEqual(done, new Set([fast]));
      assert.deepEqual(pending, new Set([slow]));
      assert.equal(slow.done(), false);
      assert.equal(fast.result(), "fast");
      slow.cancel();
    });
  });

  void test("wait with FIRST_COMPLETED reports every future that finished before it resumed", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(async () => {
        await asyncio.sleep(0);
      });
      const b = asyncio.createTask(async () => {
        await asyncio.sleep(0);
        await asyncio.sleep(0);
      });
      const [done, pending] = await asyncio.wait([b, a], { returnWhen: asyncio.FIRST_COMPLETED });
      assert.deepEqual(done, new Set([a, b]));
      assert.equal(pending.size, 0);
    });
  });

  void test("wait with FIRST_EXCEPTION returns at once when a future has already failed", async () => {
    await asyncio.run(async () => {
      const sleeper = asyncio.createTask(forever);
      const failing = asyncio.createTask(async () => {
        throw new Error("err");
      });
      const [done, pending] = await asyncio.wait([failing, sleeper], { returnWhen: asyncio.FIRST_EXCEPTION });
      assert.deepEqual(done, new Set([failing]));
      assert.deepEqual(pending, new Set([sleeper]));
      assert.match((failing.exception() as Error).message, /err/);
      sleeper.cancel();
    });
  });

  void test("wait with FIRST_EXCEPTION returns when a future fails during the wait", async () => {
    await asyncio.run(async () => {
      const sleeper = asyncio.createTask(forever);
      const ok = asyncio.createTask(after(0.005, "fine"));
      const failing = asyncio.createTask(async () => {
        await asyncio.sleep(0.02);
        throw new Error("during wait");
      });
      const [done, pending] = await asyncio.wait<unknown>([failing, sleeper, ok], { returnWhen: asyncio.FIRST_EXCEPTION });
      assert.deepEqual(done, new Set([ok, failing]));
      assert.deepEqual(pending, new Set([sleeper]));
      failing.exception();
      sleeper.cancel();
    });
  });

  void test("wait with FIRST_EXCEPTION and no failure waits for all", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(after(0.01, 1));
      const b = asyncio.createTask(after(0.02, 2));
      const [done, pending] = await asyncio.wait([a, b], { returnWhen: asyncio.FIRST_EXCEPTION });
      assert.deepEqual(done, new Set([a, b]));
      assert.equal(pending.size, 0);
    });
  });

  void test("wait does not throw a child's error: the failed future is in done", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(after(0.01, "a"));
      const b = asyncio.createTask(async () => {
        await asyncio.sleep(0.02);
        throw new Error("really");
      });
      const [done, pending] = await asyncio.wait([b, a]);
      assert.equal(done.size, 2);
      assert.equal(pending.size, 0);
      const errors = [...done].filter((f) => f.exception() !== null);
      assert.deepEqual(errors, [b]);
    });
  });

  void test("wait with a timeout returns the done and pending sets without cancelling or throwing", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(async () => "a");
      const b = asyncio.createTask(after(10, "b"));
      const [done, pending] = await asyncio.wait([b, a], { timeout: 0.05 });
      assert.deepEqual(done, new Set([a]));
      assert.deepEqual(pending, new Set([b]));
      assert.equal(b.cancelled(), false);
      assert.equal(b.done(), false);
      b.cancel();
    });
  });

  void test("wait of the same future twice counts it once", async () => {
    await asyncio.run(async () => {
      const c = asyncio.createTask(async () => "test");
      const d = asyncio.createTask(async () => "spam");
      const [done, pending] = await asyncio.wait([c, c, d]);
      assert.equal(pending.size, 0);
      assert.equal(done.size, 2);
      assert.deepEqual(new Set([...done].map((f) => f.result())), new Set(["test", "spam"]));
    });
  });

  void test("wait accepts any iterable of futures, such as a generator", async () => {
    await asyncio.run(async () => {
      function* make(): Generator<asyncio.Task<number>> {
        for (let i = 0; i < 5; i++) yield asyncio.createTask(async () => i);
      }
      const [done, pending] = await asyncio.wait(make());
      assert.equal(done.size, 5);
      assert.equal(pending.size, 0);
    });
  });

  void test("cancelling a task blocked in wait leaves the awaited task running", async () => {
    await asyncio.run(async () => {
      let proof = 0;
      const waiter = newFuture<void>();
      const inner = asyncio.createTask(async () => {
        await waiter;
        proof += 1;
      });
      const outer = asyncio.createTask(async () => {
        await asyncio.wait([inner]);
        proof += 100;
      });
      await tick();
      outer.cancel();
      await assert.rejects(async () => {
        await outer;
      }, asyncio.CancelledError);
      assert.equal(inner.done(), false);
      waiter.setResult();
      await inner;
      assert.equal(proof, 1);
    });
  });

  void test("wait of an empty iterable throws RangeError", async () => {
    await asyncio.run(async () => {
      await assert.rejects(asyncio.wait([]), RangeError);
      await assert.rejects(asyncio.wait(new Set<asyncio.Future<unknown>>()), RangeError);
    });
  });

  void test("wait of a bare promise or coroutine function throws TypeError", async () => {
    await asyncio.run(async () => {
      await assert.rejects(asyncio.wait([Promise.resolve(1)] as any), TypeError);
      await assert.rejects(asyncio.wait([async () => 1] as any), TypeError);
    });
  });

  void test("wait of a single Future instead of an iterable throws TypeError", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      await assert.rejects(asyncio.wait(fut as any), TypeError);
    });
  });

  void test("wait with an unknown returnWhen or a NaN timeout throws RangeError", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => 1);
      await assert.rejects(asyncio.wait([t], { returnWhen: -1 as any }), RangeError);
      await assert.rejects(asyncio.wait([t], { timeout: NaN }), RangeError);
      await t;
    });
  });
});

void describe("waitFor", () => {
  void test("waitFor returns the result of a task, a future, a coroutine function and a promise that finish in time", async () => {
    await asyncio.run(async () => {
      const task = asyncio.createTask(after(0.005, "task"));
      assert.equal(await asyncio.waitFor(task, 1), "task");
      const fut = newFuture<string>();
      asyncio.getRunningLoop().callSoon(() => fut.setResult("future"));
      assert.equal(await asyncio.waitFor(fut, 0.2), "future");
      assert.equal(await asyncio.waitFor(after(0.005, "fn"), 1), "fn");
      assert.equal(await asyncio.waitFor(Promise.resolve("promise"), 1), "promise");
    });
  });

  void test("waitFor with timeout null waits as long as it takes", async () => {
    await asyncio.run(async () => {
      assert.equal(await asyncio.waitFor(after(0.01, "done"), null), "done");
    });
  });

  void test("waitFor rethrows the awaitable's own error, not TimeoutError", async () => {
    await asyncio.run(async () => {
      const boom = new Error("inner failure");
      await assert.rejects(
        asyncio.waitFor(async () => {
          await asyncio.sleep(0);
          throw boom;
        }, 1),
        (e: unknown) => e === boom,
      );
    });
  });

  void test("on timeout waitFor cancels the task, waits for it to end, then throws TimeoutError", async () => {
    await asyncio.run(async () => {
      let running: boolean | null = null;
      const t = asyncio.createTask(async () => {
        running = true;
        try {
          await asyncio.sleep(3600);
        } finally {
          running = false;
        }
        return "done";
      });
      await assert.rejects(asyncio.waitFor(t, 0.02), asyncio.TimeoutError);
      assert.equal(t.done(), true);
      assert.equal(t.cancelled(), true);
      assert.equal(running, false);
    });
  });

  void test("waitFor waits for a task that needs time to handle its cancellation; TimeoutError's cause is the CancelledError", async () => {
    await asyncio.run(async () => {
      let taskDone = false;
      const t = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(3600);
        } catch (e) {
          await asyncio.sleep(0.01);
          throw e;
        } finally {
          taskDone = true;
        }
      });
      const err = await asyncio.waitFor(t, 0.001).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof asyncio.TimeoutError);
      assert.ok((err as Error).cause instanceof asyncio.CancelledError);
      assert.equal(taskDone, true);
    });
  });

  void test("waitFor with timeout 0 returns the result of a future that is already done", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<string>();
      fut.setResult("done");
      assert.equal(await asyncio.waitFor(fut, 0), "done");
      assert.equal(fut.done(), true);
    });
  });

  void test("waitFor with timeout 0 or less cancels a pending task, waits for it and throws TimeoutError", async () => {
    await asyncio.run(async () => {
      for (const limit of [0, -1]) {
        let running: boolean | null = null;
        const started = newFuture<void>();
        const t = asyncio.createTask(async () => {
          running = true;
          started.setResult();
          try {
            await asyncio.sleep(3600);
          } finally {
            running = false;
          }
          return "done";
        });
        await started;
        await assert.rejects(asyncio.waitFor(t, limit), asyncio.TimeoutError);
        assert.equal(t.cancelled(), true, `timeout ${limit}`);
        assert.equal(running, false, `timeout ${limit}`);
      }
    });
  });

  void test("waitFor with timeout 0 of a coroutine function throws TimeoutError without running it", async () => {
    await asyncio.run(async () => {
      let started = false;
      await assert.rejects(
        asyncio.waitFor(async () => {
          started = true;
        }, 0),
        asyncio.TimeoutError,
      );
      assert.equal(started, false);
    });
  });

  void test("waitFor of a coroutine function runs it inside the calling task", async () => {
    await asyncio.run(async () => {
      const me = asyncio.currentTask();
      const before = asyncio.allTasks().size;
      const seen = await asyncio.waitFor(async () => {
        await asyncio.sleep(0);
        return { task: asyncio.currentTask(), count: asyncio.allTasks().size };
      }, 1);
      assert.equal(seen.task, me);
      assert.equal(seen.count, before);
    });
  });

  void test("waitFor of a plain promise that never settles times out on time", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const start = loop.time();
      await assert.rejects(asyncio.waitFor(new Promise<never>(() => {}), 0.02), asyncio.TimeoutError);
      assert.ok(loop.time() - start < 2, "the wait ended on its deadline");
    });
  });

  void test("cancelling a task blocked in waitFor throws CancelledError, not TimeoutError, and cancels the inner task", async () => {
    await asyncio.run(async () => {
      for (const limit of [null, 60]) {
        const loop = asyncio.getRunningLoop();
        const blocking = asyncio.createTask(async () => {
          await loop.createFuture<void>();
        });
        const waiting = asyncio.createTask(() => asyncio.waitFor(blocking, limit));
        loop.callSoon(() => waiting.cancel());
        await assert.rejects(async () => {
          await waiting;
        }, (e: unknown) => e instanceof asyncio.CancelledError && !(e instanceof asyncio.TimeoutError));
        assert.equal(waiting.cancelled(), true, `timeout ${limit}`);
        assert.equal(blocking.cancelled(), true, `timeout ${limit}`);
      }
    });
  });

  void test("an awaitable that swallows the timeout's cancellation and returns a value makes waitFor return it", async () => {
    await asyncio.run(async () => {
      const result = await asyncio.waitFor(async () => {
        try {
          await asyncio.sleep(3600);
        } catch {
          return 42;
        }
        return 0;
      }, 0.01);
      assert.equal(result, 42);
    });
  });

  void test("an awaitable that throws another error while being cancelled by the timeout makes waitFor throw that error", async () => {
    await asyncio.run(async () => {
      class FooError extends Error {}
      const inner = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(0.5);
        } finally {
          // eslint-disable-next-line no-unsafe-finally
          throw new FooError("from finally");
        }
      });
      await assert.rejects(asyncio.waitFor(inner, 0.001), FooError);
    });
  });

  void test("a future completed by a callback before the deadline wins the race with the timeout", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const fut = loop.createFuture<string>();
      const waiting = asyncio.waitFor(fut, 0.2);
      loop.callSoon(() => fut.setResult("ok"));
      assert.equal(await waiting, "ok");
    });
  });

  void test("cancelling a task right after its waitFor got the result still cancels it", async () => {
    await asyncio.run(async () => {
      const inner = asyncio.createTask(async () => "done");
      let reachedEnd = false;
      const t = asyncio.createTask(async () => {
        await asyncio.waitFor(inner, 100);
        await asyncio.sleep(1);
        reachedEnd = true;
      });
      await tick();
      t.cancel();
      await assert.rejects(async () => {
        await t;
      }, asyncio.CancelledError);
      assert.equal(inner.done(), true);
      assert.equal(await inner, "done");
      assert.equal(reachedEnd, false);
    });
  });

  void test("waitFor with a NaN timeout throws RangeError", async () => {
    await asyncio.run(async () => {
      await assert.rejects(asyncio.waitFor(Promise.resolve(1), NaN), RangeError);
    });
  });

  // CPython 3.13: wait_for(create_task(w()), 1), w doing `await other.create_future()`, raises RuntimeError("...
  // attached to a different loop") at once.
  void test("waitFor around a task that awaits another loop's Future returns with that RuntimeError, never hangs", async () => {
    const other = asyncio.newEventLoop();
    try {
      await asyncio.run(async () => {
        const loop = asyncio.getRunningLoop();
        const start = loop.time();
        const t = asyncio.createTask(async () => {
          await other.createFuture();
        });
        await assert.rejects(
          asyncio.waitFor(t, 1),
          (e: unknown) => e instanceof asyncio.RuntimeError && /different loop/.test(e.message),
        );
        assert.equal(loop.time() - start < 0.9, true);
      });
    } finally {
      other.close();
    }
  });
});

void describe("asCompleted", () => {
  void test("iterating synchronously gives awaitables of the results in completion order", async () => {
    await asyncio.run(async () => {
      const values: string[] = [];
      for (const next of asyncio.asCompleted([after(0.03, "c"), after(0.01, "a"), after(0.02, "b")])) {
        values.push(await next);
      }
      assert.deepEqual(values, ["a", "b", "c"]);
    });
  });

  void test("iterating asynchronously gives the original tasks in completion order", async () => {
    await asyncio.run(async () => {
      const slow = asyncio.createTask(after(0.03, "slow"));
      const fast = asyncio.createTask(after(0.01, "fast"));
      const seen: asyncio.Future<string>[] = [];
      // TypeScript types an async iteration's values as awaited; at run time they are the Futures themselves.
      for await (const item of asyncio.asCompleted([slow, fast])) {
        const t = item as unknown as asyncio.Future<string>;
        assert.equal(t.done(), true);
        seen.push(t);
      }
      assert.equal(seen.length, 2);
      assert.equal(seen[0], fast);
      assert.equal(seen[1], slow);
    });
  });

  void test("iterating asynchronously over coroutine functions gives finished futures holding their results", async () => {
    await asyncio.run(async () => {
      const values: number[] = [];
      const fns = [after(0.02, 2), after(0.01, 1)];
      for await (const item of asyncio.asCompleted(fns)) {
        const f = item as unknown as asyncio.Future<number>;
        assert.ok(asyncio.isFuture(f));
        assert.equal(f.done(), true);
        assert.ok(!(fns as unknown[]).includes(f));
        values.push(await f);
      }
      assert.deepEqual(values, [1, 2]);
    });
  });

  void test("the sync form throws TimeoutError for the awaitables still pending when the timeout passes", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(async () => "a");
      const b = asyncio.createTask(after(10, "b"));
      const values: unknown[] = [];
      for (const next of asyncio.asCompleted([a, b], { timeout: 0.05 })) {
        try {
          values.push(await next);
        } catch (e) {
          values.push(e);
        }
      }
      assert.equal(values.length, 2);
      assert.equal(values[0], "a");
      assert.ok(values[1] instanceof asyncio.TimeoutError);
      assert.equal(b.cancelled(), false);
      b.cancel();
    });
  });

  void test("the async form throws TimeoutError from the iteration when the timeout passes", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(async () => "a");
      const b = asyncio.createTask(after(10, "b"));
      const values: unknown[] = [];
      try {
        for await (const t of asyncio.asCompleted([a, b], { timeout: 0.05 })) {
          values.push(await t);
        }
      } catch (e) {
        values.push(e);
      }
      assert.equal(values.length, 2);
      assert.equal(values[0], "a");
      assert.ok(values[1] instanceof asyncio.TimeoutError);
      b.cancel();
    });
  });

  void test("a timeout that is not reached has no effect", async () => {
    await asyncio.run(async () => {
      const values: string[] = [];
      for (const next of asyncio.asCompleted([after(0.005, "a")], { timeout: 1 })) values.push(await next);
      for await (const f of asyncio.asCompleted([after(0.005, "b")], { timeout: 1 })) values.push(await f);
      assert.deepEqual(values, ["a", "b"]);
    });
  });

  void test("the iterator can be resumed after a break, in both forms", async () => {
    await asyncio.run(async () => {
      const make = () => [0, 1, 2, 3].map((i) => async () => i);
      const it = asyncio.asCompleted(make());
      const collected: number[] = [];
      for (const next of it) {
        collected.push(await next);
        if (collected.length === 2) break;
      }
      for (const next of it) collected.push(await next);
      assert.deepEqual([...collected].sort(), [0, 1, 2, 3]);

      const it2 = asyncio.asCompleted(make());
      const collected2: number[] = [];
      for await (const f of it2) {
        collected2.push(await f);
        if (collected2.length === 2) break;
      }
      for await (const f of it2) collected2.push(await f);
      assert.deepEqual([...collected2].sort(), [0, 1, 2, 3]);
    });
  });

  void test("the first awaitable awaited gives the first result to complete, whichever position it came from", async () => {
    await asyncio.run(async () => {
      const awaitables = Array.from(asyncio.asCompleted([after(0.01, "a"), after(0.05, "b")]));
      assert.equal(awaitables.length, 2);
      assert.equal(await awaitables[1], "a");
      assert.equal(await awaitables[0], "b");
    });
  });

  void test("the awaitables of the sync form can be awaited concurrently", async () => {
    await asyncio.run(async () => {
      const awaitables = Array.from(asyncio.asCompleted([after(0.01, "a"), after(0.01, "b")]));
      const results = await asyncio.gather(...awaitables);
      assert.deepEqual(new Set(results), new Set(["a", "b"]));
    });
  });

  void test("the same task given twice is yielded once", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => "ham");
      const results: string[] = [];
      for (const next of asyncio.asCompleted([t, t, async () => "spam"])) results.push(await next);
      assert.equal(results.length, 2);
      assert.deepEqual(new Set(results), new Set(["ham", "spam"]));
      const tasks = [];
      for await (const f of asyncio.asCompleted([t, t])) tasks.push(f);
      assert.deepEqual(tasks, [t]);
    });
  });

  void test("the same coroutine function given twice runs once and is yielded once, as gather does", async () => {
    await asyncio.run(async () => {
      let runs = 0;
      const fn = async (): Promise<string> => {
        runs += 1;
        return "eggs";
      };
      const results: string[] = [];
      for (const next of asyncio.asCompleted([fn, fn, async () => "spam"])) results.push(await next);
      assert.equal(runs, 1);
      assert.equal(results.length, 2);
      assert.deepEqual(new Set(results), new Set(["eggs", "spam"]));
    });
  });

  void test("a failing awaitable's error is thrown by the awaitable the sync form gives for it", async () => {
    await asyncio.run(async () => {
      const outcomes: string[] = [];
      const failing = async (): Promise<string> => {
        await asyncio.sleep(0.01);
        throw new Error("bad one");
      };
      for (const next of asyncio.asCompleted([failing, after(0.02, "good")])) {
        try {
          outcomes.push(await next);
        } catch (e) {
          outcomes.push(`error: ${(e as Error).message}`);
        }
      }
      assert.deepEqual(outcomes, ["error: bad one", "good"]);
    });
  });

  void test("asCompleted accepts native promises", async () => {
    await asyncio.run(async () => {
      const values: number[] = [];
      for (const next of asyncio.asCompleted([Promise.resolve(1)])) values.push(await next);
      assert.deepEqual(values, [1]);
    });
  });

  void test("asCompleted of a Future or a promise instead of an iterable throws TypeError", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      assert.throws(() => asyncio.asCompleted(fut as any), TypeError);
      assert.throws(() => asyncio.asCompleted(Promise.resolve(1) as any), TypeError);
    });
  });
});

void describe("shield", () => {
  void test("shield passes the inner result through", async () => {
    await asyncio.run(async () => {
      const inner = newFuture<number>();
      const outer = asyncio.shield(inner);
      inner.setResult(42);
      assert.equal(await outer, 42);
    });
  });

  void test("shield passes the inner exception through", async () => {
    await asyncio.run(async () => {
      const inner = newFuture<number>();
      const outer = asyncio.shield(inner);
      await tick();
      const err = new Error("expected");
      inner.setException(err);
      await tick();
      assert.equal(outer.exception(), err);
    });
  });

  void test("cancelling the inner future cancels the shield", async () => {
    await asyncio.run(async () => {
      const inner = newFuture<number>();
      const outer = asyncio.shield(inner);
      await tick();
      inner.cancel();
      await tick();
      assert.equal(outer.cancelled(), true);
    });
  });

  void test("cancelling the shield leaves the inner future pending, and its result still arrives", async () => {
    await asyncio.run(async () => {
      const inner = newFuture<number>();
      const outer = asyncio.shield(inner);
      await tick();
      assert.equal(outer.cancel(), true);
      await tick();
      assert.equal(outer.cancelled(), true);
      assert.equal(inner.done(), false);
      inner.setResult(5);
      assert.equal(await inner, 5);
    });
  });

  void test("shield of a future that is already done returns that future", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      fut.setResult(42);
      const shielded = asyncio.shield(fut);
      assert.equal(shielded, fut);
      assert.equal(await shielded, 42);
    });
  });

  void test("cancelling a task awaiting a shielded coroutine cancels the task but the inner work completes", async () => {
    await asyncio.run(async () => {
      let proof = 0;
      const waiter = newFuture<void>();
      const outer = asyncio.createTask(async () => {
        await asyncio.shield(async () => {
          await waiter;
          proof += 1;
        });
        proof += 100;
      });
      await tick();
      outer.cancel();
      await assert.rejects(async () => {
        await outer;
      }, asyncio.CancelledError);
      waiter.setResult();
      await tick(2);
      assert.equal(proof, 1);
    });
  });

  void test("shield of a coroutine function runs it as a new task on the running loop", async () => {
    await asyncio.run(async () => {
      const me = asyncio.currentTask()!;
      const outer = asyncio.shield(async () => asyncio.currentTask()?.getName());
      assert.equal(outer.getLoop(), asyncio.getRunningLoop());
      const ranIn = await outer;
      assert.match(String(ranIn), /^Task-\d+$/);
      assert.notEqual(ranIn, me.getName());
    });
  });

  void test("cancelling a shield around gather leaves the gather and its children running", async () => {
    await asyncio.run(async () => {
      const child1 = newFuture<number>();
      const child2 = newFuture<number>();
      const parent = asyncio.gather(child1, child2);
      const outer = asyncio.shield(parent);
      await tick();
      outer.cancel();
      await tick();
      assert.equal(outer.cancelled(), true);
      child1.setResult(1);
      child2.setResult(2);
      assert.deepEqual(await parent, [1, 2]);
    });
  });

  void test("cancelling a gather of shields cancels the shields but not the futures they protect", async () => {
    await asyncio.run(async () => {
      const child1 = newFuture<number>();
      const child2 = newFuture<number>();
      const inner1 = asyncio.shield(child1);
      const inner2 = asyncio.shield(child2);
      const parent = asyncio.gather(inner1, inner2);
      await tick();
      parent.cancel();
      await tick();
      assert.ok(parent.exception() instanceof asyncio.CancelledError);
      assert.equal(inner1.cancelled(), true);
      assert.equal(inner2.cancelled(), true);
      assert.equal(child1.done(), false);
      assert.equal(child2.done(), false);
      child1.setResult(1);
      child2.setResult(2);
    });
  });

  void test("waitFor on a shielded task times out but the task keeps running and finishes", async () => {
    await asyncio.run(async () => {
      const release = newFuture<void>();
      const task = asyncio.createTask(async () => {
        await release;
        return "done";
      });
      await assert.rejects(asyncio.waitFor(asyncio.shield(task), 0.01), asyncio.TimeoutError);
      assert.equal(task.done(), false);
      assert.equal(task.cancelled(), false);
      release.setResult();
      assert.equal(await task, "done");
    });
  });

  void test("waitFor with timeout 0 on a shielded task cancels only the shield", async () => {
    await asyncio.run(async () => {
      const release = newFuture<void>();
      const task = asyncio.createTask(async () => {
        await release;
        return "done";
      });
      const shielded = asyncio.shield(task);
      await assert.rejects(asyncio.waitFor(shielded, 0), asyncio.TimeoutError);
      assert.equal(task.done(), false);
      assert.equal(shielded.cancelled(), true);
      release.setResult();
      assert.equal(await task, "done");
    });
  });

  void test("waitFor with no timeout on a shielded task returns its result", async () => {
    await asyncio.run(async () => {
      const task = asyncio.createTask(after(0.01, "done"));
      assert.equal(await asyncio.waitFor(asyncio.shield(task), null), "done");
      assert.equal(task.done(), true);
    });
  });
});

// Python's wait_for/gather wrap the coroutine of `q.get()` or `lock.acquire()` and cancel it on timeout; ours get a
// promise, which nothing can cancel, so the wait behind it is cancelled through the Future that follows it.
// Each expected outcome below is what CPython 3.13 prints for the same program.
void describe("a wait of ours given as a promise is cancelled with what follows it", () => {
  void test("waitFor(lock.acquire()) timing out leaves the lock to the next acquirer", async () => {
    await asyncio.testing.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      await assert.rejects(asyncio.waitFor(lock.acquire(), 1), asyncio.TimeoutError);
      lock.release();
      await asyncio.sleep(0);
      assert.equal(lock.locked(), false);
      assert.equal(await asyncio.waitFor(lock.acquire(), 1), true);
    });
  });

  void test("waitFor(queue.get()) timing out loses no item put afterwards", async () => {
    await asyncio.testing.run(async () => {
      const q = new asyncio.Queue<number>();
      await assert.rejects(asyncio.waitFor(q.get(), 1), asyncio.TimeoutError);
      await q.put(7);
      await asyncio.sleep(0);
      assert.equal(q.qsize(), 1);
      assert.equal(q.getNowait(), 7);
    });
  });

  void test("waitFor(queue.put()) timing out puts nothing later", async () => {
    await asyncio.testing.run(async () => {
      const q = new asyncio.Queue<number>(1);
      await q.put(1);
      await assert.rejects(asyncio.waitFor(q.put(2), 1), asyncio.TimeoutError);
      assert.equal(q.getNowait(), 1);
      await asyncio.sleep(0);
      assert.equal(q.qsize(), 0);
    });
  });

  void test("waitFor(semaphore.acquire()) timing out takes no permit", async () => {
    await asyncio.testing.run(async () => {
      const sem = new asyncio.Semaphore(0);
      await assert.rejects(asyncio.waitFor(sem.acquire(), 1), asyncio.TimeoutError);
      sem.release();
      await asyncio.sleep(0);
      assert.equal(sem.locked(), false);
    });
  });

  void test("a cancelled gather of event.wait() and sleep() leaves no waiter on the event", async () => {
    await asyncio.testing.run(async () => {
      const ev = new asyncio.Event();
      const g = asyncio.gather(ev.wait(), asyncio.sleep(3600));
      assert.equal(String(ev), "Event [unset, waiters: 1]");
      await asyncio.sleep(1);
      g.cancel();
      await assert.rejects(g, asyncio.CancelledError);
      assert.equal(String(ev), "Event [unset]");
    });
  });
});
