/**
 * Cancel scopes: the checks of Trio's cancel-scope tests and AnyIO's task-group tests, plus how scopes nest with
 * timeout(), TaskGroup and Task.cancel(). Deadlines run on the virtual clock.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as asyncio from "../src/index.js";
import { isInstance, rejection } from "./helpers/expect.js";

const { testing, CancelScope } = asyncio;

class MyError extends Error {
  override name = "MyError";
}

function me(): asyncio.Task<unknown> {
  return asyncio.currentTask()!;
}

function now(): number {
  return asyncio.getRunningLoop().time();
}

/** Awaits `p` and returns true when it threw CancelledError (false when it resolved). */
async function throwsCancelled(p: PromiseLike<unknown>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (e) {
    isInstance(e, asyncio.CancelledError);
    return true;
  }
}

// ------------------------------------------------------------------ basics

test("a scope with nothing cancelled returns the body's value", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const value = await scope.with(async (s) => {
      assert.equal(s, scope);
      await asyncio.sleep(1);
      return 42;
    });
    assert.equal(value, 42);
    assert.equal(scope.cancelCalled, false);
    assert.equal(scope.cancelledCaught, false);
  });
});

test("cancel() interrupts the suspension and the scope swallows it: with() resolves undefined", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    let after = false;
    const value = await scope.with(async () => {
      scope.cancel();
      await asyncio.sleep(10);
      after = true;
      return 1;
    });
    assert.equal(value, undefined);
    assert.equal(after, false);
    assert.equal(scope.cancelCalled, true);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(now(), 0);
  });
});

test("cancellation is level-triggered: every suspension in a cancelled scope throws", async () => {
  await testing.run(async () => {
    let throws = 0;
    await new CancelScope().with(async (scope) => {
      scope.cancel();
      for (let i = 0; i < 4; i++) if (await throwsCancelled(asyncio.sleep(1))) throws++;
    });
    assert.equal(throws, 4);
    assert.equal(now(), 0);
  });
});

test("sleep(0) inside a cancelled scope throws CancelledError", async () => {
  await testing.run(async () => {
    await new CancelScope().with(async (scope) => {
      scope.cancel();
      assert.equal(await throwsCancelled(asyncio.sleep(0)), true);
      assert.equal(await throwsCancelled(asyncio.sleep(0)), true);
    });
  });
});

test("an await that does not suspend (a done Future, a free lock) does not throw in a cancelled scope", async () => {
  await testing.run(async () => {
    const loop = asyncio.getRunningLoop();
    const done = loop.createFuture<number>();
    done.setResult(5);
    const lock = new asyncio.Lock();
    const scope = new CancelScope();
    const value = await scope.with(async () => {
      scope.cancel();
      const v = await done;
      await lock.acquire();
      lock.release();
      return v;
    });
    assert.equal(value, 5);
    assert.equal(scope.cancelledCaught, false);
  });
});

test("a body that returns after cancel() without suspending again gives its value", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const value = await scope.with(async () => {
      await asyncio.sleep(1);
      scope.cancel();
      return "kept";
    });
    assert.equal(value, "kept");
    assert.equal(scope.cancelCalled, true);
    assert.equal(scope.cancelledCaught, false);
  });
});

test("cancel() twice is the same as once", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    await scope.with(async () => {
      scope.cancel();
      scope.cancel();
      await asyncio.sleep(1);
    });
    assert.equal(scope.cancelCalled, true);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(me().cancelling(), 0);
  });
});

test("cancel() from another task interrupts the body where it waits", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const worker = asyncio.createTask(() =>
      scope.with(async () => {
        await asyncio.sleep(100);
        return "not reached";
      }),
    );
    await asyncio.sleep(3);
    scope.cancel();
    assert.equal(await worker, undefined);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(now(), 3);
  });
});

test("a scope cancelled before it is entered is cancelled on entry", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    scope.cancel();
    assert.equal(scope.cancelCalled, true);
    const value = await scope.with(async () => {
      await asyncio.sleep(10);
      return 1;
    });
    assert.equal(value, undefined);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(now(), 0);
  });
});

test("cancel() after the scope exited sets cancelCalled and does nothing else", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    await scope.with(() => asyncio.sleep(1));
    scope.cancel();
    await asyncio.sleep(1);
    assert.equal(scope.cancelCalled, true);
    assert.equal(scope.cancelledCaught, false);
    assert.equal(me().cancelling(), 0);
  });
});

test("a body that throws another error in a cancelled scope propagates it, and nothing is caught", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const error = await rejection(
      scope.with(() => {
        scope.cancel();
        throw new MyError("own");
      }),
    );
    isInstance(error, MyError);
    assert.equal(scope.cancelledCaught, false);
    assert.equal(me().cancelling(), 0);
  });
});

test("a body that catches the cancellation and raises another error propagates that error", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const error = await rejection(
      scope.with(async () => {
        scope.cancel();
        try {
          await asyncio.sleep(1);
        } catch {
          throw new MyError("replaced");
        }
      }),
    );
    isInstance(error, MyError);
    assert.equal(scope.cancelledCaught, false);
  });
});

