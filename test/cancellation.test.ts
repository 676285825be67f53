// The cancellation rules of tasks: where the CancelledError lands, its message, cancelling()/uncancel(),
// cancellation before the first step, foreign promises and the task's signal, and how the body's ending decides
// the task's final state. Behaviours follow CPython 3.13's asyncio (Lib/test/test_asyncio/test_tasks.py).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import * as asyncio from "../src/index.js";
import { tick, newFuture } from "./helpers/loop.js";
import { rejection } from "./helpers/expect.js";

void describe("where the CancelledError is thrown", () => {
  void test("cancel() throws CancelledError at the await the task is suspended on, and the code after it does not run", async () => {
    await asyncio.run(async () => {
      const log: string[] = [];
      const t = asyncio.createTask(async () => {
        log.push("before");
        try {
          await asyncio.sleep(3600);
          log.push("after sleep");
        } catch (e) {
          log.push(e instanceof asyncio.CancelledError ? "caught CancelledError" : "caught other");
          throw e;
        }
      });
      await tick();
      assert.equal(t.cancel(), true);
      assert.equal(t.done(), false);
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.deepEqual(log, ["before", "caught CancelledError"]);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("the CancelledError reaches an await inside nested coroutines and unwinds through their callers", async () => {
    await asyncio.run(async () => {
      let proof = 0;
      const waiter = newFuture<void>();
      const inner = async (): Promise<void> => {
        try {
          await waiter;
        } catch (e) {
          proof += 1;
          throw e;
        }
        assert.fail("got past the await in inner()");
      };
      const outer = async (): Promise<void> => {
        try {
          await inner();
        } catch (e) {
          if (e instanceof asyncio.CancelledError) proof += 100;
        }
      };
      const t = asyncio.createTask(outer);
      await tick();
      t.cancel();
      await t;
      assert.equal(proof, 101);
      assert.equal(waiter.cancelled(), true);
      // outer() swallowed the CancelledError, so the task finished normally.
      assert.equal(t.cancelled(), false);
    });
  });

  void test("cancelling a task that awaits a Future cancels that Future", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      const t = asyncio.createTask(async () => await fut);
      await tick();
      t.cancel();
      assert.equal(fut.cancelled(), true);
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("cancelling a task that awaits another task cancels that task too", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<void>();
      const inner = asyncio.createTask(async () => {
        await fut;
      });
      const outer = asyncio.createTask(async () => {
        await inner;
      });
      await tick();
      outer.cancel();
      assert.ok((await rejection(outer)) instanceof asyncio.CancelledError);
      assert.equal(outer.cancelled(), true);
      assert.equal(inner.cancelled(), true);
      assert.equal(fut.cancelled(), true);
    });
  });

  void test("cancelling the outermost of a chain of tasks cancels every task of the chain", async () => {
    await asyncio.run(async () => {
      const leaf = asyncio.createTask(() => asyncio.sleep(3600));
      const middle = asyncio.createTask(async () => {
        await leaf;
      });
      const top = asyncio.createTask(async () => {
        await middle;
      });
      await tick(2);
      top.cancel("from the top");
      const err = await rejection(top);
      assert.ok(err instanceof asyncio.CancelledError);
      assert.equal((err as Error).message, "from the top");
      assert.deepEqual([top, middle, leaf].map((t) => t.cancelled()), [true, true, true]);
    });
  });

  void test("a task that cancels itself has the Future it awaits next cancelled at once", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const start = loop.time();
      let waited: asyncio.Future<void> | null = null;
      const t: asyncio.Task<number> = asyncio.createTask(async () => {
        t.cancel();
        waited = loop.createFuture<void>();
        await waited;
        return 12;
      });
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(t.cancelled(), true);
      assert.equal(waited!.cancelled(), true);
      assert.equal(t.cancel(), false);
      assert.ok(loop.time() - start < 5);
    });
  });

  void test("a task that cancels itself and then sleeps ends at once", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const start = loop.time();
      const t: asyncio.Task<number> = asyncio.createTask(async () => {
        t.cancel();
        await asyncio.sleep(100);
        return 12;
      });
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(t.cancelled(), true);
      assert.ok(loop.time() - start < 5);
    });
  });

  void test("a task that cancels itself and then awaits a task cancels that task", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<void>();
      let nested: asyncio.Task<void> | null = null;
      const t: asyncio.Task<void> = asyncio.createTask(async () => {
        nested = asyncio.createTask(async () => {
          await fut;
        });
        await asyncio.sleep(0);
        t.cancel();
        await nested;
      });
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(t.cancelled(), true);
      assert.equal(nested!.cancelled(), true);
      assert.equal(fut.cancelled(), true);
    });
  });

  void test("cancelling a sleeping task ends its sleep at once", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const start = loop.time();
      const sleeper = asyncio.createTask(() => asyncio.sleep(5000));
      loop.callLater(0.01, () => sleeper.cancel());
      let outcome = "slept in";
      try {
        await sleeper;
      } catch (e) {
        if (e instanceof asyncio.CancelledError) outcome = "cancelled";
      }
      assert.equal(outcome, "cancelled");
      assert.ok(loop.time() - start < 5);
    });
  });

  void test("a cancel that arrives after the awaited Future completed but before the task resumed wins over the result", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      let got: number | null = null;
      const t = asyncio.createTask(async () => {
        got = await fut;
      });
      await tick();
      fut.setResult(1);
      t.cancel("late");
      const err = await rejection(t);
      assert.ok(err instanceof asyncio.CancelledError);
      assert.equal((err as Error).message, "late");
      assert.equal(got, null);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("a task whose awaited Future is cancelled by someone else ends cancelled", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      const t = asyncio.createTask(async () => {
        await fut;
        return 12;
      });
      await tick();
      fut.cancel();
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(fut.cancelled(), true);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("cancelling both a task and the Future it awaits leaves both cancelled", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<number>();
      const t = asyncio.createTask(async () => {
        await fut;
        return 12;
      });
      await tick();
      fut.cancel();
      t.cancel();
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(t.done(), true);
      assert.equal(fut.cancelled(), true);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("a task awaiting a task that someone else cancelled gets CancelledError, with its own cancelling() at 0", async () => {
    await asyncio.run(async () => {
      const inner = asyncio.createTask(() => asyncio.sleep(3600));
      const outer = asyncio.createTask(async () => {
        try {
          await inner;
        } catch (e) {
          return { caught: e instanceof asyncio.CancelledError, cancelling: asyncio.currentTask()!.cancelling() };
        }
        return { caught: false, cancelling: -1 };
      });
      await tick();
      inner.cancel();
      assert.deepEqual(await outer, { caught: true, cancelling: 0 });
      assert.equal(outer.cancelled(), false);
    });
  });
});

void describe("the cancel message", () => {
  void test("cancel(msg) gives the CancelledError thrown in the body that message", async () => {
    await asyncio.run(async () => {
      let seen: unknown = null;
      const t = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(3600);
        } catch (e) {
          seen = e;
          throw e;
        }
      });
      await tick();
      t.cancel("my message");
      await rejection(t);
      assert.ok(seen instanceof asyncio.CancelledError);
      assert.equal((seen as Error).message, "my message");
      assert.equal((seen as Error).name, "CancelledError");
    });
  });

  void test("the first to read a cancelled task gets the CancelledError with the message, later readers an empty one", async () => {
    // CPython 3.13 hands the error the body ended with out once: result() -> CancelledError('stop it'), then
    // exception() and await -> CancelledError().
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(3600));
      await tick();
      t.cancel("stop it");
      await asyncio.wait([t]);
      assert.throws(() => t.result(), (e: unknown) => e instanceof asyncio.CancelledError && e.message === "stop it");
      assert.throws(() => t.exception(), (e: unknown) => e instanceof asyncio.CancelledError && e.message === "");
      const err = await rejection(t);
      assert.ok(err instanceof asyncio.CancelledError);
      assert.equal((err as Error).message, "");
    });
  });

  void test("whoever awaits the cancelled task first gets the message", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(3600));
      await tick();
      t.cancel("stop it");
      const err = await rejection(t);
      assert.ok(err instanceof asyncio.CancelledError);
      assert.equal((err as Error).message, "stop it");
    });
  });

  void test("cancel(msg) before the task started carries the message too", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(3600));
      t.cancel("before start");
      await asyncio.wait([t]);
      assert.throws(() => t.exception(), { name: "CancelledError", message: "before start" });
    });
  });

  void test("cancel() without a message gives a CancelledError with an empty message", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(3600));
      await tick();
      t.cancel();
      const err = await rejection(t);
      assert.ok(err instanceof asyncio.CancelledError);
      assert.equal((err as Error).message, "");
    });
  });
});

