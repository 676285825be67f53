/**
 * TaskGroup.cancel() (Python 3.15, gh-108951) and TaskGroup.start() (Trio's nursery.start), on the virtual clock.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as asyncio from "../src/index.js";
import { isInstance, rejection } from "./helpers/expect.js";

const { testing } = asyncio;

class MyError extends Error {
  override name = "MyError";
}

function me(): asyncio.Task<unknown> {
  return asyncio.currentTask()!;
}

function now(): number {
  return asyncio.getRunningLoop().time();
}

// ------------------------------------------------------------------ cancel()

test("cancel() cancels every child and the body, and with() then ends without CancelledError", async () => {
  await testing.run(async () => {
    const children: asyncio.Task<unknown>[] = [];
    let bodyReachedEnd = false;
    const result = await new asyncio.TaskGroup().with(async (tg) => {
      children.push(tg.createTask(() => asyncio.sleep(100)));
      children.push(tg.createTask(() => asyncio.sleep(200)));
      await asyncio.sleep(1);
      tg.cancel();
      await asyncio.sleep(50);
      bodyReachedEnd = true;
      return "value";
    });
    assert.equal(result, undefined);
    assert.equal(bodyReachedEnd, false);
    assert.deepEqual(
      children.map((t) => t.cancelled()),
      [true, true],
    );
    assert.equal(now(), 1);
  });
});

test("cancel() from a child stops the group and its siblings", async () => {
  await testing.run(async () => {
    let sibling!: asyncio.Task<unknown>;
    await new asyncio.TaskGroup().with(async (tg) => {
      sibling = tg.createTask(() => asyncio.sleep(100));
      tg.createTask(async () => {
        await asyncio.sleep(2);
        tg.cancel();
      });
    });
    assert.equal(sibling.cancelled(), true);
    assert.equal(now(), 2);
  });
});

test("with() resolves the body's value when the body had returned before cancel()", async () => {
  await testing.run(async () => {
    const result = await new asyncio.TaskGroup().with(async (tg) => {
      tg.createTask(async () => {
        await asyncio.sleep(3);
        tg.cancel();
      });
      tg.createTask(() => asyncio.sleep(100));
      return 7;
    });
    assert.equal(result, 7);
    assert.equal(now(), 3);
  });
});

test("the host task's cancelling() is back where it was after a cancelled group", async () => {
  await testing.run(async () => {
    assert.equal(me().cancelling(), 0);
    await new asyncio.TaskGroup().with(async (tg) => {
      tg.createTask(() => asyncio.sleep(100));
      tg.cancel();
      await asyncio.sleep(1);
    });
    assert.equal(me().cancelling(), 0);
    await asyncio.sleep(1);
    assert.equal(now(), 1, "no cancellation was left pending");
  });
});

test("cancel() before entry cancels the group as soon as it is entered", async () => {
  await testing.run(async () => {
    const tg = new asyncio.TaskGroup();
    tg.cancel();
    let after = false;
    const result = await tg.with(async () => {
      await asyncio.sleep(10);
      after = true;
    });
    assert.equal(result, undefined);
    assert.equal(after, false);
    assert.equal(now(), 0);
  });
});

test("a group cancelled before entry refuses new tasks (it is shutting down)", async () => {
  await testing.run(async () => {
    const tg = new asyncio.TaskGroup();
    tg.cancel();
    await tg.with(async (g) => {
      assert.throws(() => g.createTask(() => asyncio.sleep(1)), asyncio.RuntimeError);
      await asyncio.sleep(0);
    });
  });
});

test("createTask() after cancel() is a RuntimeError saying the group is shutting down", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      tg.cancel();
      assert.throws(() => tg.createTask(() => asyncio.sleep(1)), /shutting down/);
      await asyncio.sleep(1);
    });
  });
});

test("cancel() is idempotent", async () => {
  await testing.run(async () => {
    let cancelledChildren = 0;
    const result = await new asyncio.TaskGroup().with(async (tg) => {
      for (let i = 0; i < 3; i++) {
        tg.createTask(async () => {
          try {
            await asyncio.sleep(100);
          } catch (e) {
            cancelledChildren++;
            throw e;
          }
        });
      }
      await asyncio.sleep(1);
      tg.cancel();
      tg.cancel();
      tg.cancel();
      await asyncio.sleep(1);
    });
    assert.equal(result, undefined);
    assert.equal(cancelledChildren, 3);
    assert.equal(me().cancelling(), 0);
  });
});

test("cancel() after the group ended does nothing", async () => {
  await testing.run(async () => {
    const tg = new asyncio.TaskGroup();
    await tg.with(async (g) => {
      g.createTask(() => asyncio.sleep(1));
    });
    tg.cancel();
    assert.equal(me().cancelling(), 0);
    await asyncio.sleep(1);
    assert.equal(now(), 2);
  });
});

test("two children that both call cancel() stop the group once", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      tg.createTask(async () => {
        await asyncio.sleep(1);
        tg.cancel();
      });
      tg.createTask(async () => {
        await asyncio.sleep(1);
        tg.cancel();
      });
      await asyncio.sleep(100);
    });
    assert.equal(now(), 1);
    assert.equal(me().cancelling(), 0);
  });
});

test("a child failing while the group is cancelled still comes out in an ExceptionGroup", async () => {
  await testing.run(async () => {
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(async () => {
          try {
            await asyncio.sleep(100);
          } finally {
            // eslint-disable-next-line no-unsafe-finally
            throw new MyError("cleanup failed");
          }
        });
        await asyncio.sleep(1);
        tg.cancel();
        await asyncio.sleep(1);
      }),
    );
    isInstance(error, asyncio.ExceptionGroup);
    assert.equal(error.exceptions.length, 1);
    isInstance(error.exceptions[0], MyError);
    assert.equal(me().cancelling(), 0);
  });
});

test("cancel() after a child failed still throws that failure", async () => {
  await testing.run(async () => {
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(async () => {
          await asyncio.sleep(1);
          throw new MyError("first");
        });
        try {
          await asyncio.sleep(10);
        } finally {
          tg.cancel();
        }
      }),
    );
    isInstance(error, asyncio.ExceptionGroup);
    assert.equal(error.exceptions.length, 1);
    isInstance(error.exceptions[0], MyError);
  });
});

test("a body that throws after cancel() gives an ExceptionGroup with that error", async () => {
  await testing.run(async () => {
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => asyncio.sleep(100));
        tg.cancel();
        throw new MyError("body");
      }),
    );
    isInstance(error, asyncio.ExceptionGroup);
    isInstance(error.exceptions[0], MyError);
  });
});

test("cancelling an inner group leaves the outer group running", async () => {
  await testing.run(async () => {
    let outerChildDone = false;
    await new asyncio.TaskGroup().with(async (outer) => {
      outer.createTask(async () => {
        await asyncio.sleep(5);
        outerChildDone = true;
      });
      await new asyncio.TaskGroup().with(async (inner) => {
        inner.createTask(() => asyncio.sleep(100));
        await asyncio.sleep(1);
        inner.cancel();
        await asyncio.sleep(100);
      });
      assert.equal(now(), 1);
    });
    assert.equal(outerChildDone, true);
    assert.equal(now(), 5);
  });
});

test("a cancellation of the host from outside survives cancel(): CancelledError comes out", async () => {
  await testing.run(async () => {
    const host = asyncio.createTask(() =>
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => asyncio.sleep(100));
        await asyncio.sleep(1);
        tg.cancel();
        await asyncio.sleep(100);
      }),
    );
    await asyncio.sleep(0.5);
    host.cancel();
    const error = await rejection(host);
    isInstance(error, asyncio.CancelledError);
    assert.equal(host.cancelled(), true);
  });
});

test("cancel() while the host is also cancelled from outside keeps the outside cancellation", async () => {
  await testing.run(async () => {
    const host = asyncio.createTask(async () => {
      await new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => asyncio.sleep(100));
        me().cancel();
        tg.cancel();
        await asyncio.sleep(100);
      });
      return "finished";
    });
    const error = await rejection(host);
    isInstance(error, asyncio.CancelledError);
  });
});

test("cancel(msg) hands the message to the children's CancelledError", async () => {
  await testing.run(async () => {
    let seen: unknown;
    await new asyncio.TaskGroup().with(async (tg) => {
      tg.createTask(async () => {
        try {
          await asyncio.sleep(100);
        } catch (e) {
          seen = e;
          throw e;
        }
      });
      await asyncio.sleep(1);
      tg.cancel("enough");
    });
    isInstance(seen, asyncio.CancelledError);
    assert.equal(seen.message, "enough");
  });
});

test("cancel() inside a timeout() does not turn into TimeoutError", async () => {
  await testing.run(async () => {
    const result = await asyncio.timeout(10).with(() =>
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => asyncio.sleep(100));
        await asyncio.sleep(1);
        tg.cancel();
        await asyncio.sleep(100);
      }),
    );
    assert.equal(result, undefined);
    assert.equal(now(), 1);
  });
});

test("a body that returns right after cancel() without suspending ends the group with its value", async () => {
  await testing.run(async () => {
    const result = await new asyncio.TaskGroup().with((tg) => {
      tg.cancel();
      return 3;
    });
    assert.equal(result, 3);
    assert.equal(me().cancelling(), 0);
    await asyncio.sleep(1);
    assert.equal(now(), 1, "no cancellation was left pending for the host");
  });
});

// ------------------------------------------------------------------ start()

test("start() resolves with the value given to started() and the task runs on in the group", async () => {
  await testing.run(async () => {
    let finished = false;
    await new asyncio.TaskGroup().with(async (tg) => {
      const value = await tg.start<string>(async (status) => {
        await asyncio.sleep(1);
        status.started("ready");
        await asyncio.sleep(1);
        finished = true;
      });
      assert.equal(value, "ready");
      assert.equal(now(), 1);
      assert.equal(finished, false);
    });
    assert.equal(finished, true);
    assert.equal(now(), 2);
  });
});

test("started() without a value resolves start() with undefined", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      const value = await tg.start(async (status) => {
        status.started();
      });
      assert.equal(value, undefined);
    });
  });
});

test("the group waits for a started task before with() returns", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      await tg.start(async (status) => {
        status.started();
        await asyncio.sleep(5);
      });
    });
    assert.equal(now(), 5);
  });
});

test("a task that fails before started() makes start() throw that error, and only there", async () => {
  await testing.run(async () => {
    let sibling!: asyncio.Task<unknown>;
    const result = await new asyncio.TaskGroup().with(async (tg) => {
      sibling = tg.createTask(async () => {
        await asyncio.sleep(3);
        return "sibling ok";
      });
      const error = await rejection(
        tg.start(async () => {
          await asyncio.sleep(1);
          throw new MyError("before started");
        }),
      );
      isInstance(error, MyError);
      return "body ok";
    });
    assert.equal(result, "body ok", "the group does not see the failure");
    assert.equal(sibling.result(), "sibling ok", "the sibling was not cancelled");
  });
});

test("a task that returns before started() makes start() throw RuntimeError", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      const error = await rejection(tg.start(async () => "no started"));
      isInstance(error, asyncio.RuntimeError);
      assert.match(error.message, /without calling started/);
    });
  });
});

test("a task that fails synchronously before started() makes start() throw that error", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      const error = await rejection(
        tg.start(() => {
          throw new MyError("sync");
        }),
      );
      isInstance(error, MyError);
    });
  });
});

test("a task that fails after started() joins the group's ExceptionGroup and cancels its siblings", async () => {
  await testing.run(async () => {
    let sibling!: asyncio.Task<unknown>;
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        sibling = tg.createTask(() => asyncio.sleep(100));
        await tg.start(async (status) => {
          status.started();
          await asyncio.sleep(1);
          throw new MyError("after started");
        });
        await asyncio.sleep(100);
      }),
    );
    isInstance(error, asyncio.ExceptionGroup);
    isInstance(error.exceptions[0], MyError);
    assert.equal(sibling.cancelled(), true);
  });
});

test("started() called twice is a RuntimeError", async () => {
  await testing.run(async () => {
    let second: unknown = null;
    await new asyncio.TaskGroup().with(async (tg) => {
      await tg.start(async (status) => {
        status.started();
        try {
          status.started();
        } catch (e) {
          second = e;
        }
      });
    });
    isInstance(second, asyncio.RuntimeError);
  });
});

test("cancelling the caller before started() cancels the task, waits for it, then throws CancelledError", async () => {
  await testing.run(async () => {
    const events: string[] = [];
    let child!: asyncio.Task<unknown>;
    await new asyncio.TaskGroup().with(async (tg) => {
      const caller = asyncio.createTask(() =>
        tg.start(async (status) => {
          child = me();
          try {
            await asyncio.sleep(100);
            status.started();
          } catch (e) {
            events.push("child cancelled");
            await new asyncio.CancelScope({ shield: true }).with(() => asyncio.sleep(2));
            events.push("child cleaned up");
            throw e;
          }
        }),
      );
      await asyncio.sleep(1);
      caller.cancel();
      const error = await rejection(caller);
      isInstance(error, asyncio.CancelledError);
      events.push("start threw");
      assert.equal(now(), 3);
    });
    assert.deepEqual(events, ["child cancelled", "child cleaned up", "start threw"]);
    assert.equal(child.cancelled(), true);
  });
});

test("when the caller is cancelled, started() afterwards does nothing", async () => {
  await testing.run(async () => {
    let startedCallThrew: unknown = "not called";
    await new asyncio.TaskGroup().with(async (tg) => {
      const caller = asyncio.createTask(() =>
        tg.start<string>(async (status) => {
          try {
            await asyncio.sleep(100);
          } catch {
            try {
              status.started("late");
              startedCallThrew = null;
            } catch (e) {
              startedCallThrew = e;
            }
          }
        }),
      );
      await asyncio.sleep(1);
      caller.cancel();
      isInstance(await rejection(caller), asyncio.CancelledError);
    });
    assert.equal(startedCallThrew, null);
  });
});

test("a task that fails while its cancelled caller waits gives start() that error", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      const caller = asyncio.createTask(() =>
        tg.start(async () => {
          try {
            await asyncio.sleep(100);
          } catch {
            throw new MyError("while cancelled");
          }
        }),
      );
      await asyncio.sleep(1);
      caller.cancel();
      isInstance(await rejection(caller), MyError);
      assert.equal(caller.cancelling(), 1);
    });
  });
});

test("start() on a group that is shutting down is a RuntimeError", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      tg.cancel();
      const error = await rejection(tg.start(async (status) => status.started()));
      isInstance(error, asyncio.RuntimeError);
      assert.match(error.message, /shutting down/);
    });
  });
});

test("start() on a group that is not entered or has finished is a RuntimeError", async () => {
  await testing.run(async () => {
    const tg = new asyncio.TaskGroup();
    isInstance(await rejection(tg.start(async (status) => status.started())), asyncio.RuntimeError);
    await tg.with(() => undefined);
    const error = await rejection(tg.start(async (status) => status.started()));
    isInstance(error, asyncio.RuntimeError);
    assert.match(error.message, /finished/);
  });
});

test("start() with something that is not a function is a TypeError", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      isInstance(await rejection(tg.start(42 as never)), TypeError);
    });
  });
});

test("a pending start() from another task keeps the group open until the task starts", async () => {
  await testing.run(async () => {
    let starter!: asyncio.Task<unknown>;
    await new asyncio.TaskGroup().with(async (outer) => {
      await new asyncio.TaskGroup().with(async (inner) => {
        starter = outer.createTask(() =>
          inner.start(async (status) => {
            await asyncio.sleep(2);
            status.started();
            await asyncio.sleep(3);
          }),
        );
        await asyncio.sleep(0);
      });
      assert.equal(now(), 5, "the inner group waited for the task that joined it late");
    });
    assert.equal(starter.done(), true);
  });
});

test("a pending start() whose task fails still lets the group it targets finish", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (outer) => {
      await new asyncio.TaskGroup().with(async (inner) => {
        outer.createTask(async () => {
          const error = await rejection(
            inner.start(async () => {
              await asyncio.sleep(7);
              throw new MyError("late crash");
            }),
          );
          isInstance(error, MyError);
        });
        await asyncio.sleep(0);
      });
      assert.equal(now(), 7);
    });
  });
});

test("a task that joins a group after it started shutting down is cancelled", async () => {
  await testing.run(async () => {
    let joined!: asyncio.Task<unknown>;
    let value: unknown;
    await new asyncio.TaskGroup().with(async (outer) => {
      await new asyncio.TaskGroup().with(async (inner) => {
        outer.createTask(async () => {
          value = await inner.start<number>(async (status) => {
            joined = me();
            await new asyncio.CancelScope({ shield: true }).with(() => asyncio.sleep(2));
            status.started(9);
            await asyncio.sleep(100);
          });
        });
        await asyncio.sleep(1);
        inner.cancel();
      });
    });
    assert.equal(value, 9);
    assert.equal(joined.cancelled(), true);
    assert.equal(now(), 2);
  });
});

test("a start() task passes options such as its name on", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      const name = await tg.start<string>(async (status) => status.started(me().getName()), { name: "worker-1" });
      assert.equal(name, "worker-1");
    });
  });
});

test("an eager task that calls started() synchronously resolves start()", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      const value = await tg.start<number>(
        (status) => {
          status.started(5);
          return asyncio.sleep(1);
        },
        { eagerStart: true },
      );
      assert.equal(value, 5);
    });
    assert.equal(now(), 1);
  });
});

test("a start() caller inside a cancelled scope cancels the task and the scope catches it", async () => {
  await testing.run(async () => {
    let child!: asyncio.Task<unknown>;
    await new asyncio.TaskGroup().with(async (tg) => {
      const scope = asyncio.moveOnAfter(1);
      const result = await scope.with(() =>
        tg.start(async (status) => {
          child = me();
          await asyncio.sleep(100);
          status.started();
        }),
      );
      assert.equal(result, undefined);
      assert.equal(scope.cancelledCaught, true);
    });
    assert.equal(child.cancelled(), true);
    assert.equal(now(), 1);
    assert.equal(me().cancelling(), 0);
  });
});

test("the value of started() reaches start() across many starts in order", async () => {
  await testing.run(async () => {
    const values: number[] = [];
    await new asyncio.TaskGroup().with(async (tg) => {
      for (let i = 0; i < 5; i++) {
        values.push(
          await tg.start<number>(async (status) => {
            await asyncio.sleep(1);
            status.started(i * 10);
            await asyncio.sleep(10);
          }),
        );
      }
    });
    assert.deepEqual(values, [0, 10, 20, 30, 40]);
    assert.equal(now(), 15);
  });
});

/** True when A and B are the same type (not merely assignable to each other). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when its type argument is `true` (checked by `npm run lint`). */
function expectType<T extends true>(_proof?: T): void {}