test("cancelling() is what it was before after a cancelled scope", async () => {
  await testing.run(async () => {
    await new CancelScope().with(async (scope) => {
      scope.cancel();
      assert.equal(me().cancelling(), 1, "a cancelled scope counts while it is active");
      await asyncio.sleep(1);
    });
    assert.equal(me().cancelling(), 0);
  });
});

test("cancelling() is kept when it was above 0 on entry", async () => {
  await testing.run(async () => {
    const task = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } catch {
        // handled, but not uncancelled
      }
      assert.equal(me().cancelling(), 1);
      const scope = asyncio.moveOnAfter(1);
      await scope.with(() => asyncio.sleep(10));
      assert.equal(scope.cancelledCaught, true);
      return me().cancelling();
    });
    await asyncio.sleep(0);
    task.cancel();
    assert.equal(await task, 1);
  });
});

test("with() outside a task is a RuntimeError", async () => {
  await testing.run(async () => {
    const loop = asyncio.getRunningLoop();
    const done = loop.createFuture<unknown>();
    loop.callSoon(() => {
      new CancelScope().with(() => 1).then(
        (v) => done.setResult(v),
        (e) => done.setResult(e),
      );
    });
    isInstance(await done, asyncio.RuntimeError);
  });
});

test("entering a scope twice is a RuntimeError, while active and after it exited", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    await scope.with(async () => {
      isInstance(await rejection(scope.with(() => 1)), asyncio.RuntimeError);
    });
    const error = await rejection(scope.with(() => 1));
    isInstance(error, asyncio.RuntimeError);
    assert.match(error.message, /entered/);
  });
});

test("a scope active in one task cannot be entered by another", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const holder = asyncio.createTask(() => scope.with(() => asyncio.sleep(5)));
    await asyncio.sleep(1);
    const other = asyncio.createTask(() => scope.with(() => 1));
    isInstance(await rejection(other), asyncio.RuntimeError);
    await holder;
  });
});

test("with() of something that is not a function is a TypeError", async () => {
  await testing.run(async () => {
    isInstance(await rejection(new CancelScope().with(5 as never)), TypeError);
  });
});

test("a scope's toString tells its state, cancellation, shield and deadline", async () => {
  await testing.run(async () => {
    const scope = new CancelScope({ deadline: 10, shield: true });
    assert.match(String(scope), /created/);
    await scope.with(async () => {
      assert.match(String(scope), /active/);
      assert.match(String(scope), /shield/);
      assert.match(String(scope), /deadline in 10\.000s/);
      scope.cancel();
      assert.match(String(scope), /cancelled/);
      await asyncio.sleep(0);
    });
    assert.match(String(scope), /exited/);
  });
});

// ------------------------------------------------------------------ deadlines

test("a deadline cancels the body at that loop time", async () => {
  await testing.run(async () => {
    const scope = new CancelScope({ deadline: 5 });
    assert.equal(scope.deadline, 5);
    const value = await scope.with(async () => {
      await asyncio.sleep(100);
      return 1;
    });
    assert.equal(value, undefined);
    assert.equal(now(), 5);
    assert.equal(scope.cancelCalled, true);
    assert.equal(scope.cancelledCaught, true);
  });
});

test("a scope without a deadline has deadline Infinity", async () => {
  await testing.run(async () => {
    assert.equal(new CancelScope().deadline, Infinity);
    assert.equal(asyncio.moveOnAfter(null).deadline, Infinity);
    assert.equal(asyncio.moveOnAt(null).deadline, Infinity);
  });
});

test("a body that finishes before the deadline is not cancelled and the timer is gone", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(10);
    assert.equal(await scope.with(() => asyncio.sleep(1, "in time")), "in time");
    await asyncio.sleep(20);
    assert.equal(scope.cancelCalled, false);
  });
});

test("the deadline can be moved later while the scope is active", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(2);
    await scope.with(async () => {
      await asyncio.sleep(1);
      scope.deadline = 10;
      await asyncio.sleep(100);
    });
    assert.equal(now(), 10);
    assert.equal(scope.cancelledCaught, true);
  });
});

test("a deadline moved into the past cancels at the next suspension", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    await scope.with(async () => {
      await asyncio.sleep(5);
      scope.deadline = 1;
      assert.equal(scope.cancelCalled, true);
      assert.equal(await throwsCancelled(asyncio.sleep(1)), true);
      assert.equal(await throwsCancelled(asyncio.sleep(1)), true);
    });
    assert.equal(now(), 5);
  });
});

test("a deadline already past on entry cancels at once", async () => {
  await testing.run(async () => {
    await asyncio.sleep(5);
    const scope = asyncio.moveOnAt(3);
    assert.equal(await scope.with(() => asyncio.sleep(1, "x")), undefined);
    assert.equal(now(), 5);
  });
});

