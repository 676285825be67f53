// Tasks: creation, results, names, currentTask/allTasks, eager start, ensureFuture, signal, introspection, sleep.
// Behaviours follow CPython 3.13's asyncio (Lib/test/test_asyncio/test_tasks.py), spelled the asyncio-ts way.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as delay } from "node:timers/promises";
import fc from "fast-check";
import * as asyncio from "../src/index.js";
import { tick, newFuture } from "./helpers/loop.js";

void describe("createTask", () => {
  void test("a task runs its coroutine function and resolves with the returned value", async () => {
    const result = await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        await asyncio.sleep(0);
        return "ok";
      });
      return await t;
    });
    assert.equal(result, "ok");
  });

  void test("a task is a Future: isFuture is true and result() gives the value once done", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => 5);
      assert.ok(t instanceof asyncio.Task);
      assert.ok(t instanceof asyncio.Future);
      assert.ok(asyncio.isFuture(t));
      assert.equal(t.done(), false);
      await t;
      assert.equal(t.done(), true);
      assert.equal(t.cancelled(), false);
      assert.equal(t.result(), 5);
      assert.equal(t.exception(), null);
    });
  });

  void test("a new task does not start inside createTask but on a later loop iteration", async () => {
    await asyncio.run(async () => {
      const log: string[] = [];
      const t = asyncio.createTask(async () => {
        log.push("body");
      });
      log.push("after createTask");
      await asyncio.sleep(0);
      log.push("after yield");
      await t;
      assert.deepEqual(log, ["after createTask", "body", "after yield"]);
    });
  });

  void test("createTask with a started promise throws a TypeError that shows the thunk form", async () => {
    await asyncio.run(async () => {
      const work = async (): Promise<number> => 1;
      const started = work();
      assert.throws(
        () => asyncio.createTask(started as any),
        (e: unknown) => e instanceof TypeError && e.message.includes("() =>"),
      );
      assert.equal(await started, 1);
    });
  });

  void test("createTask with a Future instead of a function throws a TypeError", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      assert.throws(() => asyncio.createTask(fut as any), TypeError);
    });
  });

  void test("createTask with something that is neither a function nor a promise throws a TypeError", async () => {
    await asyncio.run(async () => {
      assert.throws(() => asyncio.createTask(123 as any), TypeError);
      assert.throws(() => asyncio.createTask(null as any), TypeError);
    });
  });

  void test("createTask outside a running loop throws RuntimeError", () => {
    assert.throws(() => asyncio.createTask(async () => 1), asyncio.RuntimeError);
  });

  void test("a coroutine function that returns a plain value completes its task with that value", async () => {
    const result = await asyncio.run(async () => await asyncio.createTask(() => 42));
    assert.equal(result, 42);
  });

  void test("a function that throws synchronously fails its task with that error", async () => {
    await asyncio.run(async () => {
      const boom = new Error("sync boom");
      const t = asyncio.createTask((): number => {
        throw boom;
      });
      await assert.rejects(async () => {
        await t;
      }, (e: unknown) => e === boom);
      assert.equal(t.exception(), boom);
      assert.equal(t.cancelled(), false);
    });
  });

  void test("a body that throws after an await fails the task; awaiting it rethrows the same error", async () => {
    await asyncio.run(async () => {
      const boom = new RangeError("late boom");
      const t = asyncio.createTask(async () => {
        await asyncio.sleep(0);
        throw boom;
      });
      await assert.rejects(async () => {
        await t;
      }, (e: unknown) => e === boom);
      assert.throws(() => t.result(), (e: unknown) => e === boom);
      assert.equal(t.exception(), boom);
    });
  });

  void test("a body that returns a Future resolves its task to that Future's value", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<string>();
      const t = asyncio.createTask(async () => fut as PromiseLike<string>);
      const setter = asyncio.createTask(async () => {
        fut.setResult("from future");
      });
      assert.equal(await t, "from future");
      await setter;
    });
  });

  void test("a plain function that returns a Future makes a task that ends with that Future's result or error", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const ok = newFuture<number>();
      const bad = newFuture<number>();
      const t1 = asyncio.createTask(() => ok);
      const t2 = asyncio.createTask(() => bad);
      loop.callSoon(() => ok.setResult(7));
      loop.callSoon(() => bad.setException(new Error("from the future")));
      assert.equal(await t1, 7);
      await assert.rejects(t2, /from the future/);
    });
  });

  void test("awaiting a task that fails later counts as retrieving its exception", async () => {
    const reports: string[] = [];
    await asyncio.run(async () => {
      asyncio.getRunningLoop().setExceptionHandler((_loop, context) => reports.push(String(context.message)));
      const t = asyncio.createTask(async () => {
        await asyncio.sleep(0);
        throw new Error("seen by the awaiter");
      });
      await assert.rejects(async () => {
        await t;
      }, /seen by the awaiter/);
    });
    assert.deepEqual(reports, []);
  });

  void test("a failed task nobody awaited is reported to the exception handler as never retrieved", async () => {
    const reports: string[] = [];
    await asyncio.run(async () => {
      asyncio.getRunningLoop().setExceptionHandler((_loop, context) => reports.push(String(context.message)));
      const t = asyncio.createTask(async () => {
        throw new Error("nobody looks");
      });
      await asyncio.sleep(0);
      await asyncio.sleep(0);
      assert.equal(t.done(), true);
    });
    assert.deepEqual(reports, ["Task exception was never retrieved"]);
  });

  void test("setResult and setException on a task throw RuntimeError", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => "ko");
      assert.throws(() => t.setResult("ok"), (e: unknown) => e instanceof asyncio.RuntimeError && /set_result/.test(e.message));
      assert.throws(() => t.setException(new Error("x")), (e: unknown) => e instanceof asyncio.RuntimeError && /set_exception/.test(e.message));
      assert.equal(await t, "ko");
    });
  });

  void test("a task that awaits itself fails with RuntimeError", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        await asyncio.sleep(0);
        await asyncio.currentTask()!;
      });
      await assert.rejects(async () => {
        await t;
      }, asyncio.RuntimeError);
      assert.ok(t.exception() instanceof asyncio.RuntimeError);
    });
  });

  void test("new Task(fn) schedules the function on the running loop like createTask", async () => {
    await asyncio.run(async () => {
      const t = new asyncio.Task(async () => "direct");
      assert.equal(t.getLoop(), asyncio.getRunningLoop());
      assert.equal(await t, "direct");
    });
  });

  void test("new Task(fn) with no running loop and no loop option throws RuntimeError", () => {
    assert.throws(() => new asyncio.Task(async () => 1), asyncio.RuntimeError);
  });

  void test("loop.createTask creates a task on that loop", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const t = loop.createTask(async () => 3, { name: "via-loop" });
      assert.equal(t.getName(), "via-loop");
      assert.equal(await t, 3);
    });
  });

  void test("done callbacks of a task are called with the task once it finishes", async () => {
    await asyncio.run(async () => {
      const seen: unknown[] = [];
      const t = asyncio.createTask(async () => "v");
      t.addDoneCallback((f) => seen.push(f));
      await t;
      await tick();
      assert.deepEqual(seen, [t]);
    });
  });

  void test("a task body runs in the async context createTask was called in", async () => {
    await asyncio.run(async () => {
      const als = new AsyncLocalStorage<string>();
      const t = als.run("creator", () => asyncio.createTask(async () => {
        await asyncio.sleep(0);
        return als.getStore();
      }));
      assert.equal(await t, "creator");
    });
  });

  void test("a task's start leaves neither its frame nor its creator's context to the callback that runs next", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const als = new AsyncLocalStorage<string>();
      const seen: unknown[] = [];
      als.run("creator", () => asyncio.createTask(async () => {
        seen.push(asyncio.currentTask()?.getName(), als.getStore());
        await asyncio.sleep(0);
      }, { name: "starter" }));
      loop.callSoon(() => seen.push(asyncio.currentTask(), als.getStore()));
      await asyncio.sleep(0);
      await asyncio.sleep(0);
      assert.deepEqual(seen, ["starter", "creator", null, undefined]);
    });
  });
});

