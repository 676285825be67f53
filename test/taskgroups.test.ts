import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import * as asyncio from "../src/index.js";
import { isInstance, notInstance, rejection } from "./helpers/expect.js";

class MyError extends Error {
  override name = "MyError";
}

class OtherError extends Error {
  override name = "OtherError";
}

/** Asserts `error` is a TaskGroup's ExceptionGroup and returns it. */
function group(error: unknown): asyncio.ExceptionGroup {
  assert.ok(error instanceof asyncio.ExceptionGroup, `expected an ExceptionGroup, got ${String(error)}`);
  assert.equal(error.message, "unhandled errors in a TaskGroup");
  return error;
}

/** The set of error class names in a group (one level). */
function errorTypes(eg: asyncio.ExceptionGroup): Set<string> {
  return new Set(eg.exceptions.map((e) => (e as Error).constructor.name));
}

async function sleepThenThrow(delay: number, error: Error): Promise<never> {
  await asyncio.sleep(delay);
  throw error;
}

test("a TaskGroup waits for all its tasks and returns the body's result", async () => {
  await asyncio.run(async () => {
    let t1!: asyncio.Task<number>;
    let t2!: asyncio.Task<number>;
    const result = await new asyncio.TaskGroup().with(async (tg) => {
      t1 = tg.createTask(async () => {
        await asyncio.sleep(0.01);
        return 42;
      });
      t2 = tg.createTask(async () => {
        await asyncio.sleep(0.02);
        return 11;
      });
      return "body";
    });
    assert.equal(result, "body");
    assert.equal(t1.result(), 42);
    assert.equal(t2.result(), 11);
  });
});

test("a TaskGroup accepts a synchronous body and returns its value", async () => {
  const result = await asyncio.run(() => new asyncio.TaskGroup().with(() => 7));
  assert.equal(result, 7);
});

test("tasks can be added while the body is still running", async () => {
  await asyncio.run(async () => {
    const order: string[] = [];
    await new asyncio.TaskGroup().with(async (tg) => {
      tg.createTask(async () => {
        await asyncio.sleep(0.01);
        order.push("first");
      });
      await asyncio.sleep(0.02);
      tg.createTask(async () => {
        await asyncio.sleep(0.01);
        order.push("second");
      });
    });
    assert.deepEqual(order, ["first", "second"]);
  });
});

test("tasks of the group can add more tasks to it", async () => {
  await asyncio.run(async () => {
    let finished = 0;
    await new asyncio.TaskGroup().with((tg) => {
      tg.createTask(async () => {
        await asyncio.sleep(0.005);
        for (const d of [0.005, 0.01]) {
          tg.createTask(async () => {
            await asyncio.sleep(d);
            finished++;
          });
        }
      });
    });
    assert.equal(finished, 2);
  });
});

test("a child cancelled on its own does not fail the group", async () => {
  await asyncio.run(async () => {
    let t1!: asyncio.Task<number>;
    let t2!: asyncio.Task<number>;
    await new asyncio.TaskGroup().with(async (tg) => {
      t1 = tg.createTask(async () => {
        await asyncio.sleep(10);
        return 42;
      });
      await asyncio.sleep(0.01);
      t1.cancel();
      t2 = tg.createTask(async () => {
        await asyncio.sleep(0.01);
        return 11;
      });
    });
    assert.equal(t1.cancelled(), true);
    assert.equal(t2.result(), 11);
  });
});

test("the first failure cancels the other children and the body", async () => {
  await asyncio.run(async () => {
    let siblingCancelled = false;
    let bodyCancelled = false;
    let afterBody = false;
    let sibling!: asyncio.Task<void>;
    const error = await rejection(
      asyncio.createTask(async () => {
        await new asyncio.TaskGroup().with(async (tg) => {
          tg.createTask(() => sleepThenThrow(0.01, new MyError("boom")));
          sibling = tg.createTask(async () => {
            try {
              await asyncio.sleep(10);
            } catch (e) {
              siblingCancelled = e instanceof asyncio.CancelledError;
              throw e;
            }
          });
          try {
            await asyncio.sleep(10);
          } catch (e) {
            bodyCancelled = e instanceof asyncio.CancelledError;
            throw e;
          }
        });
        afterBody = true;
      }),
    );
    const eg = group(error);
    assert.deepEqual(errorTypes(eg), new Set(["MyError"]));
    assert.equal(siblingCancelled, true);
    assert.equal(sibling.cancelled(), true);
    assert.equal(bodyCancelled, true);
    assert.equal(afterBody, false);
  });
});