test("an unentered scope reports cancelCalled once its deadline passed, and never goes back", async () => {
  await testing.run(async () => {
    const scope = new CancelScope({ deadline: 1 });
    assert.equal(scope.cancelCalled, false);
    await asyncio.sleep(2);
    assert.equal(scope.cancelCalled, true);
    scope.deadline = 100;
    assert.equal(scope.cancelCalled, true);
  });
});

test("setting the deadline after exit has no effect", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    await scope.with(() => asyncio.sleep(1));
    scope.deadline = 0;
    await asyncio.sleep(1);
    assert.equal(scope.deadline, 0);
    assert.equal(scope.cancelledCaught, false);
  });
});

test("moveOnAfter(0) cancels the first suspension", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(0);
    let reached = false;
    await scope.with(async () => {
      await asyncio.sleep(0);
      reached = true;
    });
    assert.equal(reached, false);
    assert.equal(scope.cancelledCaught, true);
  });
});

test("a one-hour moveOnAfter runs in virtual time", async () => {
  await testing.run(async () => {
    let ticks = 0;
    await asyncio.moveOnAfter(3600).with(async () => {
      for (;;) {
        await asyncio.sleep(60);
        ticks++;
      }
    });
    assert.equal(ticks, 59);
    assert.equal(now(), 3600);
  });
});

test("failAfter throws TimeoutError when the deadline cancelled the body", async () => {
  await testing.run(async () => {
    const scope = asyncio.failAfter(2);
    const error = await rejection(scope.with(() => asyncio.sleep(10)));
    isInstance(error, asyncio.TimeoutError);
    isInstance(error.cause, asyncio.CancelledError);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(now(), 2);
  });
});

test("failAfter returns the body's value when it finishes in time", async () => {
  await testing.run(async () => {
    assert.equal(await asyncio.failAfter(5).with(() => asyncio.sleep(1, "ok")), "ok");
  });
});

test("failAt throws TimeoutError at that loop time", async () => {
  await testing.run(async () => {
    isInstance(await rejection(asyncio.failAt(4).with(() => asyncio.sleep(10))), asyncio.TimeoutError);
    assert.equal(now(), 4);
  });
});

test("failAfter does not throw TimeoutError when the deadline passed while the body awaited a plain promise", async () => {
  await testing.run(async () => {
    const scope = asyncio.failAfter(1);
    const value = await scope.with(async () => {
      // A native promise is not a suspension the loop knows of: the clock jumps past the deadline meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return "done";
    });
    assert.equal(value, "done");
    assert.equal(scope.cancelCalled, true);
    assert.equal(scope.cancelledCaught, false);
    assert.equal(now(), 1);
  });
});

test("an explicit cancel() of a failAfter scope resolves undefined instead of throwing TimeoutError", async () => {
  await testing.run(async () => {
    const scope = asyncio.failAfter(10);
    const value = await scope.with(async () => {
      scope.cancel();
      await asyncio.sleep(1);
    });
    assert.equal(value, undefined);
    assert.equal(scope.cancelledCaught, true);
  });
});

test("failAfter inside an outer cancel from task.cancel() gives CancelledError, not TimeoutError", async () => {
  await testing.run(async () => {
    const task = asyncio.createTask(() => asyncio.failAfter(10).with(() => asyncio.sleep(100)));
    await asyncio.sleep(1);
    task.cancel();
    isInstance(await rejection(task), asyncio.CancelledError);
    assert.equal(task.cancelled(), true);
  });
});

test("nested failAfter: the outer deadline coming first is the outer's TimeoutError", async () => {
  await testing.run(async () => {
    const outer = asyncio.failAfter(1);
    const inner = asyncio.failAfter(5);
    const error = await rejection(outer.with(() => inner.with(() => asyncio.sleep(10))));
    isInstance(error, asyncio.TimeoutError);
    assert.equal(outer.cancelledCaught, true);
    assert.equal(inner.cancelledCaught, false);
  });
});

test("negative or NaN delays of moveOnAfter and failAfter are RangeErrors", async () => {
  await testing.run(async () => {
    assert.throws(() => asyncio.moveOnAfter(-1), RangeError);
    assert.throws(() => asyncio.moveOnAfter(NaN), RangeError);
    assert.throws(() => asyncio.failAfter(-0.5), RangeError);
    assert.throws(() => asyncio.failAfter(NaN), RangeError);
  });
});

test("a NaN deadline is a RangeError, a deadline that is not a number a TypeError", async () => {
  await testing.run(async () => {
    assert.throws(() => new CancelScope({ deadline: NaN }), RangeError);
    assert.throws(() => asyncio.moveOnAt(NaN), RangeError);
    assert.throws(() => asyncio.failAt(NaN), RangeError);
    assert.throws(() => new CancelScope({ deadline: "5" as never }), TypeError);
    const scope = new CancelScope();
    assert.throws(() => {
      scope.deadline = NaN;
    }, RangeError);
    assert.throws(() => asyncio.moveOnAfter("1" as never), TypeError);
  });
});