void describe("cancelling() and uncancel()", () => {
  void test("cancelling() counts the cancel requests, and cancel() keeps returning true while the task is pending", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(10));
      assert.equal(t.cancelling(), 0);
      assert.equal(t.cancel(), true);
      assert.equal(t.cancelling(), 1);
      assert.equal(t.cancel(), true);
      assert.equal(t.cancelling(), 2);
      await rejection(t);
      assert.equal(t.cancelled(), true);
      assert.equal(t.cancelling(), 2);
      assert.equal(t.cancel(), false);
      assert.equal(t.cancelling(), 2);
    });
  });

  void test("uncancel() decrements the count and returns it, never going below zero", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => 1);
      assert.equal(t.uncancel(), 0);
      t.cancel();
      t.cancel();
      assert.equal(t.uncancel(), 1);
      assert.equal(t.cancelling(), 1);
      assert.equal(t.uncancel(), 0);
      assert.equal(t.uncancel(), 0);
      assert.equal(await t, 1);
    });
  });

  void test("uncancel() down to zero drops a cancellation that was not delivered yet", async () => {
    await asyncio.run(async () => {
      const fut = newFuture<void>();
      const t = asyncio.createTask(async () => {
        await fut;
        return 42;
      });
      await tick();
      fut.setResult();
      t.cancel();
      assert.equal(t.cancelling(), 1);
      assert.equal(t.uncancel(), 0);
      assert.equal(await t, 42);
      assert.equal(t.cancelled(), false);
    });
  });

  void test("uncancel() right after a cancel before the first step lets the body run normally", async () => {
    await asyncio.run(async () => {
      let ran = false;
      const t = asyncio.createTask(async () => {
        ran = true;
        return 7;
      });
      t.cancel();
      assert.equal(t.uncancel(), 0);
      assert.equal(await t, 7);
      assert.equal(ran, true);
    });
  });

  void test("a task that catches the CancelledError and uncancels runs on, and a later cancel ends it", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(10);
        } catch {
          asyncio.currentTask()!.uncancel();
          await asyncio.sleep(10);
        }
      });
      await tick();
      assert.equal(t.cancel(), true);
      assert.equal(t.cancelling(), 1);
      assert.equal(t.cancelled(), false);
      await tick(2);
      assert.equal(t.cancelling(), 0);
      assert.equal(t.done(), false);
      assert.equal(t.cancel(), true);
      assert.equal(t.cancelling(), 1);
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(t.cancelled(), true);
      t.uncancel();
      assert.equal(t.cancelled(), true);
      assert.equal(t.done(), true);
    });
  });

  void test("each cancel() of a task suspended on a Future is delivered at its await, and cancelling() counts them all", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        let caught = 0;
        for (let i = 0; i < 2; i++) {
          try {
            await asyncio.sleep(10);
          } catch (e) {
            if (e instanceof asyncio.CancelledError) caught += 1;
          }
        }
        return [caught, asyncio.currentTask()!.cancelling()];
      });
      await tick();
      t.cancel();
      await tick();
      t.cancel();
      assert.deepEqual(await t, [2, 2]);
      assert.equal(t.cancelled(), false);
    });
  });

  void test("a block that cancels its task on a timer and uncancels on the way out lets the code after it run", async () => {
    await asyncio.run(async () => {
      const requestWithTimeout = async (sleepFor: number, timeoutAfter: number) => {
        const task = asyncio.currentTask()!;
        const loop = task.getLoop();
        let timedOut = false;
        let blockFinished = false;
        const handle = loop.callLater(timeoutAfter, () => {
          timedOut = true;
          task.cancel();
        });
        try {
          try {
            await asyncio.sleep(sleepFor);
            blockFinished = true;
          } catch (e) {
            if (timedOut && task.uncancel() === 0 && e instanceof asyncio.CancelledError) throw new asyncio.TimeoutError();
            throw e;
          } finally {
            handle.cancel();
          }
        } catch (e) {
          if (!(e instanceof asyncio.TimeoutError)) throw e;
          assert.equal(timedOut, true);
        }
        // Code outside the block is not affected by the timeout.
        await asyncio.sleep(0);
        return { timedOut, blockFinished, outerReached: true };
      };
      const t1 = asyncio.createTask(() => requestWithTimeout(10, 0.01));
      assert.deepEqual(await t1, { timedOut: true, blockFinished: false, outerReached: true });
      assert.equal(t1.cancelling(), 0);
      const t2 = asyncio.createTask(() => requestWithTimeout(0, 10));
      assert.deepEqual(await t2, { timedOut: false, blockFinished: true, outerReached: true });
      assert.equal(t2.cancelling(), 0);
    });
  });
});