test("all failures are thrown together as one ExceptionGroup, in the order they happened", async () => {
  await asyncio.run(async () => {
    const errors = [new MyError("a"), new OtherError("b"), new MyError("c")];
    const error = await rejection(
      new asyncio.TaskGroup().with((tg) => {
        for (const e of errors) {
          tg.createTask(async () => {
            throw e;
          });
        }
      }),
    );
    const eg = group(error);
    assert.deepEqual([...eg.exceptions], errors);
  });
});

test("the ExceptionGroup of a TaskGroup is an AggregateError holding the same errors", async () => {
  await asyncio.run(async () => {
    const boom = new MyError("boom");
    const error = await rejection(
      new asyncio.TaskGroup().with((tg) => {
        tg.createTask(async () => {
          throw boom;
        });
      }),
    );
    const eg = group(error);
    isInstance(eg, AggregateError);
    assert.deepEqual([...eg.errors], [boom]);
  });
});

test("a failure of the body cancels the children and is included in the group", async () => {
  await asyncio.run(async () => {
    let t1!: asyncio.Task<number>;
    let t2!: asyncio.Task<number>;
    const boom = new MyError("body");
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        t1 = tg.createTask(async () => {
          await asyncio.sleep(1);
          return 42;
        });
        t2 = tg.createTask(async () => {
          await asyncio.sleep(2);
          return 11;
        });
        await asyncio.sleep(0.01);
        throw boom;
      }),
    );
    assert.deepEqual([...group(error).exceptions], [boom]);
    assert.equal(t1.cancelled(), true);
    assert.equal(t2.cancelled(), true);
  });
});

test("a body failing before the children started keeps their bodies from ever running", async () => {
  await asyncio.run(async () => {
    let ran = false;
    const tasks: asyncio.Task<void>[] = [];
    const error = await rejection(
      new asyncio.TaskGroup().with((tg) => {
        for (let i = 0; i < 2; i++) {
          tasks.push(
            tg.createTask(async () => {
              ran = true;
            }),
          );
        }
        throw new MyError("early");
      }),
    );
    assert.deepEqual(errorTypes(group(error)), new Set(["MyError"]));
    assert.equal(ran, false);
    assert.deepEqual(tasks.map((t) => t.cancelled()), [true, true]);
  });
});

test("a child failing after the body returned still fails the group", async () => {
  await asyncio.run(async () => {
    let other!: asyncio.Task<void>;
    const error = await rejection(
      new asyncio.TaskGroup().with((tg) => {
        tg.createTask(() => sleepThenThrow(0.01, new MyError("late")));
        other = tg.createTask(() => asyncio.sleep(10));
        return "done";
      }),
    );
    assert.deepEqual(errorTypes(group(error)), new Set(["MyError"]));
    assert.equal(other.cancelled(), true);
  });
});

test("an error raised in the body's cleanup and a child's failure are both in the group", async () => {
  await asyncio.run(async () => {
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => sleepThenThrow(0.01, new OtherError("child")));
        try {
          await asyncio.sleep(10);
        } finally {
          // eslint-disable-next-line no-unsafe-finally
          throw new MyError("cleanup");
        }
      }),
    );
    assert.deepEqual(errorTypes(group(error)), new Set(["MyError", "OtherError"]));
  });
});

test("nested groups give nested ExceptionGroups", async () => {
  await asyncio.run(async () => {
    let outerChild!: asyncio.Task<never>;
    const error = await rejection(
      new asyncio.TaskGroup().with(async (outer) => {
        outerChild = outer.createTask(() => sleepThenThrow(10, new OtherError("never")));
        await new asyncio.TaskGroup().with((inner) => {
          inner.createTask(() => sleepThenThrow(0.01, new MyError("inner")));
        });
      }),
    );
    const eg = group(error);
    assert.equal(eg.exceptions.length, 1);
    const inner = group(eg.exceptions[0]);
    assert.deepEqual(errorTypes(inner), new Set(["MyError"]));
    assert.equal(outerChild.cancelled(), true);
  });
});

