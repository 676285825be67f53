import { test } from "node:test";
import assert from "node:assert/strict";
import * as asyncio from "../src/index.js";
import { isInstance, notInstance, rejection } from "./helpers/expect.js";

class MyError extends Error {
  override name = "MyError";
}

/** Blocks the thread for `ms` milliseconds, as a busy loop would. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

test("an expired timeout throws TimeoutError whose cause is the CancelledError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(0.01);
    const error = await rejection(cm.with(() => asyncio.sleep(10)));
    isInstance(error, asyncio.TimeoutError);
    isInstance(error.cause, asyncio.CancelledError);
    assert.equal(cm.expired(), true);
  });
});

test("the body sees a CancelledError at its await when the timeout expires", async () => {
  await asyncio.run(async () => {
    let seen: unknown = null;
    const error = await rejection(
      asyncio.timeout(0.01).with(async () => {
        try {
          await asyncio.sleep(10);
        } catch (e) {
          seen = e;
          throw e;
        }
      }),
    );
    isInstance(seen, asyncio.CancelledError);
    isInstance(error, asyncio.TimeoutError);
    assert.equal(error.cause, seen);
  });
});

test("a body that finishes in time returns its value and the timeout does not expire", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const cm = asyncio.timeout(10);
    const value = await cm.with(async (t) => {
      assert.equal(t, cm);
      await asyncio.sleep(0.01);
      return "in time";
    });
    assert.equal(value, "in time");
    assert.equal(cm.expired(), false);
    assert.ok(cm.when()! > loop.time(), "the deadline is in the future");
  });
});

test("the task that used a timeout is not cancelled once the TimeoutError was raised", async () => {
  await asyncio.run(async () => {
    const task = asyncio.createTask(async () => {
      const error = await rejection(asyncio.timeout(0.001).with(() => asyncio.sleep(10)));
      isInstance(error, asyncio.TimeoutError);
      await asyncio.sleep(0.001);
      return "after";
    });
    assert.equal(await task, "after");
    assert.equal(task.cancelled(), false);
  });
});

test("timeout(null) never expires and has no deadline", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(null);
    assert.equal(cm.when(), null);
    assert.equal(await cm.with(() => asyncio.sleep(0.02, "slept")), "slept");
    assert.equal(cm.expired(), false);
    assert.equal(cm.when(), null);
  });
});

test("timeoutAt(null) never expires and has no deadline", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeoutAt(null);
    assert.equal(await cm.with(() => asyncio.sleep(0.02, "slept")), "slept");
    assert.equal(cm.expired(), false);
    assert.equal(cm.when(), null);
  });
});

test("timeoutAt expires at the given loop time, which when() reports", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const deadline = loop.time() + 0.01;
    const cm = asyncio.timeoutAt(deadline);
    assert.equal(cm.when(), deadline);
    const error = await rejection(cm.with(() => asyncio.sleep(10)));
    isInstance(error, asyncio.TimeoutError);
    assert.equal(cm.expired(), true);
    assert.equal(cm.when(), deadline);
    assert.ok(loop.time() >= deadline, "the timeout did not fire before its deadline");
  });
});

test("timeout(delay) sets its deadline delay seconds from the loop's now", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const t0 = loop.time();
    const cm = asyncio.timeout(5);
    const t1 = loop.time();
    assert.ok(cm.when()! >= t0 + 5 && cm.when()! <= t1 + 5, `when() = ${cm.when()}, expected within [${t0 + 5}, ${t1 + 5}]`);
  });
});

test("timeout(0) expires even when the body only yields once", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const t0 = loop.time();
    const cm = asyncio.timeout(0);
    const error = await rejection(cm.with(() => asyncio.sleep(0)));
    const t1 = loop.time();
    isInstance(error, asyncio.TimeoutError);
    assert.equal(cm.expired(), true);
    assert.ok(t0 <= cm.when()! && cm.when()! <= t1, `when() = ${cm.when()}, expected within [${t0}, ${t1}]`);
  });
});

test("a timeout in the past expires at the body's first await", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const t0 = loop.time();
    const cm = asyncio.timeout(-11);
    const error = await rejection(cm.with(() => asyncio.sleep(0)));
    isInstance(error, asyncio.TimeoutError);
    assert.equal(cm.expired(), true);
    assert.ok(cm.when()! <= t0, "the deadline is in the past");
  });
});

test("an error thrown by the body passes through unchanged and the timeout does not expire", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(0.01);
    const boom = new MyError("boom");
    const error = await rejection(
      cm.with(() => {
        throw boom;
      }),
    );
    assert.equal(error, boom);
    assert.equal(cm.expired(), false);
  });
});

test("an error thrown while the body handles the expiry passes through instead of TimeoutError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(0.01);
    const error = await rejection(
      cm.with(async () => {
        try {
          await asyncio.sleep(1);
        } finally {
          // eslint-disable-next-line no-unsafe-finally
          throw new MyError("in cleanup");
        }
      }),
    );
    isInstance(error, MyError);
    assert.equal(cm.expired(), true);
    assert.equal(asyncio.currentTask()!.cancelling(), 0);
  });
});

test("a cancellation from outside the timeout passes through as CancelledError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(10);
    const task = asyncio.createTask(() => cm.with(() => asyncio.sleep(10)));
    await asyncio.sleep(0.01);
    task.cancel();
    const error = await rejection(task);
    isInstance(error, asyncio.CancelledError);
    notInstance(error, asyncio.TimeoutError);
    assert.equal(task.cancelled(), true);
    assert.equal(cm.expired(), false);
  });
});

test("the task cancelling itself inside a timeout that has not expired gets CancelledError", async () => {
  await asyncio.run(async () => {
    const task = asyncio.createTask(async () => {
      const cm = asyncio.timeout(10);
      try {
        await cm.with(async () => {
          asyncio.currentTask()!.cancel();
          await asyncio.sleep(10);
        });
      } finally {
        assert.equal(cm.expired(), false);
      }
    });
    isInstance((await rejection(task)), asyncio.CancelledError);
    assert.equal(task.cancelled(), true);
  });
});

test("an outside cancel arriving after the expiry passes as CancelledError, not TimeoutError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(0.01);
    const ready = asyncio.getRunningLoop().createFuture<void>();
    const task = asyncio.createTask(() =>
      cm.with(async () => {
        try {
          await asyncio.sleep(10);
        } catch {
          // The timeout fired; let the owner cancel us too before we end.
          ready.setResult();
          await asyncio.sleep(10);
        }
      }),
    );
    await ready;
    task.cancel();
    const error = await rejection(task);
    isInstance(error, asyncio.CancelledError);
    assert.equal(cm.expired(), true);
  });
});

test("nested timeouts with the same deadline: only the outermost raises TimeoutError", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const deadline = loop.time() + 0.01;
    const cm1 = asyncio.timeoutAt(deadline);
    const cm2 = asyncio.timeoutAt(deadline);
    let innerError: unknown = null;
    const error = await rejection(
      cm1.with(async () => {
        try {
          await cm2.with(() => asyncio.sleep(10));
        } catch (e) {
          innerError = e;
          throw e;
        }
      }),
    );
    isInstance(innerError, asyncio.CancelledError);
    notInstance(innerError, asyncio.TimeoutError);
    isInstance(error, asyncio.TimeoutError);
    assert.equal(cm1.expired(), true);
    assert.equal(cm2.expired(), true);
  });
});

test("an inner timeout expiring only affects the inner block", async () => {
  await asyncio.run(async () => {
    const outer = asyncio.timeout(10);
    const inner = asyncio.timeout(0.01);
    const value = await outer.with(async () => {
      const error = await rejection(inner.with(() => asyncio.sleep(10)));
      isInstance(error, asyncio.TimeoutError);
      await asyncio.sleep(0.01);
      return "outer went on";
    });
    assert.equal(value, "outer went on");
    assert.equal(inner.expired(), true);
    assert.equal(outer.expired(), false);
    assert.equal(asyncio.currentTask()!.cancelling(), 0);
  });
});

test("the outer timeout expiring inside an inner one raises TimeoutError at the outer", async () => {
  await asyncio.run(async () => {
    const outer = asyncio.timeout(0.01);
    const inner = asyncio.timeout(10);
    let innerError: unknown = null;
    const error = await rejection(
      outer.with(async () => {
        try {
          await inner.with(() => asyncio.sleep(10));
        } catch (e) {
          innerError = e;
          throw e;
        }
      }),
    );
    isInstance(innerError, asyncio.CancelledError);
    isInstance(error, asyncio.TimeoutError);
    assert.equal(outer.expired(), true);
    assert.equal(inner.expired(), false);
  });
});

test("after an inner timeout handled its expiry, the outer one still interrupts a busy body", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    loop.slowCallbackDuration = 10;
    const t0 = loop.time();
    let innerTimedOut = false;
    const error = await rejection(
      asyncio.timeout(0.1).with(async () => {
        const innerError = await rejection(
          asyncio.timeout(0.01).with(async () => {
            busyWait(30);
            await asyncio.sleep(1);
          }),
        );
        innerTimedOut = innerError instanceof asyncio.TimeoutError;
        await asyncio.sleep(10);
      }),
    );
    assert.equal(innerTimedOut, true);
    isInstance(error, asyncio.TimeoutError);
    assert.ok(loop.time() - t0 < 5, "the outer timeout interrupted the body long before its 10 s sleep");
  });
});

test("reschedule to a later deadline keeps the body from timing out", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const cm = asyncio.timeout(0.01);
    const value = await cm.with(async (t) => {
      const later = loop.time() + 10;
      t.reschedule(later);
      assert.equal(t.when(), later);
      await asyncio.sleep(0.03);
      return "kept going";
    });
    assert.equal(value, "kept going");
    assert.equal(cm.expired(), false);
  });
});

test("reschedule to an earlier deadline makes the timeout expire sooner", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const cm = asyncio.timeout(10);
    const t0 = loop.time();
    const error = await rejection(
      cm.with(async (t) => {
        t.reschedule(loop.time() + 0.01);
        await asyncio.sleep(10);
      }),
    );
    isInstance(error, asyncio.TimeoutError);
    assert.equal(cm.expired(), true);
    assert.ok(loop.time() - t0 < 5, "the earlier deadline interrupted the 10 s sleep");
  });
});

test("reschedule(null) disables the deadline", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(0.01);
    const value = await cm.with(async (t) => {
      t.reschedule(null);
      assert.equal(t.when(), null);
      await asyncio.sleep(0.03);
      return "no deadline";
    });
    assert.equal(value, "no deadline");
    assert.equal(cm.expired(), false);
  });
});

test("reschedule to a time already past expires at the next await", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const cm = asyncio.timeout(10);
    const error = await rejection(
      cm.with(async (t) => {
        t.reschedule(loop.time() - 1);
        await asyncio.sleep(0);
        assert.fail("the sleep should have been cancelled");
      }),
    );
    isInstance(error, asyncio.TimeoutError);
  });
});

test("reschedule from another task moves the deadline of a running block", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const entered = loop.createFuture<asyncio.Timeout>();
    const deadline1 = loop.time() + 10;
    const deadline2 = deadline1 + 20;
    const task = asyncio.createTask(() =>
      asyncio.timeoutAt(deadline1).with(async (cm) => {
        entered.setResult(cm);
        await asyncio.sleep(50);
      }),
    );
    const cm = await entered;
    assert.equal(cm.when(), deadline1);
    cm.reschedule(deadline2);
    assert.equal(cm.when(), deadline2);
    cm.reschedule(null);
    assert.equal(cm.when(), null);
    task.cancel();
    isInstance((await rejection(task)), asyncio.CancelledError);
    assert.equal(cm.expired(), false);
  });
});

test("reschedule before the timeout is entered throws RuntimeError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(0.01);
    assert.throws(
      () => cm.reschedule(0.02),
      (e: unknown) => e instanceof asyncio.RuntimeError && /has not been entered/.test(e.message),
    );
  });
});

test("reschedule after the block finished throws RuntimeError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(10);
    await cm.with(() => undefined);
    assert.throws(
      () => cm.reschedule(0.02),
      (e: unknown) => e instanceof asyncio.RuntimeError && /finished/.test(e.message),
    );
  });
});

test("reschedule after the timeout expired throws RuntimeError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(0.01);
    await rejection(cm.with(() => asyncio.sleep(1)));
    assert.throws(
      () => cm.reschedule(0.02),
      (e: unknown) => e instanceof asyncio.RuntimeError && /expired/.test(e.message),
    );
  });
});

test("reschedule while the timeout is expiring throws RuntimeError", async () => {
  await asyncio.run(async () => {
    await asyncio.timeout(0.01).with(async (cm) => {
      isInstance(await rejection(asyncio.sleep(1)), asyncio.CancelledError);
      assert.throws(
        () => cm.reschedule(0.02),
        (e: unknown) => e instanceof asyncio.RuntimeError && /expiring/.test(e.message),
      );
    });
  });
});

test("a body that catches the expiry's CancelledError and returns normally gets no TimeoutError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(0.01);
    const value = await cm.with(async () => {
      try {
        await asyncio.sleep(10);
      } catch (e) {
        isInstance(e, asyncio.CancelledError);
      }
      return "swallowed";
    });
    assert.equal(value, "swallowed");
    assert.equal(cm.expired(), true);
    assert.equal(asyncio.currentTask()!.cancelling(), 0);
    assert.equal(await asyncio.sleep(0.001, "not cancelled"), "not cancelled");
  });
});

test("the task's cancelling() count is 0 again after a timeout fired and was turned into TimeoutError", async () => {
  await asyncio.run(async () => {
    const me = asyncio.currentTask()!;
    let during = -1;
    await rejection(
      asyncio.timeout(0.01).with(async () => {
        try {
          await asyncio.sleep(10);
        } finally {
          during = me.cancelling();
        }
      }),
    );
    assert.equal(during, 1);
    assert.equal(me.cancelling(), 0);
  });
});

test("a timeout still works in a task whose earlier cancellation was caught without uncancel", async () => {
  await asyncio.run(async () => {
    const me = asyncio.currentTask()!;
    me.cancel();
    isInstance(await rejection(asyncio.sleep(1)), asyncio.CancelledError);
    assert.equal(me.cancelling(), 1);
    const error = await rejection(asyncio.timeout(0).with(() => asyncio.sleep(1)));
    isInstance(error, asyncio.TimeoutError);
    assert.equal(me.cancelling(), 1);
    me.uncancel();
  });
});

test("a new cancel inside a timeout, in a task already cancelled once, passes as CancelledError", async () => {
  await asyncio.run(async () => {
    const me = asyncio.currentTask()!;
    me.cancel();
    isInstance(await rejection(asyncio.sleep(1)), asyncio.CancelledError);
    const error = await rejection(
      asyncio.timeout(1).with(async () => {
        me.cancel();
        await asyncio.sleep(2);
      }),
    );
    isInstance(error, asyncio.CancelledError);
    me.uncancel();
    me.uncancel();
  });
});

test("a timeout that expires around a TaskGroup whose child fails in cleanup gives the group's error", async () => {
  await asyncio.run(async () => {
    const error = await rejection(
      asyncio.timeout(0.01).with(() =>
        new asyncio.TaskGroup().with(async (tg) => {
          tg.createTask(async () => {
            try {
              await asyncio.sleep(2);
            } finally {
              // eslint-disable-next-line no-unsafe-finally
              throw new MyError("crash in cleanup");
            }
          });
          await asyncio.sleep(1);
        }),
      ),
    );
    isInstance(error, asyncio.ExceptionGroup);
    assert.equal(error.exceptions.length, 1);
    isInstance(error.exceptions[0], MyError);
    assert.equal(asyncio.currentTask()!.cancelling(), 0);
  });
});

test("entering a timeout twice throws RuntimeError", async () => {
  await asyncio.run(async () => {
    const cm = asyncio.timeout(10);
    await cm.with(async () => {
      const error = await rejection(cm.with(() => undefined));
      isInstance(error, asyncio.RuntimeError);
      assert.match(error.message, /has already been entered/);
    });
    const again = await rejection(cm.with(() => undefined));
    isInstance(again, asyncio.RuntimeError);
    assert.match(again.message, /has already been entered/);
  });
});

test("a timeout entered outside a task throws RuntimeError and stays unentered", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const cm = asyncio.timeout(0.01);
    const outcome = loop.createFuture<unknown>();
    loop.callSoon(() => {
      cm.with(() => undefined).then(
        () => outcome.setResult(null),
        (e: unknown) => outcome.setResult(e),
      );
    });
    const error = await outcome;
    isInstance(error, asyncio.RuntimeError);
    assert.match(error.message, /task/);
    assert.throws(() => cm.reschedule(0.02), /has not been entered/);
  });
});

test("timeout(delay) where no loop runs throws RuntimeError", () => {
  assert.throws(() => asyncio.timeout(1), asyncio.RuntimeError);
});

test("timeout(NaN), timeoutAt(NaN) and reschedule(NaN) throw RangeError", async () => {
  await asyncio.run(async () => {
    assert.throws(() => asyncio.timeout(NaN), RangeError);
    assert.throws(() => asyncio.timeoutAt(NaN), RangeError);
    await asyncio.timeout(10).with((cm) => {
      assert.throws(() => cm.reschedule(NaN), RangeError);
      assert.notEqual(cm.when(), null);
    });
  });
});

test("a delay that is not a number throws TypeError", async () => {
  await asyncio.run(async () => {
    assert.throws(() => asyncio.timeout("1" as unknown as number), TypeError);
    assert.throws(() => asyncio.timeoutAt({} as unknown as number), TypeError);
  });
});

test("toString shows the state, and the deadline only while the block is active", async () => {
  await asyncio.run(async () => {
    const active = asyncio.timeout(10);
    await active.with((cm) => {
      assert.match(String(cm), /^<Timeout \[active\] when=\d+\.\d*>$/);
    });
    assert.equal(String(active), "<Timeout [finished]>");
    const expired = asyncio.timeout(0.01);
    await rejection(expired.with(() => asyncio.sleep(10)));
    assert.equal(String(expired), "<Timeout [expired]>");
    await asyncio.timeout(null).with((cm) => {
      assert.equal(String(cm), "<Timeout [active] when=null>");
    });
  });
});