void describe("task names", () => {
  void test("tasks are named Task-N by default, N increasing with each task", async () => {
    await asyncio.run(async () => {
      const a = asyncio.createTask(async () => {});
      const b = asyncio.createTask(async () => {});
      const ma = /^Task-(\d+)$/.exec(a.getName());
      const mb = /^Task-(\d+)$/.exec(b.getName());
      assert.ok(ma && mb, `${a.getName()} / ${b.getName()}`);
      assert.ok(Number(mb[1]) > Number(ma[1]));
      await asyncio.gather(a, b);
    });
  });

  void test("the name option names the task", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {}, { name: "No-op" });
      assert.equal(t.getName(), "No-op");
      await t;
    });
  });

  void test("setName renames the task and getName returns the new name", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => asyncio.currentTask()!.getName(), { name: "first" });
      t.setName("second");
      assert.equal(t.getName(), "second");
      assert.equal(await t, "second");
    });
  });

  void test("setName with a non-string stores its string form", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {});
      t.setName(5 as any);
      assert.equal(t.getName(), "5");
      await t;
    });
  });
});

void describe("currentTask", () => {
  void test("currentTask inside a task body is that task, also after awaits", async () => {
    await asyncio.run(async () => {
      const seen: unknown[] = [];
      const t = asyncio.createTask(async () => {
        seen.push(asyncio.currentTask());
        await asyncio.sleep(0);
        seen.push(asyncio.currentTask());
        await Promise.resolve();
        seen.push(asyncio.currentTask());
      });
      await t;
      assert.deepEqual(seen, [t, t, t]);
    });
  });

  void test("currentTask outside a running loop throws RuntimeError, as CPython's current_task()", () => {
    assert.throws(() => asyncio.currentTask(), (e: unknown) => e instanceof asyncio.RuntimeError && /no running event loop/.test(String(e)));
  });

  void test("currentTask(loop) of a loop that is not running is null", () => {
    const loop = asyncio.newEventLoop();
    try {
      assert.equal(asyncio.currentTask(loop), null);
    } finally {
      loop.close();
    }
  });

  void test("the main coroutine of run() is itself a task", async () => {
    await asyncio.run(async () => {
      const me = asyncio.currentTask();
      assert.ok(me instanceof asyncio.Task);
      assert.ok(asyncio.allTasks().has(me));
    });
  });

  void test("interleaving tasks each see themselves as the current task", async () => {
    await asyncio.run(async () => {
      const fut1 = newFuture<boolean>();
      const fut2 = newFuture<boolean>();
      const checks: boolean[] = [];
      const task1: asyncio.Task<void> = asyncio.createTask(async () => {
        checks.push(asyncio.currentTask() === task1);
        await fut1;
        checks.push(asyncio.currentTask() === task1);
        fut2.setResult(true);
      });
      const task2: asyncio.Task<void> = asyncio.createTask(async () => {
        checks.push(asyncio.currentTask() === task2);
        fut1.setResult(true);
        await fut2;
        checks.push(asyncio.currentTask() === task2);
      });
      await asyncio.wait([task1, task2]);
      assert.deepEqual(checks, [true, true, true, true]);
    });
  });

  void test("currentTask inside a loop callback (not a task) is null", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const done = loop.createFuture<unknown>();
      loop.callSoon(() => done.setResult(asyncio.currentTask()));
      assert.equal(await done, null);
    });
  });

  void test("currentTask(otherLoop) is null when the current task belongs to another loop", async () => {
    const other = asyncio.newEventLoop();
    try {
      await asyncio.run(async () => {
        assert.notEqual(asyncio.currentTask(), null);
        assert.equal(asyncio.currentTask(other), null);
        assert.equal(asyncio.currentTask(asyncio.getRunningLoop()), asyncio.currentTask());
      });
    } finally {
      other.close();
    }
  });
});