test("a shield that is not a boolean is a TypeError", async () => {
  await testing.run(async () => {
    assert.throws(() => new CancelScope({ shield: "yes" as never }), TypeError);
    const scope = new CancelScope();
    assert.throws(() => {
      scope.shield = "hello" as never;
    }, TypeError);
    assert.equal(scope.shield, false);
    assert.throws(() => asyncio.moveOnAfter(1, { shield: 1 as never }), TypeError);
  });
});

test("timeout() and sleep() keep Python's rule that a negative delay means now", async () => {
  await testing.run(async () => {
    await asyncio.sleep(-1);
    isInstance(await rejection(asyncio.timeout(-1).with(() => asyncio.sleep(1))), asyncio.TimeoutError);
  });
});

test("moveOnAfter outside a running loop is a RuntimeError", () => {
  assert.throws(() => asyncio.moveOnAfter(1), asyncio.RuntimeError);
});

// ------------------------------------------------------------------ nesting

test("when two nested scopes are cancelled at once, the outer one catches", async () => {
  await testing.run(async () => {
    const s1 = new CancelScope();
    const s2 = new CancelScope();
    const s3 = new CancelScope();
    await s1.with(() =>
      s2.with(() =>
        s3.with(async () => {
          s3.cancel();
          s2.cancel();
          await asyncio.sleep(100);
        }),
      ),
    );
    assert.equal(s3.cancelCalled, true);
    assert.equal(s3.cancelledCaught, false);
    assert.equal(s2.cancelledCaught, true);
    assert.equal(s1.cancelCalled, false);
    assert.equal(s1.cancelledCaught, false);
    assert.equal(me().cancelling(), 0);
  });
});

test("an inner scope's cancellation leaves the outer body running", async () => {
  await testing.run(async () => {
    const outer = new CancelScope();
    const value = await outer.with(async () => {
      const inner = asyncio.moveOnAfter(1);
      await inner.with(() => asyncio.sleep(10));
      assert.equal(inner.cancelledCaught, true);
      await asyncio.sleep(1);
      return "outer went on";
    });
    assert.equal(value, "outer went on");
    assert.equal(now(), 2);
  });
});

test("an outer scope's cancellation passes through an inner scope and the outer catches it", async () => {
  await testing.run(async () => {
    const outer = asyncio.moveOnAfter(1);
    const inner = new CancelScope();
    let innerReturned = false;
    await outer.with(async () => {
      await inner.with(() => asyncio.sleep(10));
      innerReturned = true;
    });
    assert.equal(innerReturned, false);
    assert.equal(inner.cancelledCaught, false);
    assert.equal(outer.cancelledCaught, true);
  });
});

test("a scope cancelled and exited without a suspension is not delivered afterwards", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    await scope.with(() => {
      scope.cancel();
    });
    await asyncio.sleep(1);
    assert.equal(scope.cancelledCaught, false);
    assert.equal(now(), 1);
  });
});

test("thousands of nested scopes cancel from the outermost", async () => {
  await testing.run(async () => {
    const outermost = new CancelScope();
    const depth = 2000;
    const nest = (n: number): Promise<unknown> =>
      n === 0 ? asyncio.sleep(100) : new CancelScope().with(() => nest(n - 1));
    const pending = outermost.with(() => nest(depth));
    const loop = asyncio.getRunningLoop();
    loop.callLater(1, () => outermost.cancel());
    await pending;
    assert.equal(outermost.cancelledCaught, true);
    assert.equal(now(), 1);
  });
});

test("scopes in different tasks are independent", async () => {
  await testing.run(async () => {
    const a = new CancelScope();
    const b = new CancelScope();
    const ta = asyncio.createTask(() => a.with(() => asyncio.sleep(10, "a")));
    const tb = asyncio.createTask(() => b.with(() => asyncio.sleep(10, "b")));
    await asyncio.sleep(1);
    a.cancel();
    assert.equal(await ta, undefined);
    assert.equal(await tb, "b");
  });
});

test("a scope left out of order (a with() not awaited) is taken off the chain without breaking the others", async () => {
  await testing.run(async () => {
    const a = new CancelScope();
    const b = new CancelScope();
    const pendingA = a.with(() => asyncio.sleep(1, "a"));
    const valueB = await b.with(async () => {
      await asyncio.sleep(2);
      b.cancel();
      await asyncio.sleep(1);
      return "b";
    });
    assert.equal(await pendingA, "a");
    assert.equal(valueB, undefined);
    assert.equal(b.cancelledCaught, true);
    assert.equal(me()._cancelScope, null);
    assert.equal(me().cancelling(), 0);
  });
});

test("cancel() from a loop callback reaches the body like cancel() from a task", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    asyncio.getRunningLoop().callLater(1.5, () => scope.cancel());
    const value = await scope.with(async () => {
      for (let i = 0; i < 10; i++) await asyncio.sleep(1);
      return "all";
    });
    assert.equal(value, undefined);
    assert.equal(now(), 1.5);
  });
});