test("a failure in the outer group cancels a nested group without nesting a group for it", async () => {
  await asyncio.run(async () => {
    const error = await rejection(
      new asyncio.TaskGroup().with(async (outer) => {
        outer.createTask(() => sleepThenThrow(0.01, new MyError("outer")));
        await new asyncio.TaskGroup().with((inner) => {
          inner.createTask(() => sleepThenThrow(10, new OtherError("never")));
        });
      }),
    );
    assert.deepEqual(errorTypes(group(error)), new Set(["MyError"]));
  });
});

test("cancelling the parent from outside propagates as CancelledError and cancels every child", async () => {
  await asyncio.run(async () => {
    let cancelledChildren = 0;
    const runner = asyncio.createTask(() =>
      new asyncio.TaskGroup().with((tg) => {
        for (let i = 0; i < 5; i++) {
          tg.createTask(async () => {
            try {
              await asyncio.sleep(10);
            } catch (e) {
              if (e instanceof asyncio.CancelledError) cancelledChildren++;
              throw e;
            }
          });
        }
      }),
    );
    await asyncio.sleep(0.01);
    assert.equal(runner.done(), false);
    runner.cancel();
    const error = await rejection(runner);
    isInstance(error, asyncio.CancelledError);
    notInstance(error, asyncio.ExceptionGroup);
    assert.equal(runner.cancelled(), true);
    assert.equal(cancelledChildren, 5);
  });
});

test("cancelling the parent from outside interrupts the body as well as the children", async () => {
  await asyncio.run(async () => {
    let count = 0;
    const runner = asyncio.createTask(() =>
      new asyncio.TaskGroup().with(async (tg) => {
        for (let i = 0; i < 5; i++) {
          tg.createTask(async () => {
            try {
              await asyncio.sleep(10);
            } catch (e) {
              count += 1;
              throw e;
            }
          });
        }
        try {
          await asyncio.sleep(10);
        } catch (e) {
          count += 10;
          throw e;
        }
      }),
    );
    await asyncio.sleep(0.01);
    runner.cancel();
    isInstance((await rejection(runner)), asyncio.CancelledError);
    assert.equal(count, 15);
  });
});

test("cancelling the parent while the group waits for its children gives CancelledError", async () => {
  await asyncio.run(async () => {
    let t1!: asyncio.Task<number>;
    const runner = asyncio.createTask(() =>
      new asyncio.TaskGroup().with((tg) => {
        t1 = tg.createTask(async () => {
          await asyncio.sleep(1);
          return 42;
        });
        tg.createTask(() => asyncio.sleep(2));
      }),
    );
    await asyncio.sleep(0.01);
    runner.cancel();
    isInstance((await rejection(runner)), asyncio.CancelledError);
    assert.equal(t1.cancelled(), true);
  });
});

test("a group with no tasks cancelled from outside propagates the CancelledError of the body", async () => {
  await asyncio.run(async () => {
    let bodySawCancel = false;
    const runner = asyncio.createTask(() =>
      new asyncio.TaskGroup().with(async () => {
        try {
          await asyncio.sleep(10);
        } catch (e) {
          bodySawCancel = e instanceof asyncio.CancelledError;
          throw e;
        }
      }),
    );
    await asyncio.sleep(0.01);
    runner.cancel("stop");
    const error = await rejection(runner);
    isInstance(error, asyncio.CancelledError);
    assert.equal(error.message, "stop");
    assert.equal(bodySawCancel, true);
  });
});

test("children failing while being cancelled from outside give an ExceptionGroup, not CancelledError", async () => {
  await asyncio.run(async () => {
    const runner = asyncio.createTask(() =>
      new asyncio.TaskGroup().with(async (tg) => {
        for (let i = 0; i < 5; i++) {
          tg.createTask(async () => {
            try {
              await asyncio.sleep(10);
            } finally {
              // eslint-disable-next-line no-unsafe-finally
              throw new MyError("cleanup");
            }
          });
        }
        await asyncio.sleep(10);
      }),
    );
    await asyncio.sleep(0.01);
    runner.cancel();
    const eg = group(await rejection(runner));
    assert.deepEqual(errorTypes(eg), new Set(["MyError"]));
    assert.equal(eg.exceptions.length, 5);
  });
});