void describe("allTasks", () => {
  void test("allTasks lists the pending tasks, the main one included, and drops finished ones", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<void>();
      const waiting = asyncio.createTask(async () => {
        await fut;
      });
      const quick = asyncio.createTask(async () => 1);
      await quick;
      const all = asyncio.allTasks();
      assert.ok(all instanceof Set);
      assert.ok(all.has(asyncio.currentTask()!));
      assert.ok(all.has(waiting));
      assert.ok(!all.has(quick));
      fut.setResult();
      await waiting;
      assert.ok(!asyncio.allTasks().has(waiting));
    });
  });

  void test("allTasks returns a copy that later task creation does not change", async () => {
    await asyncio.run(async () => {
      const before = asyncio.allTasks();
      const t = asyncio.createTask(async () => {});
      assert.ok(!before.has(t));
      assert.ok(asyncio.allTasks().has(t));
      await t;
    });
  });

  void test("allTasks(loop) gives the tasks of that loop", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const t = asyncio.createTask(() => asyncio.sleep(0.01));
      assert.ok(asyncio.allTasks(loop).has(t));
      await t;
    });
  });

  void test("allTasks lists exactly the pending tasks, oldest first, through any order of ends", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 30 }), (picks) =>
        asyncio.run(async () => {
          const main = asyncio.currentTask()!;
          const pending = picks.map(() => {
            const fut = newFuture<void>();
            return { fut, task: asyncio.createTask(async () => await fut) };
          });
          await asyncio.sleep(0);
          for (const pick of picks) {
            const [ended] = pending.splice(pick % pending.length, 1);
            ended!.fut.setResult();
            await ended!.task;
            assert.deepEqual([...asyncio.allTasks()], [main, ...pending.map((p) => p.task)]);
          }
        }),
      ),
      { numRuns: 50 },
    );
  });

  void test("allTasks outside a running loop throws RuntimeError", () => {
    assert.throws(() => asyncio.allTasks(), asyncio.RuntimeError);
  });
});