void describe("cancel before the first step", () => {
  void test("a task cancelled before its first step never runs its body", async () => {
    await asyncio.run(async () => {
      let ran = false;
      const t = asyncio.createTask(async () => {
        ran = true;
      });
      assert.equal(t.cancel(), true);
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(ran, false);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("the repr of a task with a cancel requested before it started says cancelling", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(10));
      assert.doesNotMatch(String(t), / cancelling /);
      t.cancel();
      assert.match(String(t), /^<Task cancelling /);
      await rejection(t);
      assert.match(String(t), /^<Task cancelled /);
    });
  });

  void test("the repr of a suspended task says cancelling once a cancel is requested and until it ends", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(10);
        } catch {
          asyncio.currentTask()!.uncancel();
          await asyncio.sleep(10);
        }
      });
      await tick();
      t.cancel();
      assert.match(String(t), /^<Task cancelling /);
      await tick(2);
      // uncancel() brought the count back to 0.
      assert.match(String(t), /^<Task pending /);
      t.cancel();
      await rejection(t);
    });
  });
});

void describe("cancel on a done task", () => {
  void test("cancel() on a finished, failed or cancelled task returns false and changes nothing", async () => {
    await asyncio.run(async () => {
      const ok = asyncio.createTask(async () => 1);
      const failed = asyncio.createTask(async () => {
        throw new Error("failed");
      });
      const cancelled = asyncio.createTask(() => asyncio.sleep(10));
      cancelled.cancel();
      await asyncio.wait<unknown>([ok, failed, cancelled]);
      assert.equal(ok.cancel(), false);
      assert.equal(ok.cancelled(), false);
      assert.equal(ok.result(), 1);
      assert.equal(failed.cancel(), false);
      assert.equal((failed.exception() as Error).message, "failed");
      assert.equal(cancelled.cancel(), false);
      assert.equal(cancelled.cancelled(), true);
      assert.equal(ok.cancelling(), 0);
      assert.equal(failed.cancelling(), 0);
    });
  });

  void test("a cancelled task is done and cancelled, and result() and exception() throw CancelledError", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        await asyncio.sleep(0);
        await asyncio.sleep(0);
        return 12;
      });
      await tick();
      t.cancel();
      await asyncio.wait([t]);
      assert.equal(t.done(), true);
      assert.equal(t.cancelled(), true);
      assert.throws(() => t.result(), asyncio.CancelledError);
      assert.throws(() => t.exception(), asyncio.CancelledError);
    });
  });
});