test("nested groups cancelled from outside with failing children give nested ExceptionGroups", async () => {
  await asyncio.run(async () => {
    const runner = asyncio.createTask(() =>
      new asyncio.TaskGroup().with(async (outer) => {
        outer.createTask(() => asyncio.sleep(10));
        await new asyncio.TaskGroup().with(async (inner) => {
          for (let i = 0; i < 3; i++) {
            inner.createTask(async () => {
              try {
                await asyncio.sleep(10);
              } finally {
                // eslint-disable-next-line no-unsafe-finally
                throw new MyError("cleanup");
              }
            });
          }
          await asyncio.sleep(10);
        });
      }),
    );
    await asyncio.sleep(0.01);
    runner.cancel();
    const eg = group(await rejection(runner));
    assert.equal(eg.exceptions.length, 1);
    assert.deepEqual(errorTypes(group(eg.exceptions[0])), new Set(["MyError"]));
  });
});

test("a body that turns its cancellation into another error puts that error in the group", async () => {
  await asyncio.run(async () => {
    let count = 0;
    const runner = asyncio.createTask(() =>
      new asyncio.TaskGroup().with(async () => {
        try {
          await asyncio.sleep(10);
        } catch {
          count += 10;
          throw new MyError("instead");
        }
      }),
    );
    await asyncio.sleep(0.01);
    runner.cancel();
    assert.deepEqual(errorTypes(group(await rejection(runner))), new Set(["MyError"]));
    assert.equal(count, 10);
  });
});

test("a child failing while the body handles an outside cancellation gives an ExceptionGroup", async () => {
  await asyncio.run(async () => {
    const runner = asyncio.createTask(() =>
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => sleepThenThrow(0.03, new MyError("soon")));
        try {
          await asyncio.sleep(10);
        } catch (e) {
          await asyncio.sleep(0.06);
          throw e;
        }
      }),
    );
    await asyncio.sleep(0.01);
    runner.cancel();
    assert.deepEqual(errorTypes(group(await rejection(runner))), new Set(["MyError"]));
  });
});

test("the parent's cancelling() count is back to what it was after a group failed", async () => {
  await asyncio.run(async () => {
    const me = asyncio.currentTask()!;
    assert.equal(me.cancelling(), 0);
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => sleepThenThrow(0, new MyError("x")));
        await asyncio.sleep(10);
      }),
    );
    group(error);
    assert.equal(me.cancelling(), 0);
    // The group's own cancellation of the parent did not leak: the task goes on.
    assert.equal(await asyncio.sleep(0.01, "still running"), "still running");
  });
});

test("nested groups failing together keep the cancel count stable at each level", async () => {
  await asyncio.run(async () => {
    const me = asyncio.currentTask()!;
    let between = -1;
    const outerError = await rejection(
      new asyncio.TaskGroup().with(async (outer) => {
        const innerError = await rejection(
          new asyncio.TaskGroup().with((inner) => {
            inner.createTask(() => sleepThenThrow(0, new MyError("inner")));
            outer.createTask(() => sleepThenThrow(0, new OtherError("outer")));
          }),
        );
        assert.deepEqual(errorTypes(group(innerError)), new Set(["MyError"]));
        between = me.cancelling();
      }),
    );
    assert.deepEqual(errorTypes(group(outerError)), new Set(["OtherError"]));
    assert.equal(between, 1);
    assert.equal(me.cancelling(), 0);
  });
});