test("moveOnAt and failAt take the shield option, and null means no deadline", async () => {
  await testing.run(async () => {
    assert.equal(asyncio.moveOnAt(5, { shield: true }).shield, true);
    assert.equal(asyncio.failAt(null).deadline, Infinity);
    assert.equal(asyncio.failAfter(null, { shield: true }).shield, true);
    assert.equal(await asyncio.failAt(null).with(() => asyncio.sleep(100, "no deadline")), "no deadline");
  });
});

test("a deadline of Infinity set on an active scope removes its deadline", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(1);
    const value = await scope.with(async () => {
      scope.deadline = Infinity;
      await asyncio.sleep(5);
      return "kept";
    });
    assert.equal(value, "kept");
    assert.equal(scope.cancelCalled, false);
  });
});

test("the deadline timer is gone after an early exit: a later deadline does not touch the task", async () => {
  await testing.run(async () => {
    await asyncio.moveOnAfter(5).with(() => asyncio.sleep(1));
    await asyncio.sleep(10);
    assert.equal(me().cancelling(), 0);
    assert.equal(now(), 11);
  });
});

// ------------------------------------------------------------------ shields

test("a shield keeps an outer scope's cancellation out, and it is delivered after", async () => {
  await testing.run(async () => {
    const outer = new CancelScope();
    const shielded: string[] = [];
    await outer.with(async () => {
      outer.cancel();
      await new CancelScope({ shield: true }).with(async () => {
        await asyncio.sleep(1);
        shielded.push("slept");
      });
      shielded.push("after shield");
      await asyncio.sleep(1);
      shielded.push("not reached");
    });
    assert.deepEqual(shielded, ["slept", "after shield"]);
    assert.equal(outer.cancelledCaught, true);
    assert.equal(now(), 1);
  });
});

test("the shielding checks of Trio: outer held back, inner scopes and the shield itself still cancel", async () => {
  await testing.run(async () => {
    const outer = new CancelScope();
    const inner = new CancelScope();
    await outer.with(() =>
      inner.with(async () => {
        await asyncio.sleep(0);
        outer.cancel();
        assert.equal(await throwsCancelled(asyncio.sleep(0)), true);
        inner.shield = true;
        assert.equal(await throwsCancelled(asyncio.sleep(0)), false, "the shield protects from outer");
        const innermost = new CancelScope();
        await innermost.with(async () => {
          innermost.cancel();
          assert.equal(await throwsCancelled(asyncio.sleep(0)), true, "not from a scope inside it");
        });
        assert.equal(await throwsCancelled(asyncio.sleep(0)), false);
        inner.shield = false;
        assert.equal(await throwsCancelled(asyncio.sleep(0)), true, "unshielded again");
        inner.shield = true;
        assert.equal(await throwsCancelled(asyncio.sleep(0)), false);
        inner.cancel();
        await asyncio.sleep(0);
      }),
    );
    assert.equal(inner.cancelledCaught, true);
  });
});

test("unshielding while the task sleeps inside interrupts the sleep", async () => {
  await testing.run(async () => {
    const outer = new CancelScope();
    const shield = new CancelScope({ shield: true });
    const record: string[] = [];
    const worker = asyncio.createTask(() =>
      outer.with(() =>
        shield.with(async () => {
          record.push("sleeping");
          try {
            await asyncio.sleep(100);
          } catch (e) {
            record.push("cancelled");
            throw e;
          }
        }),
      ),
    );
    await asyncio.sleep(1);
    outer.cancel();
    await asyncio.sleep(1);
    assert.deepEqual(record, ["sleeping"]);
    shield.shield = false;
    await worker;
    assert.deepEqual(record, ["sleeping", "cancelled"]);
    assert.equal(outer.cancelledCaught, true);
    assert.equal(now(), 2);
  });
});

test("setting the shield while the cancellation propagates does not steal it from the outer scope", async () => {
  await testing.run(async () => {
    const outer = new CancelScope();
    const inner = new CancelScope();
    await outer.with(() =>
      inner.with(async () => {
        outer.cancel();
        try {
          await asyncio.sleep(1);
        } finally {
          inner.shield = true;
        }
      }),
    );
    assert.equal(outer.cancelledCaught, true);
    assert.equal(inner.cancelledCaught, false);
  });
});

test("a shield set before entry protects from an outer scope until unshielded", async () => {
  await testing.run(async () => {
    const outer = new CancelScope();
    const scope = new CancelScope();
    scope.shield = true;
    await outer.with(() =>
      scope.with(async () => {
        outer.cancel();
        assert.equal(await throwsCancelled(asyncio.sleep(0)), false);
        scope.shield = false;
        assert.equal(await throwsCancelled(asyncio.sleep(0)), true);
        await asyncio.sleep(0);
      }),
    );
    assert.equal(outer.cancelledCaught, true);
    assert.equal(scope.cancelledCaught, false);
  });
});