void describe("eager tasks", () => {
  void test("eagerStart runs the body synchronously inside createTask up to its first await", async () => {
    await asyncio.run(async () => {
      const log: string[] = [];
      const t = asyncio.createTask(
        async () => {
          log.push("body start");
          await asyncio.sleep(0);
          log.push("body resumed");
          return 1;
        },
        { eagerStart: true },
      );
      log.push("after createTask");
      assert.equal(await t, 1);
      assert.deepEqual(log, ["body start", "after createTask", "body resumed"]);
    });
  });

  void test("with eagerTaskFactory installed, createTask starts bodies synchronously", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      loop.setTaskFactory(asyncio.eagerTaskFactory);
      assert.equal(loop.getTaskFactory(), asyncio.eagerTaskFactory);
      const log: string[] = [];
      const t = asyncio.createTask(async () => {
        log.push("body");
        await asyncio.sleep(0);
        return "eager";
      });
      log.push("after");
      loop.setTaskFactory(null);
      assert.equal(loop.getTaskFactory(), null);
      assert.ok(t instanceof asyncio.Task);
      assert.equal(await t, "eager");
      assert.deepEqual(log, ["body", "after"]);
    });
  });

  void test("a task factory of one's own gets an options object it may change, with or without options given", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      loop.setTaskFactory((factoryLoop, coro, options) => {
        options.name = `made-${String(options.name ?? "plain")}`;
        return new asyncio.Task(coro, { ...options, loop: factoryLoop });
      });
      const plain = asyncio.createTask(async () => 1);
      const named = loop.createTask(async () => 2, { name: "x" });
      loop.setTaskFactory(null);
      assert.deepEqual([plain.getName(), named.getName()], ["made-plain", "made-x"]);
      assert.deepEqual(await asyncio.gather(plain, named), [1, 2]);
    });
  });

  void test("an eager body sees its own task as current, and the creator is current again after createTask", async () => {
    await asyncio.run(async () => {
      const main = asyncio.currentTask();
      let seenInBody: string | undefined;
      const t = asyncio.createTask(
        async () => {
          seenInBody = asyncio.currentTask()?.getName();
          await asyncio.sleep(0);
        },
        { eagerStart: true, name: "eager-one" },
      );
      assert.equal(seenInBody, "eager-one");
      assert.equal(asyncio.currentTask(), main);
      await t;
    });
  });

  void test("an eager task that never awaits completes with its value", async () => {
    await asyncio.run(async () => {
      let ran = false;
      const t = asyncio.createTask(
        async () => {
          ran = true;
          return 7;
        },
        { eagerStart: true },
      );
      assert.equal(ran, true);
      assert.equal(await t, 7);
      assert.ok(!asyncio.allTasks().has(t));
    });
  });

  void test("an eager task can be cancelled while suspended at its first await", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<void>();
      const t = asyncio.createTask(
        async () => {
          await fut;
        },
        { eagerStart: true },
      );
      assert.equal(t.cancel(), true);
      await assert.rejects(async () => {
        await t;
      }, asyncio.CancelledError);
      assert.equal(t.cancelled(), true);
      assert.equal(fut.cancelled(), true);
    });
  });

  void test("an eager body that throws synchronously fails its task", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(
        async () => {
          throw new TypeError("eager failure");
        },
        { eagerStart: true },
      );
      await assert.rejects(async () => {
        await t;
      }, { name: "TypeError", message: "eager failure" });
    });
  });
});