test("start<V>() is typed by the value its task gives started(), and TaskStatus is exported", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      const fn = async (status: asyncio.TaskStatus<{ port: number }>): Promise<void> => status.started({ port: 80 });
      const p = tg.start(fn);
      expectType<Equal<typeof p, Promise<{ port: number }>>>();
      assert.deepEqual(await p, { port: 80 });
    });
  });
});

test("a start() task cancelled by someone else before started() makes start() throw CancelledError", async () => {
  await testing.run(async () => {
    await new asyncio.TaskGroup().with(async (tg) => {
      let child!: asyncio.Task<unknown>;
      const pending = tg.start(async () => {
        child = me();
        await asyncio.sleep(100);
      });
      await asyncio.sleep(1);
      child.cancel();
      isInstance(await rejection(pending), asyncio.CancelledError);
      assert.equal(me().cancelling(), 0, "the caller itself was not cancelled");
    });
  });
});

test("start() called inside an already cancelled scope: started() does nothing and the task is cancelled", async () => {
  await testing.run(async () => {
    let child!: asyncio.Task<unknown>;
    let afterStarted = false;
    await new asyncio.TaskGroup().with(async (tg) => {
      const scope = new asyncio.CancelScope();
      scope.cancel();
      await scope.with(() =>
        tg.start(async (status) => {
          child = me();
          status.started();
          await asyncio.sleep(10);
          afterStarted = true;
        }),
      );
      assert.equal(scope.cancelledCaught, true);
    });
    assert.equal(child.cancelled(), true);
    assert.equal(afterStarted, false);
    assert.equal(now(), 0);
  });
});

test("a task that fails right after started() fails the group, though start() had its value", async () => {
  await testing.run(async () => {
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        await tg.start<string>(async (status) => {
          status.started("v");
          throw new MyError("right after");
        });
        await asyncio.sleep(10);
      }),
    );
    isInstance(error, asyncio.ExceptionGroup);
    isInstance(error.exceptions[0], MyError);
    assert.equal(now(), 0);
  });
});