test("a shield holds back task.cancel() until it exits; cancelling() counts it meanwhile", async () => {
  await testing.run(async () => {
    const events: string[] = [];
    const task = asyncio.createTask(async () => {
      await new CancelScope({ shield: true }).with(async () => {
        await asyncio.sleep(5);
        events.push(`shield done, cancelling=${me().cancelling()}`);
      });
      events.push("between");
      try {
        await asyncio.sleep(1);
      } catch (e) {
        events.push("delivered after the shield");
        throw e;
      }
    });
    await asyncio.sleep(1);
    task.cancel("stop");
    const error = await rejection(task);
    isInstance(error, asyncio.CancelledError);
    assert.equal(error.message, "stop");
    assert.deepEqual(events, ["shield done, cancelling=1", "between", "delivered after the shield"]);
    assert.equal(now(), 5);
  });
});

test("a shield holds back a timeout() around it", async () => {
  await testing.run(async () => {
    let shieldedDone = false;
    const error = await rejection(
      asyncio.timeout(1).with(async () => {
        await new CancelScope({ shield: true }).with(async () => {
          await asyncio.sleep(3);
          shieldedDone = true;
        });
        await asyncio.sleep(10);
      }),
    );
    isInstance(error, asyncio.TimeoutError);
    assert.equal(shieldedDone, true);
    assert.equal(now(), 3);
  });
});

test("a timeout() inside a shield still works", async () => {
  await testing.run(async () => {
    const outer = new CancelScope();
    await outer.with(async () => {
      outer.cancel();
      await new CancelScope({ shield: true }).with(async () => {
        isInstance(await rejection(asyncio.timeout(1).with(() => asyncio.sleep(10))), asyncio.TimeoutError);
        assert.equal(now(), 1);
      });
      await asyncio.sleep(1);
    });
    assert.equal(outer.cancelledCaught, true);
  });
});

test("a moveOnAfter inside a shield bounds shielded cleanup", async () => {
  await testing.run(async () => {
    const task = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(100);
      } finally {
        await asyncio.moveOnAfter(2, { shield: true }).with(() => asyncio.sleep(50));
      }
    });
    await asyncio.sleep(1);
    task.cancel();
    isInstance(await rejection(task), asyncio.CancelledError);
    assert.equal(now(), 3);
  });
});

test("a TaskGroup inside a shield still cancels its body when a child fails", async () => {
  await testing.run(async () => {
    const error = await rejection(
      new CancelScope({ shield: true }).with(() =>
        new asyncio.TaskGroup().with(async (tg) => {
          tg.createTask(async () => {
            await asyncio.sleep(1);
            throw new MyError("child");
          });
          await asyncio.sleep(100);
        }),
      ),
    );
    isInstance(error, asyncio.ExceptionGroup);
    assert.equal(now(), 1);
  });
});

test("nested shields release the held cancellation only after the outermost shield", async () => {
  await testing.run(async () => {
    const marks: number[] = [];
    const task = asyncio.createTask(() =>
      new CancelScope({ shield: true }).with(async () => {
        await new CancelScope({ shield: true }).with(() => asyncio.sleep(2));
        marks.push(now());
        await asyncio.sleep(2);
        marks.push(now());
      }),
    );
    await asyncio.sleep(1);
    task.cancel();
    // The held cancellation meets the end of the body: the task ends cancelled, as after any late cancel().
    isInstance(await rejection(task), asyncio.CancelledError);
    assert.deepEqual(marks, [2, 4]);
  });
});

test("a shield scope can cancel itself", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(1, { shield: true });
    assert.equal(await scope.with(() => asyncio.sleep(5, "x")), undefined);
    assert.equal(scope.cancelledCaught, true);
  });
});

// ------------------------------------------------------------------ with timeout() and task.cancel()

test("task.cancel() inside a cancelled scope is not swallowed by it", async () => {
  await testing.run(async () => {
    const task = asyncio.createTask(() =>
      new CancelScope().with(async (scope) => {
        scope.cancel();
        me().cancel();
        await asyncio.sleep(1);
      }),
    );
    isInstance(await rejection(task), asyncio.CancelledError);
    assert.equal(task.cancelled(), true);
  });
});

test("a task.cancel() pending on entry is not swallowed by a scope that is cancelled too", async () => {
  await testing.run(async () => {
    const task = asyncio.createTask(async () => {
      me().cancel();
      await asyncio.moveOnAfter(0).with(() => asyncio.sleep(1));
      return "survived";
    });
    isInstance(await rejection(task), asyncio.CancelledError);
  });
});

test("a task.cancel() from outside passes through a scope that is not cancelled", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const task = asyncio.createTask(() => scope.with(() => asyncio.sleep(10)));
    await asyncio.sleep(1);
    task.cancel();
    isInstance(await rejection(task), asyncio.CancelledError);
    assert.equal(scope.cancelledCaught, false);
  });
});