void describe("ensureFuture", () => {
  void test("ensureFuture of a coroutine function wraps it in a new Task", async () => {
    await asyncio.run(async () => {
      const f = asyncio.ensureFuture(async () => {
        await asyncio.sleep(0);
        return "ok";
      });
      assert.ok(f instanceof asyncio.Task);
      assert.equal(await f, "ok");
    });
  });

  void test("ensureFuture of a Future or a Task returns the same object", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      assert.equal(asyncio.ensureFuture(fut), fut);
      const t = asyncio.createTask(async () => 1);
      assert.equal(asyncio.ensureFuture(t), t);
      fut.setResult(2);
      assert.equal(await t, 1);
    });
  });

  void test("ensureFuture of a native promise gives a Future that follows it", async () => {
    await asyncio.run(async () => {
      const ok = asyncio.ensureFuture(Promise.resolve("resolved"));
      assert.ok(asyncio.isFuture(ok));
      assert.ok(!(ok instanceof asyncio.Task));
      assert.equal(await ok, "resolved");
      const err = new Error("rejected");
      const bad = asyncio.ensureFuture(Promise.reject(err));
      await assert.rejects(async () => {
        await bad;
      }, (e: unknown) => e === err);
      assert.equal(bad.exception(), err);
    });
  });

  void test("ensureFuture of a value that is not awaitable throws TypeError", async () => {
    await asyncio.run(async () => {
      assert.throws(() => asyncio.ensureFuture(42 as any), TypeError);
      assert.throws(() => asyncio.ensureFuture({} as any), TypeError);
    });
  });

  void test("ensureFuture of a Future with a different loop option throws RangeError", async () => {
    const other = asyncio.newEventLoop();
    try {
      await asyncio.run(async () => {
        const fut = other.createFuture<number>();
        assert.throws(() => asyncio.ensureFuture(fut, { loop: asyncio.getRunningLoop() }), RangeError);
      });
    } finally {
      other.close();
    }
  });

  // CPython 3.13 after set_event_loop(None): ensure_future(awaitable) raises RuntimeError("There is no current event
  // loop in thread 'MainThread'.").
  void test("ensureFuture of a promise outside a running loop with no loop set throws RuntimeError and makes no loop", () => {
    asyncio.setEventLoop(null);
    assert.throws(() => asyncio.ensureFuture(Promise.resolve(1)), asyncio.RuntimeError);
    assert.throws(() => asyncio.getEventLoop(), asyncio.RuntimeError);
  });
});

void describe("task signal", () => {
  void test("signal is an AbortSignal that stays unaborted while the task runs normally", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        await asyncio.sleep(0);
        return asyncio.currentTask()!.signal.aborted;
      });
      assert.ok(t.signal instanceof AbortSignal);
      assert.equal(await t, false);
      assert.equal(t.signal.aborted, false);
    });
  });

  void test("cancel(msg) aborts the signal with a CancelledError that carries the message", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(10));
      const signal = t.signal;
      const events: string[] = [];
      signal.addEventListener("abort", () => events.push("abort"));
      t.cancel("stop now");
      assert.deepEqual(events, ["abort"]);
      assert.ok(signal.reason instanceof asyncio.CancelledError);
      assert.equal((signal.reason as Error).message, "stop now");
      await assert.rejects(async () => {
        await t;
      }, asyncio.CancelledError);
    });
  });

  void test("the signal of a task read after cancel() is already aborted", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(10));
      t.cancel();
      assert.equal(t.signal.aborted, true);
      assert.ok(t.signal.reason instanceof asyncio.CancelledError);
      await assert.rejects(async () => {
        await t;
      }, asyncio.CancelledError);
      assert.equal(t.signal.aborted, true);
    });
  });

  void test("cancel() on a finished task does not abort its signal", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => 1);
      await t;
      assert.equal(t.cancel(), false);
      assert.equal(t.signal.aborted, false);
    });
  });

  void test("once uncancel() brings the count back to 0, signal is a fresh one; the one handed out before stays aborted", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(10));
      await tick();
      const before = t.signal;
      t.cancel();
      t.cancel();
      assert.equal(before.aborted, true);
      assert.equal(t.uncancel(), 1);
      // Still a cancel request pending: the same aborted signal.
      assert.equal(t.signal, before);
      assert.equal(t.uncancel(), 0);
      const after = t.signal;
      assert.notEqual(after, before);
      assert.equal(after.aborted, false);
      assert.equal(before.aborted, true);
      assert.equal(t.signal, after);
      // A new cancel aborts the fresh signal.
      t.cancel("again");
      assert.equal(after.aborted, true);
      assert.equal(after.reason instanceof asyncio.CancelledError, true);
      await assert.rejects(async () => {
        await t;
      }, asyncio.CancelledError);
    });
  });

  void test("a retry after a caught TimeoutError gets a fresh signal, and a timers/promises wait with it completes", async () => {
    await asyncio.run(async () => {
      const me = asyncio.currentTask()!;
      const first = me.signal;
      await assert.rejects(
        asyncio.timeout(0.01).with(() => delay(1000, undefined, { signal: asyncio.currentTask()!.signal })),
        asyncio.TimeoutError,
      );
      assert.equal(first.aborted, true);
      assert.equal(me.cancelling(), 0);
      const second = me.signal;
      assert.notEqual(second, first);
      assert.equal(second.aborted, false);
      assert.equal(await delay(1, "second attempt", { signal: asyncio.currentTask()!.signal }), "second attempt");
    });
  });
});