test("a child's failure and an outside cancel together give the group error and keep the cancel pending", async () => {
  await asyncio.run(async () => {
    const started = asyncio.getRunningLoop().createFuture<void>();
    let levelInside = -1;
    let levelAfter = -1;
    let reachedEnd = false;
    const inner = asyncio.createTask(async () => {
      const error = await rejection(
        new asyncio.TaskGroup().with(async (tg) => {
          tg.createTask(async () => {
            started.setResult();
            await asyncio.sleep(0);
            throw new MyError("child");
          });
          await asyncio.sleep(1);
          assert.fail("the sleep in the group should have been cancelled");
        }),
      );
      assert.deepEqual(errorTypes(group(error)), new Set(["MyError"]));
      levelInside = asyncio.currentTask()!.cancelling();
      levelAfter = levelInside;
      await asyncio.sleep(1);
      reachedEnd = true;
    });
    await started;
    assert.equal(inner.cancelling(), 0);
    inner.cancel();
    assert.equal(inner.cancelling(), 1);
    isInstance((await rejection(inner)), asyncio.CancelledError);
    assert.equal(inner.cancelled(), true);
    assert.equal(levelInside, 1);
    assert.equal(levelAfter, 1);
    assert.equal(reachedEnd, false);
  });
});

test("createTask before the group is entered throws RuntimeError", async () => {
  await asyncio.run(async () => {
    const tg = new asyncio.TaskGroup();
    assert.throws(() => tg.createTask(() => asyncio.sleep(0)), (e: unknown) => {
      return e instanceof asyncio.RuntimeError && /has not been entered/.test(e.message);
    });
  });
});

test("createTask after the group finished throws RuntimeError", async () => {
  await asyncio.run(async () => {
    const tg = new asyncio.TaskGroup();
    await tg.with(() => undefined);
    let ran = false;
    assert.throws(
      () =>
        tg.createTask(async () => {
          ran = true;
        }),
      (e: unknown) => e instanceof asyncio.RuntimeError && /is finished/.test(e.message),
    );
    await asyncio.sleep(0);
    assert.equal(ran, false);
  });
});

test("createTask while the group is shutting down after a failure throws RuntimeError", async () => {
  await asyncio.run(async () => {
    let refused: unknown = null;
    const error = await rejection(
      new asyncio.TaskGroup().with((tg) => {
        tg.createTask(() => sleepThenThrow(0.001, new MyError("x")));
        tg.createTask(async () => {
          try {
            await asyncio.sleep(1);
          } catch {
            try {
              tg.createTask(() => asyncio.sleep(0));
            } catch (e) {
              refused = e;
            }
          }
        });
      }),
    );
    assert.deepEqual(errorTypes(group(error)), new Set(["MyError"]));
    isInstance(refused, asyncio.RuntimeError);
    assert.match(refused.message, /shutting down/);
  });
});

test("entering a TaskGroup that is already entered throws RuntimeError", async () => {
  await asyncio.run(async () => {
    const tg = new asyncio.TaskGroup();
    await tg.with(async () => {
      const error = await rejection(tg.with(() => undefined));
      isInstance(error, asyncio.RuntimeError);
      assert.match(error.message, /has already been entered/);
    });
  });
});

test("entering a TaskGroup a second time after it finished throws RuntimeError", async () => {
  await asyncio.run(async () => {
    const tg = new asyncio.TaskGroup();
    await tg.with(() => undefined);
    let ran = false;
    const error = await rejection(
      tg.with(() => {
        ran = true;
      }),
    );
    isInstance(error, asyncio.RuntimeError);
    assert.match(error.message, /has already been entered/);
    assert.equal(ran, false);
  });
});

test("a TaskGroup used outside a task throws RuntimeError and stays unentered", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const tg = new asyncio.TaskGroup();
    const outcome = loop.createFuture<unknown>();
    // A loop callback runs on the loop but belongs to no task.
    loop.callSoon(() => {
      tg.with(() => undefined).then(
        () => outcome.setResult(null),
        (e: unknown) => outcome.setResult(e),
      );
    });
    const error = await outcome;
    isInstance(error, asyncio.RuntimeError);
    assert.match(error.message, /parent task/);
    assert.throws(() => tg.createTask(() => asyncio.sleep(0)), /has not been entered/);
  });
});

test("a TaskGroup used where no loop runs throws RuntimeError", async () => {
  const error = await rejection(new asyncio.TaskGroup().with(() => undefined));
  isInstance(error, asyncio.RuntimeError);
});

