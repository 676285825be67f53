// Synchronization primitives: Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier.
// Behaviours follow CPython 3.13's asyncio (Lib/test/test_asyncio/test_locks.py), spelled the asyncio-ts way;
// ordering is checked by stepping the loop with sleep(0), never by measuring time.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import * as asyncio from "../src/index.js";
import { tick, until, newFuture } from "./helpers/loop.js";

async function rejectsCancelled(task: PromiseLike<unknown>): Promise<asyncio.CancelledError> {
  try {
    await task;
  } catch (error) {
    assert.ok(error instanceof asyncio.CancelledError, `expected CancelledError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the task to be cancelled");
}

// ------------------------------------------------------------------ Lock

describe("Lock", () => {
  test("a new lock is unlocked, and acquire() resolves with true and locks it", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      assert.equal(lock.locked(), false);
      assert.equal(await lock.acquire(), true);
      assert.equal(lock.locked(), true);
      lock.release();
      assert.equal(lock.locked(), false);
    }));

  test("releasing an unlocked lock throws RuntimeError", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      assert.throws(() => lock.release(), asyncio.RuntimeError);
      assert.throws(() => lock.release(), /not acquired/);
    }));

  test("a lock can be created and released outside a running loop without waiting", () => {
    const lock = new asyncio.Lock();
    assert.throws(() => lock.release(), asyncio.RuntimeError);
    return asyncio.run(async () => {
      await lock.acquire();
      assert.equal(lock.locked(), true);
      lock.release();
    });
  });

  test("acquire() on a held lock waits until the holder releases it", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      let acquired = false;
      const t = asyncio.createTask(async () => {
        await lock.acquire();
        acquired = true;
      });
      await tick(3);
      assert.equal(acquired, false);
      lock.release();
      await t;
      assert.equal(acquired, true);
      assert.equal(lock.locked(), true);
    }));

  test("waiters get the lock in the order they asked for it", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      const result: number[] = [];
      await lock.acquire();
      const make = (n: number) =>
        asyncio.createTask(async () => {
          await lock.acquire();
          result.push(n);
          lock.release();
        });
      const tasks = [make(1), make(2), make(3)];
      await tick();
      assert.deepEqual(result, []);
      lock.release();
      await asyncio.gather(...tasks);
      assert.deepEqual(result, [1, 2, 3]);
    }));

  test("each release lets exactly one waiter in", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      const result: number[] = [];
      await lock.acquire();
      const tasks = [1, 2, 3].map((n) =>
        asyncio.createTask(async () => {
          await lock.acquire();
          result.push(n);
        }),
      );
      await tick();
      lock.release();
      await tick(2);
      assert.deepEqual(result, [1]);
      lock.release();
      await tick(2);
      assert.deepEqual(result, [1, 2]);
      lock.release();
      await tick(2);
      assert.deepEqual(result, [1, 2, 3]);
      await asyncio.gather(...tasks);
    }));

  test("a new acquire() does not overtake a waiter whose wakeup is in flight", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      const order: string[] = [];
      await lock.acquire();
      const a = asyncio.createTask(async () => {
        await lock.acquire();
        order.push("a");
        lock.release();
      });
      await tick();
      lock.release();
      assert.equal(lock.locked(), false);
      // The lock is free, but `a` was woken first: this acquire queues behind it.
      await lock.acquire();
      order.push("main");
      lock.release();
      await a;
      assert.deepEqual(order, ["a", "main"]);
    }));

  test("a cancelled acquire() leaves no waiter behind and the lock as it was", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      const t = asyncio.createTask(() => lock.acquire());
      asyncio.getRunningLoop().callSoon(() => t.cancel());
      await rejectsCancelled(t);
      assert.equal(lock.statistics().waiters, 0);
      assert.equal(lock.locked(), true);
    }));

  test("a waiter cancelled while the holder releases is skipped, and the next waiter gets the lock", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      const lockit = async (blocker: asyncio.Future<void> | null): Promise<void> => {
        await lock.acquire();
        try {
          if (blocker !== null) await blocker;
        } finally {
          lock.release();
        }
      };
      const fa = newFuture<void>();
      const ta = asyncio.createTask(() => lockit(fa));
      await tick();
      assert.ok(lock.locked());
      const tb = asyncio.createTask(() => lockit(null));
      await tick();
      assert.equal(lock.statistics().waiters, 1);
      const tc = asyncio.createTask(() => lockit(null));
      await tick();
      assert.equal(lock.statistics().waiters, 2);
      fa.setResult();
      tb.cancel();
      await tick();
      // `a` released; `b`'s cancelled waiter was skipped and `c` woken, but `c` has not run yet.
      assert.equal(lock.locked(), false);
      await ta;
      await rejectsCancelled(tb);
      assert.ok(tb.cancelled());
      await tc;
      assert.equal(lock.locked(), false);
      assert.equal(lock.statistics().waiters, 0);
    }));

  test("cancelling the first waiter and releasing in one callback lets only one waiter in", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      let lockCount = 0;
      let callCount = 0;
      const lockit = async (): Promise<void> => {
        callCount++;
        await lock.acquire();
        lockCount++;
      };
      await lock.acquire();
      const t1 = asyncio.createTask(lockit);
      const t2 = asyncio.createTask(lockit);
      const t3 = asyncio.createTask(lockit);
      await tick();
      asyncio.getRunningLoop().callSoon(() => {
        t1.cancel();
        lock.release();
      });
      await rejectsCancelled(t1);
      await tick(2);
      assert.equal(lockCount, 1);
      assert.equal(callCount, 3);
      assert.ok(t1.cancelled() && t2.done());
      t3.cancel();
      await rejectsCancelled(t3);
      assert.ok(t3.cancelled());
      assert.equal(lock.statistics().waiters, 0);
    }));

  test("a waiter woken and then cancelled passes the lock on to the next waiter", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      const tb = asyncio.createTask(() => lock.acquire());
      await tick();
      assert.equal(lock.statistics().waiters, 1);
      const tc = asyncio.createTask(() => lock.acquire());
      tb.cancel();
      lock.release();
      await tick(2);
      assert.ok(lock.locked());
      assert.ok(tb.cancelled());
      assert.equal(await tc, true);
    }));

  test("a waiter woken by release() and cancelled before it runs does not keep the lock", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      const tb = asyncio.createTask(() => lock.acquire());
      await tick();
      lock.release(); // tb's wakeup is in flight
      tb.cancel(); // and now it is cancelled before it could run
      await rejectsCancelled(tb);
      assert.equal(lock.locked(), false);
      assert.equal(lock.statistics().waiters, 0);
      assert.equal(await lock.acquire(), true);
    }));

  test("acquire() takes a free lock at once when every queued waiter is cancelled", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      const tb = asyncio.createTask(() => lock.acquire());
      await tick();
      tb.cancel(); // its waiter is cancelled but still queued until tb runs
      lock.release();
      void lock.acquire();
      assert.equal(lock.locked(), true);
      await rejectsCancelled(tb);
      lock.release();
    }));

  test("acquiring a free lock does not yield to the loop", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      let ran = false;
      asyncio.getRunningLoop().callSoon(() => {
        ran = true;
      });
      await lock.acquire();
      assert.equal(ran, false);
      lock.release();
    }));

  test("the lock is not owned by a task: another task may release it", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      await asyncio.createTask(async () => lock.release());
      assert.equal(lock.locked(), false);
    }));

  test("a waiter timed out by waitFor leaves no waiter behind", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      await assert.rejects(asyncio.waitFor(() => lock.acquire(), 0.01), asyncio.TimeoutError);
      assert.equal(lock.statistics().waiters, 0);
      lock.release();
      assert.equal(lock.locked(), false);
    }));

  test("with() runs the body holding the lock, releases it, and resolves with the body's result", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      const result = await lock.with(async () => {
        assert.equal(lock.locked(), true);
        await tick();
        return 42;
      });
      assert.equal(result, 42);
      assert.equal(lock.locked(), false);
    }));

  test("with() accepts a synchronous body", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      assert.equal(await lock.with(() => "sync"), "sync");
      assert.equal(lock.locked(), false);
    }));

  test("with() releases the lock when the body throws and re-throws the error", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      const boom = new Error("boom");
      await assert.rejects(
        lock.with(async () => {
          throw boom;
        }),
        (e) => e === boom,
      );
      assert.equal(lock.locked(), false);
    }));

  test("with() cancelled while waiting never runs the body and leaves the lock to its holder", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await lock.acquire();
      let ran = false;
      const t = asyncio.createTask(() =>
        lock.with(() => {
          ran = true;
        }),
      );
      await tick();
      t.cancel();
      await rejectsCancelled(t);
      assert.equal(ran, false);
      assert.equal(lock.locked(), true);
      assert.equal(lock.statistics().waiters, 0);
    }));

  test("with() cancelled inside the body releases the lock before the error propagates", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      const t = asyncio.createTask(() => lock.with(() => asyncio.sleep(3600)));
      await tick();
      assert.equal(lock.locked(), true);
      t.cancel();
      await rejectsCancelled(t);
      assert.equal(lock.locked(), false);
    }));

  test("with() serializes concurrent bodies", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      let inside = 0;
      let most = 0;
      const body = async (): Promise<void> => {
        inside++;
        most = Math.max(most, inside);
        await tick(2);
        inside--;
      };
      await asyncio.gather(...Array.from({ length: 5 }, () => () => lock.with(body)));
      assert.equal(most, 1);
    }));

  test("with() rejects a body that is not a function with a TypeError naming it", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      await assert.rejects(lock.with(42 as any), (e: unknown) => e instanceof TypeError && /`body`/.test(e.message) && /42/.test(e.message));
      assert.equal(lock.locked(), false);
    }));

  test("util.inspect shows the state and the number of waiters", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      assert.equal(inspect(lock), "Lock [unlocked]");
      await lock.acquire();
      assert.equal(inspect(lock), "Lock [locked]");
      const tasks = [asyncio.createTask(() => lock.acquire()), asyncio.createTask(() => lock.acquire())];
      await tick();
      assert.equal(inspect(lock), "Lock [locked, waiters: 2]");
      assert.equal(String(lock), "Lock [locked, waiters: 2]");
      for (const t of tasks) t.cancel();
      await asyncio.gather(...tasks, { returnExceptions: true });
    }));

  test("statistics() reports whether it is locked and how many wait", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      assert.deepEqual(lock.statistics(), { locked: false, waiters: 0 });
      await lock.acquire();
      const t = asyncio.createTask(() => lock.acquire());
      await tick();
      assert.deepEqual(lock.statistics(), { locked: true, waiters: 1 });
      lock.release();
      await t;
      assert.deepEqual(lock.statistics(), { locked: true, waiters: 0 });
    }));

  test("a lock waited on in one loop cannot be waited on from another loop", async () => {
    const lock = new asyncio.Lock();
    await asyncio.run(async () => {
      await lock.acquire();
      const t = asyncio.createTask(() => lock.acquire());
      await tick();
      lock.release();
      await t;
    });
    await asyncio.run(async () => {
      await assert.rejects(lock.acquire(), (e: unknown) => e instanceof asyncio.RuntimeError && /different event loop/.test(e.message));
    });
  });
});

// ------------------------------------------------------------------ Event

describe("Event", () => {
  test("a new event is not set; set() and clear() switch the flag", () => {
    const ev = new asyncio.Event();
    assert.equal(ev.isSet(), false);
    ev.set();
    assert.equal(ev.isSet(), true);
    ev.set();
    assert.equal(ev.isSet(), true);
    ev.clear();
    assert.equal(ev.isSet(), false);
  });

  test("set() wakes every waiter and each wait() resolves with true", () =>
    asyncio.run(async () => {
      const ev = new asyncio.Event();
      const result: number[] = [];
      const make = (n: number) =>
        asyncio.createTask(async () => {
          const r = await ev.wait();
          result.push(n);
          return r;
        });
      const tasks = [make(1), make(2)];
      await tick();
      assert.deepEqual(result, []);
      const t3 = make(3);
      ev.set();
      await tick(2);
      // t3 was scheduled to start before set() woke t1 and t2, and finds the flag set: it goes first (as CPython).
      assert.deepEqual(result, [3, 1, 2]);
      assert.deepEqual(await asyncio.gather(...tasks, t3), [true, true, true]);
    }));

  test("wait() on a set event returns true without yielding to the loop", () =>
    asyncio.run(async () => {
      const ev = new asyncio.Event();
      ev.set();
      let ran = false;
      asyncio.getRunningLoop().callSoon(() => {
        ran = true;
      });
      assert.equal(await ev.wait(), true);
      assert.equal(ran, false);
    }));

  test("a cancelled wait() removes its waiter and leaves the flag alone", () =>
    asyncio.run(async () => {
      const ev = new asyncio.Event();
      const t = asyncio.createTask(() => ev.wait());
      await tick();
      assert.equal(ev.statistics().waiters, 1);
      t.cancel();
      await rejectsCancelled(t);
      assert.equal(ev.statistics().waiters, 0);
      assert.equal(ev.isSet(), false);
    }));

  test("waiters woken by set() return even if clear() runs before they do", () =>
    asyncio.run(async () => {
      const ev = new asyncio.Event();
      const t = asyncio.createTask(() => ev.wait());
      await tick();
      ev.set();
      ev.clear();
      assert.equal(ev.isSet(), false);
      assert.equal(await t, true);
      assert.equal(ev.statistics().waiters, 0);
    }));

  test("after clear(), wait() blocks again until the next set()", () =>
    asyncio.run(async () => {
      const ev = new asyncio.Event();
      ev.set();
      ev.clear();
      let done = false;
      const t = asyncio.createTask(async () => {
        await ev.wait();
        done = true;
      });
      await tick(3);
      assert.equal(done, false);
      ev.set();
      await t;
      assert.equal(done, true);
    }));

  test("util.inspect shows set/unset and the number of waiters", () =>
    asyncio.run(async () => {
      const ev = new asyncio.Event();
      assert.equal(inspect(ev), "Event [unset]");
      const t = asyncio.createTask(() => ev.wait());
      await tick();
      assert.equal(inspect(ev), "Event [unset, waiters: 1]");
      ev.set();
      assert.equal(inspect(ev), "Event [set, waiters: 1]");
      await t;
      assert.equal(inspect(ev), "Event [set]");
      assert.deepEqual(ev.statistics(), { isSet: true, waiters: 0 });
    }));

  test("an event created outside a loop binds to the loop it is first waited on", async () => {
    const ev = new asyncio.Event();
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => ev.wait());
      await tick();
      ev.set();
      await t;
    });
    ev.clear();
    await asyncio.run(async () => {
      await assert.rejects(ev.wait(), asyncio.RuntimeError);
    });
  });
});

// ------------------------------------------------------------------ Condition

describe("Condition", () => {
  test("wait() without holding the lock rejects with RuntimeError", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await assert.rejects(cond.wait(), (e: unknown) => e instanceof asyncio.RuntimeError && /un-acquired/.test(e.message));
    }));

  test("waitFor() without holding the lock rejects with RuntimeError once it has to wait", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await assert.rejects(cond.waitFor(() => false), asyncio.RuntimeError);
      // A predicate already true never waits, so it needs no lock (as CPython).
      assert.equal(await cond.waitFor(() => 7), 7);
    }));

  test("notify() and notifyAll() without holding the lock throw RuntimeError", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      assert.throws(() => cond.notify(), asyncio.RuntimeError);
      assert.throws(() => cond.notifyAll(), asyncio.RuntimeError);
    }));

  test("notify() with a count that is not a number throws TypeError naming n", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      assert.throws(() => cond.notify("2" as any), (e: unknown) => e instanceof TypeError && /`n`/.test(e.message));
      cond.release();
    }));

  test("wait() releases the lock while waiting and holds it again when it returns", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      const result: number[] = [];
      const make = (n: number) =>
        asyncio.createTask(async () => {
          await cond.acquire();
          try {
            assert.equal(await cond.wait(), true);
            assert.equal(cond.locked(), true);
            result.push(n);
          } finally {
            cond.release();
          }
          return true;
        });
      const tasks = [make(1), make(2), make(3)];
      await tick();
      assert.deepEqual(result, []);
      assert.equal(cond.locked(), false);

      assert.ok(await cond.acquire());
      cond.notify();
      await tick();
      assert.deepEqual(result, []);
      assert.ok(cond.locked());
      cond.release();
      await tick(2);
      assert.deepEqual(result, [1]);

      await cond.acquire();
      cond.notify(2);
      cond.release();
      await tick(4);
      assert.deepEqual(result, [1, 2, 3]);
      assert.deepEqual(await asyncio.gather(...tasks), [true, true, true]);
    }));

  test("notify(n) wakes the first n waiters in FIFO order", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      const result: number[] = [];
      const tasks = [1, 2, 3].map((n) =>
        asyncio.createTask(() =>
          cond.with(async () => {
            await cond.wait();
            result.push(n);
          }),
        ),
      );
      await tick();
      await cond.with(() => cond.notify(1));
      await tick(3);
      assert.deepEqual(result, [1]);
      await cond.with(() => cond.notify(2048));
      await asyncio.gather(...tasks);
      assert.deepEqual(result, [1, 2, 3]);
    }));

  test("notifyAll() wakes every waiter", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      const result: number[] = [];
      const tasks = [1, 2].map((n) =>
        asyncio.createTask(() =>
          cond.with(async () => {
            await cond.wait();
            result.push(n);
          }),
        ),
      );
      await until(() => cond.statistics().waiters === 2);
      await cond.with(() => cond.notifyAll());
      await asyncio.gather(...tasks);
      assert.deepEqual(result, [1, 2]);
      assert.equal(cond.statistics().waiters, 0);
    }));

  test("notify() with nobody waiting does nothing", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await cond.with(() => {
        cond.notify();
        cond.notifyAll();
      });
      assert.equal(cond.locked(), false);
    }));

  test("waitFor() waits until the predicate holds and resolves with its value", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      let presult: number | false = false;
      let calls = 0;
      const predicate = (): number | false => {
        calls++;
        return presult;
      };
      const t = asyncio.createTask(() => cond.with(() => cond.waitFor(predicate)));
      await tick();
      assert.equal(calls, 1);
      await cond.with(() => cond.notify());
      await tick(2);
      assert.equal(calls, 2);
      presult = 3;
      await cond.with(() => cond.notify());
      assert.equal(await t, 3);
      assert.equal(calls, 3);
    }));

  test("waitFor() returns at once when the predicate already holds", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      assert.equal(await cond.waitFor(() => "ready"), "ready");
      assert.equal(cond.locked(), true);
      cond.release();
    }));

  test("waitFor() rejects a predicate that is not a function, or that returns a promise, with TypeError", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      await assert.rejects(cond.waitFor(true as any), (e: unknown) => e instanceof TypeError && /`predicate`/.test(e.message));
      await assert.rejects(
        cond.waitFor(async () => true),
        (e: unknown) => e instanceof TypeError && /synchronous/.test(e.message),
      );
      cond.release();
    }));

  test("a cancelled wait() holds the lock again before the CancelledError reaches the caller", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      let lockedWhenCancelled: boolean | null = null;
      const t = asyncio.createTask(async () => {
        try {
          await cond.wait();
        } catch (e) {
          lockedWhenCancelled = cond.locked();
          throw e;
        }
      });
      await tick();
      assert.equal(cond.locked(), false);
      await cond.acquire();
      t.cancel();
      await tick(2);
      assert.equal(t.done(), false, "the cancelled wait must first take the lock back");
      cond.release();
      await rejectsCancelled(t);
      assert.equal(lockedWhenCancelled, true);
      assert.equal(cond.statistics().waiters, 0);
      assert.equal(cond.locked(), true);
    }));

  test("a wait() cancelled by its own task keeps the lock and leaves no waiter", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      const wait = asyncio.createTask(() => cond.wait());
      asyncio.getRunningLoop().callSoon(() => wait.cancel());
      await rejectsCancelled(wait);
      assert.equal(cond.statistics().waiters, 0);
      assert.equal(cond.locked(), true);
    }));

  test("a notified wait() cancelled while the lock is contested still returns holding the lock", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await cond.acquire();
      const waitTask = asyncio.createTask(() => cond.wait());
      await tick();
      assert.equal(cond.locked(), false);
      await cond.acquire();
      cond.notify();
      asyncio.getRunningLoop().callSoon(() => waitTask.cancel());
      asyncio.getRunningLoop().callSoon(() => cond.release());
      try {
        await waitTask;
      } catch (e) {
        assert.ok(e instanceof asyncio.CancelledError);
      }
      assert.equal(cond.locked(), true);
    }));

  test("a wait() cancelled after notify() while re-acquiring ends the task cancelled", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      let waited = false;
      const waiter = asyncio.createTask(() =>
        cond.with(async () => {
          waited = true;
          await cond.wait();
        }),
      );
      await tick();
      await cond.acquire();
      cond.notify();
      await tick();
      waiter.cancel();
      await tick();
      cond.release();
      await tick(3);
      assert.ok(waiter.cancelled());
      assert.ok(waited);
      assert.equal(cond.locked(), false);
    }));

  test("a CancelledError received while waiting for the notification is re-thrown unchanged", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      let raised: unknown = null;
      const task = asyncio.createTask(() =>
        cond.with(async () => {
          try {
            await cond.waitFor(() => false);
          } catch (e) {
            raised = e;
            throw e;
          }
        }),
      );
      await tick();
      task.cancel("foo");
      const err = await rejectsCancelled(task);
      assert.equal(err.message, "foo");
      assert.equal(err, raised);
    }));

  test("a CancelledError received while taking the lock back is re-thrown unchanged", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      let wake = false;
      let raised: unknown = null;
      const task = asyncio.createTask(() =>
        cond.with(async () => {
          try {
            await cond.waitFor(() => wake);
          } catch (e) {
            raised = e;
            throw e;
          }
        }),
      );
      await tick();
      await cond.acquire();
      wake = true;
      cond.notify();
      await tick();
      task.cancel("foo");
      cond.release();
      const err = await rejectsCancelled(task);
      assert.equal(err.message, "foo");
      assert.equal(err, raised);
    }));

  const consumerScenario = (sleepBeforeCancel: boolean) =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      let state = 0;
      const consumer = () =>
        cond.with(async () => {
          for (;;) {
            await cond.waitFor(() => state !== 0);
            if (state < 0) return;
            state -= 1;
          }
        });
      const c = [asyncio.createTask(consumer), asyncio.createTask(consumer)];
      await tick();
      await cond.with(async () => {
        state += 1;
        cond.notify(1);
        if (sleepBeforeCancel) await tick(); // the woken consumer now waits for the lock
        c[0]!.cancel();
        try {
          await asyncio.timeout(0.05).with(() => cond.waitFor(() => state === 0));
        } catch (e) {
          if (!(e instanceof asyncio.TimeoutError)) throw e;
        }
        assert.equal(state, 0, "the notification was lost with the cancelled consumer");
        state = -1;
        cond.notifyAll();
      });
      await c[1];
      await rejectsCancelled(c[0]!);
    });

  test("a consumer cancelled right after notify() passes the notification to another waiter", () => consumerScenario(false));

  test("a consumer cancelled while taking the lock back passes the notification to another waiter", () =>
    consumerScenario(true));

  test("waiting under a timeout ends with TimeoutError while holding the lock", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      await cond.with(async () => {
        await assert.rejects(asyncio.waitFor(() => cond.wait(), 0.01), asyncio.TimeoutError);
        assert.equal(cond.locked(), true);
      });
      assert.equal(cond.locked(), false);
    }));

  test("a condition can share an explicit lock, which acquire/release/locked operate on", () =>
    asyncio.run(async () => {
      const lock = new asyncio.Lock();
      const cond = new asyncio.Condition(lock);
      const cond2 = new asyncio.Condition(lock);
      await cond.acquire();
      assert.equal(lock.locked(), true);
      assert.equal(cond2.locked(), true);
      cond.release();
      assert.equal(lock.locked(), false);
      await lock.acquire();
      assert.equal(cond.locked(), true);
      const t = asyncio.createTask(() => cond2.with(() => "second"));
      await tick();
      assert.equal(cond.statistics().lockWaiters, 1);
      lock.release();
      assert.equal(await t, "second");
    }));

  test("a condition rejects a lock that is not a Lock with a TypeError naming it", () => {
    assert.throws(() => new asyncio.Condition({} as any), (e: unknown) => e instanceof TypeError && /`lock`/.test(e.message));
    assert.throws(() => new asyncio.Condition(new asyncio.Semaphore() as any), TypeError);
    assert.doesNotThrow(() => new asyncio.Condition(null));
  });

  test("with() holds the lock for the body and releases it however the body ends", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      assert.equal(await cond.with(() => cond.locked()), true);
      assert.equal(cond.locked(), false);
      await assert.rejects(cond.with(() => Promise.reject(new Error("x"))), /x/);
      assert.equal(cond.locked(), false);
    }));

  test("util.inspect and statistics() show the lock state and the waiters", () =>
    asyncio.run(async () => {
      const cond = new asyncio.Condition();
      assert.equal(inspect(cond), "Condition [unlocked]");
      await cond.acquire();
      assert.equal(inspect(cond), "Condition [locked]");
      const t = asyncio.createTask(() => cond.with(() => cond.wait()));
      cond.release();
      await tick();
      assert.equal(inspect(cond), "Condition [unlocked, waiters: 1]");
      assert.deepEqual(cond.statistics(), { locked: false, waiters: 1, lockWaiters: 0 });
      await cond.with(() => cond.notify());
      await t;
      assert.deepEqual(cond.statistics(), { locked: false, waiters: 0, lockWaiters: 0 });
    }));
});

// ------------------------------------------------------------------ Semaphore

describe("Semaphore", () => {
  test("the default value is 1", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore();
      assert.equal(sem.statistics().value, 1);
      assert.equal(sem.locked(), false);
      await sem.acquire();
      assert.equal(sem.locked(), true);
    }));

  test("a semaphore with value 0 is locked from the start", () => {
    const sem = new asyncio.Semaphore(0);
    assert.equal(sem.locked(), true);
  });

  test("a negative or fractional value is a RangeError naming the value; a non-number a TypeError", () => {
    assert.throws(() => new asyncio.Semaphore(-1), (e: unknown) => e instanceof RangeError && /`value`/.test(e.message) && /-1/.test(e.message));
    assert.throws(() => new asyncio.Semaphore(1.5), RangeError);
    assert.throws(() => new asyncio.Semaphore("2" as any), TypeError);
  });

  test("acquire() takes permits and release() gives them back", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(3);
      assert.equal(await sem.acquire(), true);
      assert.equal(await sem.acquire(), true);
      assert.equal(sem.statistics().value, 1);
      assert.equal(sem.locked(), false);
      await sem.acquire();
      assert.equal(sem.locked(), true);
      sem.release();
      sem.release();
      sem.release();
      assert.equal(sem.statistics().value, 3);
    }));

  test("release() of a plain Semaphore may raise the counter above its initial value", () => {
    const sem = new asyncio.Semaphore(1);
    sem.release();
    assert.equal(sem.statistics().value, 2);
  });

  test("acquire() waits while no permit is free and waiters are served in FIFO order", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore();
      const result: number[] = [];
      assert.ok(await sem.acquire());
      const make = (n: number) =>
        asyncio.createTask(async () => {
          await sem.acquire();
          result.push(n);
          return true;
        });
      const t1 = make(1);
      const t2 = make(2);
      await tick();
      assert.deepEqual(result, []);
      sem.release();
      await tick(2);
      assert.deepEqual(result, [1]);
      assert.ok(sem.locked());
      const t3 = make(3);
      await tick();
      sem.release();
      sem.release();
      await tick(2);
      assert.deepEqual(result, [1, 2, 3]);
      assert.deepEqual(await asyncio.gather(t1, t2, t3), [true, true, true]);
      assert.ok(sem.locked());
    }));

  test("locked() is true while waiters are queued, even when a permit is free", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(0);
      const t = asyncio.createTask(() => sem.acquire());
      await tick();
      sem.release(); // the permit goes to t at once
      sem.release(); // a free permit, but t has not run yet
      assert.equal(sem.statistics().value, 1);
      assert.equal(sem.locked(), true);
      await t;
      assert.equal(sem.locked(), false);
    }));

  test("a cancelled acquire() takes no permit and leaves no pending waiter", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore();
      await sem.acquire();
      const acquire = asyncio.createTask(() => sem.acquire());
      asyncio.getRunningLoop().callSoon(() => acquire.cancel());
      await rejectsCancelled(acquire);
      assert.equal(sem.statistics().waiters, 0);
      assert.equal(sem.statistics().value, 0);
    }));

  test("waiters cancelled before being woken let the next waiter take the permit", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(0);
      const ts = [0, 1, 2, 3].map(() => asyncio.createTask(() => sem.acquire()));
      await tick();
      ts[0]!.cancel();
      ts[1]!.cancel();
      sem.release();
      await tick(2);
      assert.ok(ts[2]!.done());
      assert.equal(ts[3]!.done(), false);
      ts[2]!.cancel();
      ts[3]!.cancel();
      await asyncio.gather(...ts, { returnExceptions: true });
    }));

  test("a cancelled waiter does not leave the next one hanging", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(0);
      const t1 = asyncio.createTask(() => sem.acquire());
      const t2 = asyncio.createTask(() => sem.acquire());
      await tick();
      t1.cancel();
      sem.release();
      await tick(2);
      assert.ok(sem.locked());
      assert.ok(t2.done());
    }));

  test("a waiter cancelled by the holder as it leaves does not hang the semaphore", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(1);
      let t2: asyncio.Task<void> | null = null;
      const c1 = async (): Promise<void> => {
        await sem.with(() => asyncio.sleep(0));
        t2!.cancel();
      };
      const c2 = async (): Promise<void> => {
        await sem.with(() => {
          assert.fail("c2 must not get the permit");
        });
      };
      const t1 = asyncio.createTask(c1);
      t2 = asyncio.createTask(c2);
      const [r1, r2] = await asyncio.gather(t1, t2, { returnExceptions: true });
      assert.equal(r1, undefined);
      assert.ok(r2 instanceof asyncio.CancelledError);
      assert.equal(await asyncio.waitFor(() => sem.acquire(), 1), true);
    }));

  test("a waiter woken and then cancelled gives its permit back to the next waiter", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(0);
      const t1 = asyncio.createTask(() => sem.acquire());
      const t2 = asyncio.createTask(() => sem.acquire());
      await tick();
      sem.release(); // hands the permit to t1
      t1.cancel(); // before t1 could run
      await rejectsCancelled(t1);
      assert.equal(await t2, true);
      assert.equal(sem.statistics().value, 0);
      assert.equal(sem.statistics().waiters, 0);
    }));

  test("two rounds of three tasks acquire in FIFO order", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(1);
      const result: string[] = [];
      const coro = async (tag: string): Promise<void> => {
        await sem.acquire();
        result.push(`${tag}_1`);
        await tick(2);
        sem.release();
        await sem.acquire();
        result.push(`${tag}_2`);
        await tick(2);
        sem.release();
      };
      await new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => coro("c1"));
        tg.createTask(() => coro("c2"));
        tg.createTask(() => coro("c3"));
      });
      assert.deepEqual(result, ["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"]);
    }));

  test("a release and re-acquire queues behind the waiters already queued", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(1);
      const result: number[] = [];
      const t1 = asyncio.createTask(async () => {
        await sem.acquire();
        result.push(1);
        return true;
      });
      const t2 = asyncio.createTask(async () => {
        await sem.acquire();
        result.push(2);
        sem.release();
        await sem.acquire();
        result.push(4);
        return true;
      });
      const t3 = asyncio.createTask(async () => {
        await sem.acquire();
        result.push(3);
        return true;
      });
      await tick();
      sem.release();
      sem.release();
      await asyncio.gather(t1, t2, t3);
      assert.deepEqual(result, [1, 2, 3, 4]);
    }));

  test("a waiter cancelled before any release is skipped", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(0);
      const result: number[] = [];
      const make = (n: number) =>
        asyncio.createTask(async () => {
          await sem.acquire();
          result.push(n);
          return true;
        });
      const ts = [make(1), make(2), make(3)];
      await tick();
      ts[0]!.cancel();
      await tick();
      sem.release();
      sem.release();
      await asyncio.gather(...ts, { returnExceptions: true });
      assert.deepEqual(result, [2, 3]);
    }));

  test("a successful acquire() wakes every waiter it was holding back for FIFO order", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(0);
      const result: number[] = [];
      let t4: asyncio.Task<boolean> | null = null;
      const t1 = asyncio.createTask(async () => {
        assert.equal(sem.statistics().value, 0);
        await sem.acquire();
        // Every waiter queued behind us has been woken by now.
        assert.equal(sem.statistics().value, 0);
        t4 = asyncio.createTask(async () => {
          result.push(4);
          return true;
        });
        result.push(1);
        return true;
      });
      const t2 = asyncio.createTask(async () => {
        sem.release();
        sem.release();
        sem.release();
        assert.equal(sem.statistics().value, 2);
        assert.ok(sem.locked()); // t1 holds a permit but has not run yet
        await sem.acquire();
        result.push(2);
        return true;
      });
      const t3 = asyncio.createTask(async () => {
        await sem.acquire();
        assert.ok(sem.locked());
        result.push(3);
        return true;
      });
      await tick();
      assert.equal(sem.statistics().value, 2);
      assert.equal(sem.statistics().waiters, 3);
      await until(() => t4 !== null);
      await asyncio.gather(t1, t2, t3, t4!);
      // t1 woke t2 and t3 before creating t4. CPython runs them 1, 2, 3, 4; here a new task's first step runs
      // in its turn of the loop while woken tasks continue right after it, so 4 may come before 2 and 3.
      assert.equal(result[0], 1);
      assert.deepEqual(result.filter((n) => n !== 4), [1, 2, 3]);
      assert.equal(sem.statistics().value, 0);
    }));

  test("with() holds a permit for the body and releases it", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(2);
      const r = await sem.with(async () => {
        assert.equal(sem.statistics().value, 1);
        return "body";
      });
      assert.equal(r, "body");
      assert.equal(sem.statistics().value, 2);
    }));

  test("with() limits concurrency to the number of permits", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(2);
      let inside = 0;
      let most = 0;
      await asyncio.gather(
        ...Array.from({ length: 6 }, () => () =>
          sem.with(async () => {
            inside++;
            most = Math.max(most, inside);
            await tick(2);
            inside--;
          }),
        ),
      );
      assert.equal(most, 2);
      assert.equal(sem.statistics().value, 2);
    }));

  test("with() cancelled while waiting takes no permit", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(1);
      await sem.acquire();
      const t = asyncio.createTask(() => sem.with(() => assert.fail("must not run")));
      await tick();
      t.cancel();
      await rejectsCancelled(t);
      sem.release();
      assert.deepEqual(sem.statistics(), { value: 1, locked: false, waiters: 0 });
    }));

  test("util.inspect shows locked/unlocked, the value and the waiters", () =>
    asyncio.run(async () => {
      const sem = new asyncio.Semaphore(1);
      assert.equal(inspect(sem), "Semaphore [unlocked, value: 1]");
      await sem.acquire();
      assert.equal(inspect(sem), "Semaphore [locked]");
      const ts = [asyncio.createTask(() => sem.acquire()), asyncio.createTask(() => sem.acquire())];
      await tick();
      assert.equal(inspect(sem), "Semaphore [locked, waiters: 2]");
      for (const t of ts) t.cancel();
      await asyncio.gather(...ts, { returnExceptions: true });
    }));
});

describe("BoundedSemaphore", () => {
  test("releasing above the initial value is a RangeError naming the value and the bound", () => {
    const sem = new asyncio.BoundedSemaphore();
    assert.throws(
      () => sem.release(),
      (e: unknown) => e instanceof RangeError && /too many times/.test(e.message) && /bound 1/.test(e.message),
    );
  });

  test("it acquires and releases like a Semaphore up to its bound", () =>
    asyncio.run(async () => {
      const sem = new asyncio.BoundedSemaphore(2);
      await sem.acquire();
      await sem.acquire();
      assert.ok(sem.locked());
      sem.release();
      sem.release();
      assert.throws(() => sem.release(), RangeError);
      assert.deepEqual(sem.statistics(), { value: 2, locked: false, waiters: 0, bound: 2 });
    }));

  test("a bounded semaphore is a Semaphore and checks its value the same way", () => {
    const sem = new asyncio.BoundedSemaphore(3);
    assert.ok(sem instanceof asyncio.Semaphore);
    assert.equal(inspect(sem), "BoundedSemaphore [unlocked, value: 3]");
    assert.throws(() => new asyncio.BoundedSemaphore(-1), (e: unknown) => e instanceof RangeError && /BoundedSemaphore/.test(e.message));
  });

  test("with() on a bounded semaphore releases without going over the bound", () =>
    asyncio.run(async () => {
      const sem = new asyncio.BoundedSemaphore(1);
      await sem.with(() => asyncio.sleep(0));
      await sem.with(() => undefined);
      assert.equal(sem.statistics().value, 1);
    }));
});

// ------------------------------------------------------------------ Barrier

describe("Barrier", () => {
  const N = 5;

  async function gatherTasks<T>(n: number, coro: () => Promise<T>): Promise<T[]> {
    const tasks = Array.from({ length: n }, () => asyncio.createTask(coro));
    return (await asyncio.gather(...tasks)) as T[];
  }

  test("parties must be an integer of at least 1: RangeError otherwise, TypeError for a non-number", () => {
    assert.throws(() => new asyncio.Barrier(0), (e: unknown) => e instanceof RangeError && /`parties`/.test(e.message) && /0/.test(e.message));
    assert.throws(() => new asyncio.Barrier(-4), RangeError);
    assert.throws(() => new asyncio.Barrier(2.5), RangeError);
    assert.throws(() => new asyncio.Barrier("3" as any), TypeError);
    assert.ok(new asyncio.Barrier(N) instanceof asyncio.Barrier);
  });

  test("a barrier is not itself awaitable (it has no then)", () => {
    const barrier = new asyncio.Barrier(N);
    assert.equal("then" in barrier, false);
    assert.match(inspect(barrier), /filling/);
  });

  test("util.inspect follows the states: filling, draining, resetting, broken", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      assert.equal(inspect(barrier), `Barrier [filling, waiters: 0/${N}]`);
      const waiters: asyncio.Task<number>[] = [];
      for (let i = 0; i < 2; i++) waiters.push(asyncio.createTask(() => barrier.wait()));
      await until(() => barrier.nWaiting === 2);
      assert.equal(inspect(barrier), `Barrier [filling, waiters: 2/${N}]`);
      for (let i = barrier.nWaiting; i < barrier.parties; i++) waiters.push(asyncio.createTask(() => barrier.wait()));
      await until(() => barrier.statistics().state === "draining");
      assert.match(inspect(barrier), /^Barrier \[draining, waiters: 0\/5\]$/);
      for (let i = 0; i < 2; i++) waiters.push(asyncio.createTask(() => barrier.wait()));
      await tick();
      await barrier.reset();
      assert.match(inspect(barrier), /^Barrier \[(resetting|filling)/);
      for (let i = 0; i < 2; i++) waiters.push(asyncio.createTask(() => barrier.wait()));
      await tick(3);
      await barrier.abort();
      assert.equal(inspect(barrier), "Barrier [broken]");
      assert.equal(barrier.broken, true);
      await asyncio.gather(...waiters, { returnExceptions: true });
    }));

  test("a barrier of one party returns index 0 at once, every time", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(1);
      assert.equal(await barrier.wait(), 0);
      assert.equal(await barrier.wait(), 0);
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
    }));

  test("tasks arriving one by one are held until the last party arrives", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      const results: boolean[] = [];
      const tasks: asyncio.Task<void>[] = [];
      for (let i = 0; i < N - 1; i++) {
        tasks.push(
          asyncio.createTask(async () => {
            await barrier.wait();
            results.push(true);
          }),
        );
        await until(() => barrier.nWaiting === i + 1);
      }
      assert.equal(results.length, 0);
      tasks.push(
        asyncio.createTask(async () => {
          await barrier.wait();
          results.push(true);
        }),
      );
      await asyncio.gather(...tasks);
      assert.equal(results.length, N);
      assert.equal(barrier.nWaiting, 0);
    }));

  test("every party gets a distinct index from 0 to parties - 1, in arrival order", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      const indices = await gatherTasks(N, () => barrier.wait());
      assert.deepEqual(indices, [0, 1, 2, 3, 4]);
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
    }));

  test("a barrier can be passed again and again by the same tasks", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      const log: number[] = [];
      await gatherTasks(N, async () => {
        for (let round = 0; round < 3; round++) {
          await barrier.wait();
          log.push(round);
        }
      });
      assert.deepEqual(log, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    }));

  test("while the round drains, the state is draining until the last task leaves", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      const results: boolean[] = [];
      await gatherTasks(N, () =>
        barrier.with(() => {
          results.push(inspect(barrier).includes("draining"));
        }),
      );
      assert.equal(results.length, N);
      assert.deepEqual(results.slice(0, N - 1), [true, true, true, true]);
      assert.equal(results[N - 1], false);
      assert.equal(barrier.nWaiting, 0);
    }));

  test("tasks that wait again while the barrier drains are held for the next round", () =>
    asyncio.run(async () => {
      const rewait = 2;
      const barrier = new asyncio.Barrier(N);
      const barrierNoWaiting = new asyncio.Barrier(N - rewait);
      let rewaitN = rewait;
      await gatherTasks(N, async () => {
        await barrier.wait();
        if (rewaitN > 0) {
          rewaitN--;
          await barrier.wait();
        } else {
          await barrierNoWaiting.wait();
          await barrier.wait();
        }
      });
      assert.equal(barrier.nWaiting, 0);
    }));

  test("with(body) passes the task's index to the body and resolves with its result", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(3);
      const results = await gatherTasks(3, () => barrier.with((i) => `index ${i}`));
      assert.deepEqual(results, ["index 0", "index 1", "index 2"]);
    }));

  test("a task cancelled while waiting gives its place back and the barrier stays usable", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(3);
      const results: boolean[] = [];
      const coro = async (): Promise<void> => {
        await barrier.wait();
        results.push(true);
      };
      const t1 = asyncio.createTask(coro);
      await until(() => barrier.nWaiting === 1);
      const t2 = asyncio.createTask(coro);
      await until(() => barrier.nWaiting === 2);
      t1.cancel();
      await rejectsCancelled(t1);
      assert.ok(t1.cancelled());
      assert.equal(barrier.nWaiting, 1);
      const t3 = asyncio.createTask(coro);
      await until(() => barrier.nWaiting === 2);
      const t4 = asyncio.createTask(coro);
      await asyncio.gather(t2, t3, t4);
      assert.equal(results.length, 3);
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
    }));

  test("reset() of an empty barrier leaves it filling and usable", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      await barrier.reset();
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
      assert.deepEqual(await gatherTasks(N, () => barrier.wait()), [0, 1, 2, 3, 4]);
    }));

  test("reset() while tasks wait makes them fail with BrokenBarrierError, then the barrier works again", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      const waiters = Array.from({ length: N - 1 }, () => asyncio.createTask(() => barrier.wait()));
      await tick();
      await barrier.reset();
      const results = await asyncio.gather(...waiters, { returnExceptions: true });
      for (const r of results) assert.ok(r instanceof asyncio.BrokenBarrierError);
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
      assert.deepEqual(await gatherTasks(N, () => barrier.wait()), [0, 1, 2, 3, 4]);
    }));

  test("reset() by the releasing task while the others still drain makes them fail, and the barrier works again", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(3);
      const outcomes = await gatherTasks(3, async () => {
        try {
          const i = await barrier.wait();
          if (i === 2) await barrier.reset(); // the last one in returns first, before the others have left
          return `ok ${i}`;
        } catch (e) {
          if (!(e instanceof asyncio.BrokenBarrierError)) throw e;
          return "broken";
        }
      });
      assert.deepEqual(outcomes, ["broken", "broken", "ok 2"]);
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
      assert.deepEqual(await gatherTasks(3, () => barrier.wait()), [0, 1, 2]);
    }));

  test("abort() breaks the barrier: waiting tasks and later wait() calls get BrokenBarrierError", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      const waiters = Array.from({ length: 2 }, () => asyncio.createTask(() => barrier.wait()));
      await tick();
      await barrier.abort();
      assert.equal(barrier.broken, true);
      for (const r of await asyncio.gather(...waiters, { returnExceptions: true })) {
        assert.ok(r instanceof asyncio.BrokenBarrierError);
      }
      await assert.rejects(barrier.wait(), asyncio.BrokenBarrierError);
      assert.equal(barrier.nWaiting, 0);
    }));

  test("a task that fails inside the barrier and aborts it releases every other task with BrokenBarrierError", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const failure = new Error("failure inside the barrier");
      await gatherTasks(N, async () => {
        try {
          await barrier.with((i) => {
            if (i === Math.floor(N / 2)) throw failure;
          });
          await barrier.with(() => {
            results1.push(true);
          });
        } catch (e) {
          if (e instanceof asyncio.BrokenBarrierError) results2.push(true);
          else if (e === failure) await barrier.abort();
          else throw e;
        }
      });
      assert.equal(barrier.broken, true);
      assert.equal(results1.length, 0);
      assert.equal(results2.length, N - 1);
      assert.equal(barrier.nWaiting, 0);
    }));

  test("reset() repairs an aborted barrier for the next round", () =>
    asyncio.run(async () => {
      const barrier1 = new asyncio.Barrier(N);
      const barrier2 = new asyncio.Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const results3: boolean[] = [];
      const failure = new Error("failure");
      await gatherTasks(N, async () => {
        try {
          const i = await barrier1.wait();
          if (i === Math.floor(N / 2)) throw failure;
          await barrier1.wait();
          results1.push(true);
        } catch (e) {
          if (e instanceof asyncio.BrokenBarrierError) results2.push(true);
          else if (e === failure) await barrier1.abort();
          else throw e;
        }
        const i = await barrier2.wait();
        if (i === Math.floor(N / 2)) await barrier1.reset();
        await barrier2.wait();
        await barrier1.wait();
        results3.push(true);
      });
      assert.equal(barrier1.broken, false);
      assert.equal(results1.length, 0);
      assert.equal(results2.length, N - 1);
      assert.equal(results3.length, N);
      assert.equal(barrier1.nWaiting, 0);
    }));

  test("statistics() reports parties, waiting tasks and the state", () =>
    asyncio.run(async () => {
      const barrier = new asyncio.Barrier(2);
      assert.deepEqual(barrier.statistics(), { parties: 2, nWaiting: 0, state: "filling", broken: false });
      const t = asyncio.createTask(() => barrier.wait());
      await until(() => barrier.nWaiting === 1);
      assert.deepEqual(barrier.statistics(), { parties: 2, nWaiting: 1, state: "filling", broken: false });
      await barrier.abort();
      await assert.rejects(t.then(), asyncio.BrokenBarrierError);
      assert.deepEqual(barrier.statistics(), { parties: 2, nWaiting: 0, state: "broken", broken: true });
    }));
});