void describe("introspection", () => {
  void test("getCoro returns the coroutine function the task runs", async () => {
    await asyncio.run(async () => {
      const fn = async (): Promise<string> => "coro";
      const t = asyncio.createTask(fn);
      assert.equal(t.getCoro(), fn);
      await t;
      assert.equal(t.getCoro(), fn);
    });
  });

  void test("getContext is null by default and returns the context given with the context option", async () => {
    await asyncio.run(async () => {
      const als = new AsyncLocalStorage<string>();
      const snapshot = als.run("given", () => AsyncLocalStorage.snapshot());
      const plain = asyncio.createTask(async () => als.getStore());
      const withContext = asyncio.createTask(async () => als.getStore(), { context: snapshot });
      assert.equal(plain.getContext(), null);
      assert.equal(withContext.getContext(), snapshot);
      assert.equal(await plain, undefined);
      assert.equal(await withContext, "given");
    });
  });

  void test("getStack is empty outside debug mode", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {});
      assert.deepEqual(t.getStack(), []);
      await t;
    });
  });

  void test("in debug mode getStack gives the creation frames as strings, and limit caps them", async () => {
    await asyncio.run(
      async () => {
        const t = asyncio.createTask(async () => {});
        const frames = t.getStack();
        assert.ok(Array.isArray(frames));
        assert.ok(frames.length > 0);
        assert.ok(frames.every((f) => typeof f === "string"));
        assert.ok(frames.some((f) => f.includes("tasks.test")), frames.join("\n"));
        assert.equal(t.getStack({ limit: 1 }).length, 1);
        await t;
      },
      { debug: true },
    );
  });

  void test("printStack writes a description of the task to the given file", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {}, { name: "printed" });
      let out = "";
      t.printStack({ file: { write: (s: string) => (out += s) } });
      assert.match(out, /printed/);
      await t;
    });
  });

  void test("the repr of a task shows its state, name and coroutine function", async () => {
    await asyncio.run(async () => {
      async function namedBody(): Promise<number> {
        await asyncio.sleep(0);
        return 42;
      }
      const t = asyncio.createTask(namedBody, { name: "shown" });
      const pending = String(t);
      assert.match(pending, /^<Task pending /);
      assert.match(pending, /name='shown'/);
      assert.match(pending, /namedBody/);
      await t;
      const finished = String(t);
      assert.match(finished, /finished/);
      assert.match(finished, /result=42/);
    });
  });

  void test("the repr of a failed task shows its exception and of a cancelled task its state", async () => {
    await asyncio.run(async () => {
      const failing = asyncio.createTask(async () => {
        throw new Error("repr boom");
      });
      const cancelled = asyncio.createTask(() => asyncio.sleep(10));
      cancelled.cancel();
      await asyncio.wait([failing, cancelled]);
      assert.match(String(failing), /exception=.*repr boom/);
      assert.match(String(cancelled), /cancelled/);
      failing.exception();
    });
  });
});