test("a KeyboardInterrupt raised by a child is re-thrown bare, not in a group", async () => {
  await asyncio.run(async () => {
    const interrupt = new asyncio.KeyboardInterrupt();
    let other!: asyncio.Task<void>;
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => sleepThenThrow(0.01, interrupt));
        other = tg.createTask(() => asyncio.sleep(10));
        await asyncio.sleep(10);
      }),
    );
    assert.equal(error, interrupt);
    assert.equal(other.cancelled(), true);
  });
});

test("a KeyboardInterrupt raised by the body wins over the children's errors", async () => {
  await asyncio.run(async () => {
    const interrupt = new asyncio.KeyboardInterrupt();
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(() => sleepThenThrow(0.01, new MyError("child")));
        try {
          await asyncio.sleep(10);
        } finally {
          // eslint-disable-next-line no-unsafe-finally
          throw interrupt;
        }
      }),
    );
    assert.equal(error, interrupt);
  });
});

test("a TaskGroup inside a timeout that expires gives TimeoutError and cancels the children", async () => {
  await asyncio.run(async () => {
    let child!: asyncio.Task<void>;
    const error = await rejection(
      asyncio.timeout(0.02).with(() =>
        new asyncio.TaskGroup().with((tg) => {
          child = tg.createTask(() => asyncio.sleep(10));
        }),
      ),
    );
    isInstance(error, asyncio.TimeoutError);
    assert.equal(child.cancelled(), true);
    assert.equal(asyncio.currentTask()!.cancelling(), 0);
  });
});

test("createTask passes the task name through", async () => {
  await asyncio.run(async () => {
    await new asyncio.TaskGroup().with((tg) => {
      const t = tg.createTask(() => asyncio.sleep(0), { name: "yolo" });
      assert.equal(t.getName(), "yolo");
    });
  });
});

test("createTask refuses a started promise with a TypeError showing the thunk form", async () => {
  await asyncio.run(async () => {
    await new asyncio.TaskGroup().with((tg) => {
      const started = Promise.resolve(1);
      assert.throws(
        () => tg.createTask(started as unknown as () => Promise<number>),
        (e: unknown) => e instanceof TypeError && /\(\) =>/.test(e.message),
      );
    });
  });
});

test("many tasks that keep spawning are all stopped by one failure, which alone is reported", async () => {
  await asyncio.run(async () => {
    let spawned = 0;
    const error = await rejection(
      new asyncio.TaskGroup().with((tg) => {
        const hydra = async (): Promise<void> => {
          spawned++;
          await asyncio.sleep(0);
          tg.createTask(hydra);
          tg.createTask(hydra);
        };
        tg.createTask(hydra);
        tg.createTask(async () => {
          while (spawned < 10) await asyncio.sleep(0);
          throw new MyError("hercules");
        });
      }),
    );
    // As CPython: a task woken in the iteration that aborts the group runs its step before the abort, or is
    // cancelled at its await; it never sees the group shutting down.
    assert.deepEqual(
      group(error).exceptions.map((e) => String(e)),
      ["MyError: hercules"],
    );
    assert.ok(spawned >= 10, `only ${spawned} tasks were spawned`);
    assert.equal(asyncio.allTasks().size, 1);
  });
});

test("after a caught TaskGroup failure the parent task's signal is fresh, and a wait with it completes", async () => {
  await asyncio.run(async () => {
    const me = asyncio.currentTask()!;
    const before = me.signal;
    const error = await rejection(
      new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(async () => {
          await asyncio.sleep(0.01);
          throw new MyError("child failed");
        });
        // The body waits outside asyncio-ts, on the parent's signal: the group's cancel aborts it.
        await delay(1000, undefined, { signal: asyncio.currentTask()!.signal });
      }),
    );
    assert.deepEqual(
      group(error).exceptions.map((e) => String(e)),
      ["MyError: child failed"],
    );
    assert.equal(before.aborted, true);
    assert.equal(me.cancelling(), 0);
    const after = me.signal;
    assert.notEqual(after, before);
    assert.equal(after.aborted, false);
    assert.equal(await delay(1, "retried", { signal: asyncio.currentTask()!.signal }), "retried");
  });
});