test("a timeout() around a scope fires through it as TimeoutError", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    isInstance(await rejection(asyncio.timeout(2).with(() => scope.with(() => asyncio.sleep(10)))), asyncio.TimeoutError);
    assert.equal(scope.cancelledCaught, false);
    assert.equal(me().cancelling(), 0);
  });
});

test("a timeout() around a scope, both expiring at once: the outer timeout wins", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(2);
    const error = await rejection(asyncio.timeout(2).with(() => scope.with(() => asyncio.sleep(10))));
    isInstance(error, asyncio.TimeoutError);
    assert.equal(scope.cancelledCaught, false);
    assert.equal(me().cancelling(), 0);
  });
});

test("a timeout() inside a cancelled scope does not turn the scope's cancellation into TimeoutError", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(2);
    const value = await scope.with(() => asyncio.timeout(2).with(() => asyncio.sleep(10)));
    assert.equal(value, undefined);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(me().cancelling(), 0);
  });
});

test("a timeout() that expires first inside a scope gives TimeoutError, which the scope lets through", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(5);
    const error = await rejection(scope.with(() => asyncio.timeout(1).with(() => asyncio.sleep(10))));
    isInstance(error, asyncio.TimeoutError);
    assert.equal(scope.cancelledCaught, false);
  });
});

test("a scope inside a timeout() that catches its own cancellation leaves the timeout unexpired", async () => {
  await testing.run(async () => {
    const t = asyncio.timeout(10);
    const value = await t.with(async () => {
      await asyncio.moveOnAfter(1).with(() => asyncio.sleep(5));
      return "in time";
    });
    assert.equal(value, "in time");
    assert.equal(t.expired(), false);
  });
});

test("waitFor inside a cancelled scope stops and the scope catches it", async () => {
  await testing.run(async () => {
    const scope = asyncio.moveOnAfter(1);
    await scope.with(() => asyncio.waitFor(asyncio.sleep(10), 5));
    assert.equal(scope.cancelledCaught, true);
    assert.equal(now(), 1);
  });
});

test("Queue.get cancelled by a scope loses no item", async () => {
  await testing.run(async () => {
    const queue = new asyncio.Queue<number>();
    await asyncio.moveOnAfter(1).with(() => queue.get());
    queue.putNowait(7);
    assert.equal(await queue.get(), 7);
  });
});

test("awaiting a task in a cancelled scope cancels it, as a cancelled awaiter does in asyncio", async () => {
  await testing.run(async () => {
    const child = asyncio.createTask(() => asyncio.sleep(10));
    await asyncio.moveOnAfter(1).with(() => child);
    assert.equal(child.cancelled(), true);
  });
});

test("asyncio.shield() inside a cancelled scope keeps the inner task running", async () => {
  await testing.run(async () => {
    const child = asyncio.createTask(() => asyncio.sleep(3, "kept"));
    await asyncio.moveOnAfter(1).with(() => asyncio.shield(child));
    assert.equal(await child, "kept");
  });
});

// ------------------------------------------------------------------ with TaskGroup

test("cancelling a scope around a TaskGroup cancels its tasks, and the scope catches it", async () => {
  await testing.run(async () => {
    const children: asyncio.Task<unknown>[] = [];
    const scope = asyncio.moveOnAfter(2);
    await scope.with(() =>
      new asyncio.TaskGroup().with(async (tg) => {
        for (let i = 0; i < 3; i++) children.push(tg.createTask(() => asyncio.sleep(100)));
      }),
    );
    assert.equal(scope.cancelledCaught, true);
    assert.deepEqual(
      children.map((t) => t.cancelled()),
      [true, true, true],
    );
    assert.equal(now(), 2);
    assert.equal(me().cancelling(), 0);
  });
});

test("a TaskGroup in a cancelled scope waits for slow cleanup of its children without spinning", async () => {
  await testing.run(async () => {
    let cleaned = false;
    const scope = asyncio.moveOnAfter(1);
    await scope.with(() =>
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(async () => {
          try {
            await asyncio.sleep(100);
          } finally {
            await new CancelScope({ shield: true }).with(() => asyncio.sleep(5));
            cleaned = true;
          }
        });
        await asyncio.sleep(100);
      }),
    );
    assert.equal(cleaned, true);
    assert.equal(now(), 6);
    assert.equal(scope.cancelledCaught, true);
  });
});

test("a scope around a TaskGroup whose child fails lets the ExceptionGroup through", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const error = await rejection(
      scope.with(() =>
        new asyncio.TaskGroup().with(async (tg) => {
          tg.createTask(async () => {
            await asyncio.sleep(1);
            throw new MyError("child");
          });
          await asyncio.sleep(10);
        }),
      ),
    );
    isInstance(error, asyncio.ExceptionGroup);
    assert.equal(scope.cancelledCaught, false);
    assert.equal(me().cancelling(), 0);
  });
});