void describe("sleep", () => {
  void test("sleep(0) yields exactly once: two tasks interleave step by step", async () => {
    await asyncio.run(async () => {
      const log: string[] = [];
      const worker = (name: string) => async () => {
        for (let i = 0; i < 4; i++) {
          log.push(`${name}${i}`);
          await asyncio.sleep(0);
        }
      };
      await asyncio.gather(worker("a"), worker("b"));
      assert.deepEqual(log, ["a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3"]);
    });
  });

  void test("sleep(0) lets a callback scheduled before it run, and resolves with the given result", async () => {
    await asyncio.run(async () => {
      let counter = 0;
      asyncio.getRunningLoop().callSoon(() => {
        counter += 1;
      });
      assert.equal(counter, 0);
      const value = await asyncio.sleep(0, 10);
      assert.equal(counter, 1);
      assert.equal(value, 10);
    });
  });

  void test("sleep(delay, result) resolves with result after at least delay seconds of loop time", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const start = loop.time();
      const value = await asyncio.sleep(0.03, "yeah");
      assert.equal(value, "yeah");
      assert.ok(loop.time() - start >= 0.03 - 1e-6);
    });
  });

  void test("sleep without a result resolves with undefined", async () => {
    const value = await asyncio.run(async () => await asyncio.sleep(0.001));
    assert.equal(value, undefined);
  });

  void test("sleep(NaN) throws RangeError", async () => {
    await asyncio.run(async () => {
      assert.throws(() => asyncio.sleep(NaN), RangeError);
    });
  });

  void test("sleep with something other than a number throws TypeError", async () => {
    await asyncio.run(async () => {
      assert.throws(() => asyncio.sleep("1" as any), TypeError);
    });
  });

  void test("a negative delay sleeps like 0: one yield, then the result", async () => {
    await asyncio.run(async () => {
      const order: string[] = [];
      asyncio.getRunningLoop().callSoon(() => order.push("callback"));
      const value = await asyncio.sleep(-1, "neg");
      order.push("after sleep");
      assert.equal(value, "neg");
      assert.deepEqual(order, ["callback", "after sleep"]);
    });
  });

  void test("sleep in a task returns a native promise, and a Future of the running loop in a callback", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      for (const delay of [0, 0.001]) {
        const inTask = asyncio.sleep(delay, "task");
        assert.ok(inTask instanceof Promise);
        assert.equal(asyncio.isFuture(inTask), false);
        assert.equal(await inTask, "task");
        let slept: Promise<string> | null = null;
        loop.callSoon(() => (slept = asyncio.sleep(delay, "callback")));
        await asyncio.sleep(0);
        assert.ok(asyncio.isFuture(slept));
        assert.equal((slept as asyncio.Future<string>).getLoop(), loop);
        assert.equal(await slept, "callback");
      }
    });
  });

  void test("sleep outside a running loop throws RuntimeError", () => {
    assert.throws(() => asyncio.sleep(0), asyncio.RuntimeError);
  });

  void test("sleeps with shorter delays finish first", async () => {
    await asyncio.run(async () => {
      const order: string[] = [];
      const sleeper = (name: string, d: number) => async () => {
        await asyncio.sleep(d);
        order.push(name);
      };
      await asyncio.gather(sleeper("slow", 0.04), sleeper("fast", 0.01), sleeper("mid", 0.02));
      assert.deepEqual(order, ["fast", "mid", "slow"]);
    });
  });

  void test("sleepers due at the same time resume in the order they slept, one step each", async () => {
    await asyncio.testing.run(async () => {
      const order: string[] = [];
      const sleeper = (name: string) => async () => {
        await asyncio.sleep(1);
        order.push(`${name} woke`);
        await asyncio.sleep(0);
        order.push(`${name} again`);
      };
      await asyncio.gather(sleeper("a"), sleeper("b"), sleeper("c"));
      assert.deepEqual(order, ["a woke", "b woke", "c woke", "a again", "b again", "c again"]);
    });
  });

  /**
   * Runs a task that sleeps `delay` seconds with the result "woke", calling `around` with it first; returns what
   * happened, in order, with what `around`'s callbacks noted in `order`.
   */
  async function sleepingTask(delay: number, around: (task: asyncio.Task<unknown>, order: string[]) => void, order: string[] = []): Promise<string[]> {
    const task = asyncio.createTask(async () => {
      try {
        order.push(`slept: ${await asyncio.sleep(delay, "woke")}`);
      } catch (error) {
        order.push(`sleep threw ${(error as Error).name}(${(error as Error).message})`);
        throw error;
      }
    });
    around(task, order);
    try {
      await task;
      order.push("task done");
    } catch (error) {
      order.push(`task ${(error as Error).name}`);
    }
    return order;
  }

  void test("a task cancelled while it sleeps gets CancelledError(msg) next iteration, before what was scheduled after the cancel", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const order = await sleepingTask(10, (task, order) => {
        loop.callLater(0.01, () => {
          order.push(`cancel: ${task.cancel("stop")}`);
          loop.callSoon(() => order.push("callback after the cancel"));
        });
      });
      assert.deepEqual(order, ["cancel: true", "sleep threw CancelledError(stop)", "callback after the cancel", "task CancelledError"]);
    });
  });

  void test("a cancel that runs when the sleep is due but before its timer fired wins over the sleep's result", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const order: string[] = [];
      let task: asyncio.Task<unknown> | null = null;
      // Scheduled before the sleep, for the same virtual time: this timer runs first in the iteration both are due.
      loop.callLater(1, () => {
        order.push(`cancel: ${task!.cancel("stop")}`);
        loop.callSoon(() => order.push("callback after the cancel"));
      });
      await sleepingTask(1, (t) => (task = t), order);
      assert.deepEqual(order, ["cancel: true", "sleep threw CancelledError(stop)", "callback after the cancel", "task CancelledError"]);
    });
  });

  void test("a cancel right after the sleep's timer fired is delivered when the task resumes, instead of the result", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const order = await sleepingTask(1, (task, order) => {
        // The task sleeps first (its first step runs before this timer is scheduled, so its timer comes first).
        loop.callSoon(() =>
          loop.callLater(1, () => {
            order.push(`cancel: ${task.cancel("late")}`);
            loop.callSoon(() => order.push("callback after the cancel"));
          }),
        );
      });
      assert.deepEqual(order, ["cancel: true", "sleep threw CancelledError(late)", "callback after the cancel", "task CancelledError"]);
    });
  });

  void test("a cancel requested before a task sleeps cancels the sleep at once, with its message", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const order: string[] = [];
      const task = asyncio.createTask(async () => {
        asyncio.currentTask()!.cancel("early");
        try {
          await asyncio.sleep(3600);
        } catch (error) {
          order.push(`sleep threw ${(error as Error).name}(${(error as Error).message})`);
          throw error;
        }
      });
      await assert.rejects(task, asyncio.CancelledError);
      assert.deepEqual(order, ["sleep threw CancelledError(early)"]);
      assert.equal(loop.time(), 0);
    });
  });

  void test("a sleep begun before a timeout is entered and awaited inside it is cancelled by the timeout, its timer dropped", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const slept = asyncio.sleep(10, "woke");
      await assert.rejects(asyncio.timeout(1).with(async () => await slept), asyncio.TimeoutError);
      assert.equal(loop.time(), 1);
      assert.deepEqual(
        loop._timers.items.filter((timer) => !timer.cancelled()),
        [],
      );
    });
  });

  void test("a sleep cancelled by waitFor leaves no live timer behind, and a sleeping task's repr names what it waits on", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      await assert.rejects(asyncio.waitFor(asyncio.sleep(5), 0.01), asyncio.TimeoutError);
      assert.deepEqual(
        loop._timers.items.filter((timer) => !timer.cancelled()),
        [],
      );
      const sleeper = asyncio.createTask(() => asyncio.sleep(5), { name: "sleeper" });
      await asyncio.sleep(0);
      assert.match(String(sleeper), /^<Task pending name='sleeper' coro=<.*> wait_for=<Future pending>>$/);
      sleeper.cancel();
      await assert.rejects(sleeper, asyncio.CancelledError);
    });
  });
});