void describe("foreign promises and the signal", () => {
  void test("a task stuck on a foreign promise gets the cancel at its next asyncio-ts await, and its signal aborts at once", async () => {
    await asyncio.run(async () => {
      const log: string[] = [];
      const t = asyncio.createTask(async () => {
        await new Promise<void>((resolve) => setTimeout(resolve, 20));
        log.push("foreign promise resolved");
        try {
          await asyncio.sleep(0);
          log.push("after sleep");
        } catch (e) {
          log.push(e instanceof asyncio.CancelledError ? `cancelled: ${e.message}` : "other error");
          throw e;
        }
      });
      await tick();
      const signal = t.signal;
      assert.equal(signal.aborted, false);
      t.cancel("stop");
      assert.equal(signal.aborted, true);
      assert.ok(signal.reason instanceof asyncio.CancelledError);
      assert.equal((signal.reason as Error).message, "stop");
      assert.equal(t.done(), false);
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.deepEqual(log, ["foreign promise resolved", "cancelled: stop"]);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("a task stuck on a foreign promise that then returns without another await ends cancelled", async () => {
    await asyncio.run(async () => {
      let returned = false;
      const t = asyncio.createTask(async () => {
        await new Promise<void>((resolve) => setTimeout(resolve, 20));
        returned = true;
        return "value";
      });
      await tick();
      t.cancel();
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(returned, true);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("a task that handed its signal to timers/promises setTimeout ends cancelled as soon as it is cancelled", async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const start = loop.time();
      const t = asyncio.createTask(async () => {
        await delay(60_000, undefined, { signal: asyncio.currentTask()!.signal });
        return "slept";
      });
      await tick();
      t.cancel("no more waiting");
      const err = await rejection(t);
      assert.ok(err instanceof asyncio.CancelledError);
      assert.equal((err as Error).message, "no more waiting");
      assert.equal(t.cancelled(), true);
      assert.ok(loop.time() - start < 5);
    });
  });

  void test("a foreign promise rejected with the signal's reason leaves the task cancelled", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        const signal = asyncio.currentTask()!.signal;
        await new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      });
      await tick();
      t.cancel();
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("awaiting a Future that is already done does not deliver a pending cancel; the next suspension does", async () => {
    await asyncio.run(async () => {
      const doneFut = newFuture<string>();
      doneFut.setResult("ready");
      const log: string[] = [];
      const t: asyncio.Task<void> = asyncio.createTask(async () => {
        t.cancel();
        log.push(await doneFut);
        try {
          await asyncio.sleep(0);
          log.push("not cancelled");
        } catch (e) {
          log.push(e instanceof asyncio.CancelledError ? "cancelled" : "other");
          throw e;
        }
      });
      await rejection(t);
      assert.deepEqual(log, ["ready", "cancelled"]);
      assert.equal(t.cancelled(), true);
    });
  });
});

void describe("how the body's ending decides the task's state", () => {
  void test("a body that throws a CancelledError of its own leaves the task cancelled with that message", async () => {
    await asyncio.run(async () => {
      const t = asyncio.createTask(async () => {
        await asyncio.sleep(0);
        throw new asyncio.CancelledError("self");
      });
      const err = await rejection(t);
      assert.ok(err instanceof asyncio.CancelledError);
      assert.equal((err as Error).message, "self");
      assert.equal(t.cancelled(), true);
      assert.equal(t.cancelling(), 0);
    });
  });

  void test("a body that catches the CancelledError and returns normally completes the task with its value", async () => {
    await asyncio.run(async () => {
      const fut1 = newFuture<void>();
      const fut2 = newFuture<void>();
      const t = asyncio.createTask(async () => {
        await fut1;
        try {
          await fut2;
        } catch (e) {
          if (e instanceof asyncio.CancelledError) return 42;
        }
        return 0;
      });
      await tick();
      fut1.setResult();
      await tick(2);
      t.cancel();
      assert.equal(fut2.cancelled(), true);
      assert.equal(await t, 42);
      assert.equal(t.cancelled(), false);
    });
  });

  void test("a body that ignores the cancel and awaits another Future gets that Future's result", async () => {
    await asyncio.run(async () => {
      const fut1 = newFuture<void>();
      const fut2 = newFuture<void>();
      const fut3 = newFuture<number>();
      const t = asyncio.createTask(async () => {
        await fut1;
        try {
          await fut2;
        } catch {
          // ignored on purpose
        }
        return await fut3;
      });
      await tick();
      fut1.setResult();
      await tick(2);
      t.cancel();
      assert.equal(fut2.cancelled(), true);
      await tick(2);
      fut3.setResult(42);
      assert.equal(await t, 42);
      assert.equal(fut3.cancelled(), false);
      assert.equal(t.cancelled(), false);
    });
  });

  void test("a cancel requested just before the body returns leaves the task cancelled", async () => {
    await asyncio.run(async () => {
      const t: asyncio.Task<number> = asyncio.createTask(async () => {
        t.cancel();
        return 12;
      });
      assert.equal(t.cancelled(), false);
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.equal(t.done(), true);
      assert.equal(t.cancelled(), true);
      assert.equal(t.cancel(), false);
    });
  });

  void test("a body that turns the CancelledError into another error fails the task with that error", async () => {
    await asyncio.run(async () => {
      const other = new Error("raised while cancelling");
      const t = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(10);
        } catch (e) {
          if (e instanceof asyncio.CancelledError) throw other;
        }
      });
      await tick();
      t.cancel();
      assert.equal(t.done(), false);
      assert.equal(await rejection(t), other);
      assert.equal(t.cancelled(), false);
      assert.equal(t.exception(), other);
    });
  });

  void test("cleanup in a finally block can still await after the cancel, and the task then ends cancelled", async () => {
    await asyncio.run(async () => {
      const log: string[] = [];
      const t = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(10);
        } finally {
          await asyncio.sleep(0.001);
          log.push("cleanup done");
        }
      });
      await tick();
      t.cancel();
      assert.ok((await rejection(t)) instanceof asyncio.CancelledError);
      assert.deepEqual(log, ["cleanup done"]);
      assert.equal(t.cancelled(), true);
    });
  });

  void test("run() rejects with CancelledError when the main task is cancelled", async () => {
    await assert.rejects(
      asyncio.run(async () => {
        asyncio.currentTask()!.cancel();
        await asyncio.sleep(10);
      }),
      asyncio.CancelledError,
    );
  });
});