test("a child failing inside a cancelled scope's group: the error comes out and nothing stays pending", async () => {
  await testing.run(async () => {
    const scope = new CancelScope();
    const error = await rejection(
      scope.with(() =>
        new asyncio.TaskGroup().with(async (tg) => {
          tg.createTask(async () => {
            try {
              await asyncio.sleep(10);
            } catch {
              throw new MyError("during cancel");
            }
          });
          await asyncio.sleep(1);
          scope.cancel();
          await asyncio.sleep(10);
        }),
      ),
    );
    isInstance(error, asyncio.ExceptionGroup);
    assert.equal(me().cancelling(), 0);
    await asyncio.sleep(1);
    assert.equal(now(), 2);
  });
});

test("a scope inside a task of a group is cancelled with that task alone", async () => {
  await testing.run(async () => {
    let a!: asyncio.Task<unknown>;
    let b!: asyncio.Task<unknown>;
    await new asyncio.TaskGroup().with(async (tg) => {
      a = tg.createTask(() => asyncio.moveOnAfter(1).with(() => asyncio.sleep(10, "a")));
      b = tg.createTask(() => asyncio.sleep(2, "b"));
    });
    assert.equal(a.result(), undefined);
    assert.equal(b.result(), "b");
  });
});

test("tasks started into a group inside a cancelled scope begin and are cancelled at their first wait", async () => {
  await testing.run(async () => {
    const record: string[] = [];
    await asyncio.moveOnAfter(0).with(() =>
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(async () => {
          record.push("started");
          await asyncio.sleep(10);
          record.push("not reached");
        });
      }),
    );
    assert.deepEqual(record, ["started"]);
  });
});

test("cancellation reaches every task of nested groups", async () => {
  await testing.run(async () => {
    const record = new Set<string>();
    const leaf = async (id: string): Promise<void> => {
      try {
        await asyncio.sleep(100);
      } catch (e) {
        record.add(id);
        throw e;
      }
    };
    const worker = (id: string) =>
      new asyncio.TaskGroup().with((tg) => {
        tg.createTask(() => leaf(`${id}-l1`));
        tg.createTask(() => leaf(`${id}-l2`));
      });
    await asyncio.moveOnAfter(1).with(() =>
      new asyncio.TaskGroup().with((tg) => {
        tg.createTask(() => worker("w1"));
        tg.createTask(() => worker("w2"));
      }),
    );
    assert.deepEqual([...record].sort(), ["w1-l1", "w1-l2", "w2-l1", "w2-l2"]);
  });
});

// ------------------------------------------------------------------ signal

test("aborting the signal cancels the scope", async () => {
  await testing.run(async () => {
    const controller = new AbortController();
    const scope = new CancelScope({ signal: controller.signal });
    asyncio.getRunningLoop().callLater(2, () => controller.abort());
    assert.equal(await scope.with(() => asyncio.sleep(10, "x")), undefined);
    assert.equal(scope.cancelCalled, true);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(now(), 2);
  });
});

test("an already-aborted signal makes the scope cancelled from the start", async () => {
  await testing.run(async () => {
    const scope = new CancelScope({ signal: AbortSignal.abort() });
    assert.equal(scope.cancelCalled, true);
    assert.equal(await scope.with(() => asyncio.sleep(1, "x")), undefined);
  });
});

test("a signal that is not an AbortSignal is a TypeError", () => {
  assert.throws(() => new CancelScope({ signal: {} as never }), TypeError);
});

test("aborting the signal after the scope exited does nothing", async () => {
  await testing.run(async () => {
    const controller = new AbortController();
    const scope = new CancelScope({ signal: controller.signal });
    await scope.with(() => asyncio.sleep(1));
    controller.abort();
    assert.equal(scope.cancelledCaught, false);
    await asyncio.sleep(1);
    assert.equal(me().cancelling(), 0);
  });
});

// ------------------------------------------------------------------ the kernel's fast path

test("a task with no active scope carries none, inside and after a scope", async () => {
  await testing.run(async () => {
    assert.equal(me()._cancelScope, null);
    await new CancelScope().with(async () => {
      assert.notEqual(me()._cancelScope, null);
      const child = asyncio.createTask(async () => me()._cancelScope);
      assert.equal(await child, null, "a child task does not inherit its creator's scopes");
    });
    assert.equal(me()._cancelScope, null);
  });
});

/** True when A and B are the same type (not merely assignable to each other). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when its type argument is `true` (checked by `npm run lint`). */
function expectType<T extends true>(_proof?: T): void {}

test("with() is typed as the body's value or undefined, and the shorthands return CancelScopes", async () => {
  await testing.run(async () => {
    const p = asyncio.moveOnAfter(1).with(async () => 5);
    expectType<Equal<typeof p, Promise<number | undefined>>>();
    expectType<Equal<ReturnType<typeof asyncio.failAt>, asyncio.CancelScope>>();
    const options: asyncio.CancelScopeOptions = { deadline: 1, shield: false };
    assert.equal(new CancelScope(options).deadline, 1);
    assert.equal(await p, 5);
  });
});