describe("gather arguments", () => {
  void test("gather given an array says to spread it, and starts none of the other awaitables", async () => {
    await asyncio.run(async () => {
      let started = false;
      const tasks = [asyncio.sleep(0)];
      assert.throws(
        () =>
          asyncio.gather(
            async () => {
              started = true;
            },
            tasks as unknown as asyncio.Future<void>,
          ),
        (e: unknown) => e instanceof TypeError && e.message.includes("spread the array: `gather(...tasks)`") && e.message.includes("argument 1"),
      );
      await asyncio.gather(...tasks);
      await asyncio.sleep(0);
      assert.equal(started, false);
      assert.equal(asyncio.allTasks().size, 1);
    });
  });

  void test("a pending Future, a done Future and a promise each given twice are awaited once, their results repeated", async () => {
    await asyncio.run(async () => {
      const pending = newFuture<string>();
      const done = newFuture<string>();
      done.setResult("done");
      const promise = Promise.resolve("promise");
      const task = asyncio.createTask(async () => "task");
      const gathered = asyncio.gather(pending, done, promise, task, pending, task, promise, done);
      assert.equal(gathered._children.length, 4);
      pending.setResult("pending");
      assert.deepEqual(await gathered, ["pending", "done", "promise", "task", "pending", "task", "promise", "done"]);
    });
  });

  void test("a Future that already has other done callbacks is still recognised when given again", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      const seen: number[] = [];
      fut.addDoneCallback((f) => seen.push(f.result()));
      const gathered = asyncio.gather(fut, fut, fut);
      fut.addDoneCallback((f) => seen.push(f.result() * 10));
      const again = asyncio.gather(fut, fut);
      assert.equal(gathered._children.length, 1);
      assert.equal(again._children.length, 1);
      fut.setResult(2);
      assert.deepEqual(await gathered, [2, 2, 2]);
      assert.deepEqual(await again, [2, 2]);
      assert.deepEqual(seen, [2, 20]);
    });
  });

  void test("a gather that fails on a bad awaitable leaves no callback on the children before it", async () => {
    const reports: unknown[] = [];
    await asyncio.run(async () => {
      asyncio.getRunningLoop().setExceptionHandler((_loop, context) => reports.push(context.message));
      const fut = newFuture<number>();
      const bad = 42 as unknown as asyncio.Future<number>;
      assert.throws(() => asyncio.gather(fut, bad), TypeError);
      const seen: string[] = [];
      fut.addDoneCallback(() => seen.push("own"));
      fut.setException(new Error("x"));
      await asyncio.sleep(0);
      assert.deepEqual(seen, ["own"]);
      assert.equal((fut.exception() as Error).message, "x");
    });
    // A callback left behind would have handed the error to the abandoned gather, reported as never retrieved.
    assert.deepEqual(reports, []);
  });
});
