import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncLocalStorage, createHook } from "node:async_hooks";
import * as asyncio from "../src/index.js";
import { captureHandler, runOnce, withLoop } from "./helpers/loop.js";

function invalidState(e: unknown): boolean {
  assert.ok(e instanceof asyncio.InvalidStateError, `expected InvalidStateError, got ${String(e)}`);
  assert.equal(e.name, "InvalidStateError");
  return true;
}

function cancelled(message: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof asyncio.CancelledError, `expected CancelledError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  };
}

// ------------------------------------------------------------------ states

describe("Future states", () => {
  test("a new Future is pending: not done, not cancelled", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture();
      assert.equal(fut.done(), false);
      assert.equal(fut.cancelled(), false);
      assert.equal(fut.getLoop(), loop);
    });
  });

  test("result() of a pending Future throws InvalidStateError", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture();
      assert.throws(() => fut.result(), invalidState);
    });
  });

  test("exception() of a pending Future throws InvalidStateError", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture();
      assert.throws(() => fut.exception(), invalidState);
    });
  });

  test("after setResult the Future is done, result() returns the value and exception() null", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture<number[]>();
      const value = [1, 2];
      fut.setResult(value);
      assert.equal(fut.done(), true);
      assert.equal(fut.cancelled(), false);
      assert.equal(fut.result(), value);
      assert.equal(fut.exception(), null);
    });
  });

  test("after setException result() throws that exception and exception() returns it", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture<number>();
      const err = new RangeError("bad value");
      fut.setException(err);
      assert.equal(fut.done(), true);
      assert.equal(fut.cancelled(), false);
      assert.throws(() => fut.result(), (e) => e === err);
      assert.equal(fut.exception(), err);
    });
  });

  test("cancel() makes the Future done and cancelled, and returns true", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture();
      assert.equal(fut.cancel(), true);
      assert.equal(fut.done(), true);
      assert.equal(fut.cancelled(), true);
    });
  });

  test("result() and exception() of a cancelled Future throw CancelledError", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture();
      fut.cancel();
      assert.throws(() => fut.result(), asyncio.CancelledError);
      assert.throws(() => fut.exception(), asyncio.CancelledError);
    });
  });

  test("the message given to cancel() is carried by the CancelledError", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture();
      fut.cancel("no longer needed");
      assert.throws(() => fut.result(), cancelled("no longer needed"));
      assert.throws(() => fut.exception(), cancelled("no longer needed"));
    });
  });

  test("cancel() returns false once the Future is done", async () => {
    await withLoop((loop) => {
      const a = loop.createFuture<number>();
      a.setResult(1);
      assert.equal(a.cancel(), false);
      assert.equal(a.cancelled(), false);
      assert.equal(a.result(), 1);

      const b = loop.createFuture<number>();
      b.setException(new Error("x"));
      assert.equal(b.cancel(), false);
      assert.equal(b.cancelled(), false);
      b.exception();

      const c = loop.createFuture<number>();
      assert.equal(c.cancel("first"), true);
      assert.equal(c.cancel("second"), false);
      assert.throws(() => c.result(), cancelled("first"));
    });
  });

  test("setResult or setException on a done Future throws InvalidStateError", async () => {
    await withLoop((loop) => {
      const a = loop.createFuture<number>();
      a.setResult(1);
      assert.throws(() => a.setResult(2), invalidState);
      assert.throws(() => a.setException(new Error("late")), invalidState);
      assert.equal(a.result(), 1);

      const b = loop.createFuture<number>();
      const err = new Error("first");
      b.setException(err);
      assert.throws(() => b.setResult(2), invalidState);
      assert.throws(() => b.setException(new Error("second")), invalidState);
      assert.equal(b.exception(), err);

      const c = loop.createFuture<number>();
      c.cancel();
      assert.throws(() => c.setResult(2), invalidState);
      assert.throws(() => c.setException(new Error("late")), invalidState);
      assert.equal(c.cancelled(), true);
    });
  });

  test("new Future() inside a running loop belongs to that loop", async () => {
    await withLoop(async (loop) => {
      const fut = await loop.runUntilComplete(async () => ({ fut: new asyncio.Future<number>() }));
      assert.equal(fut.fut.getLoop(), loop);
    });
  });

  test("new Future({ loop }) belongs to the given loop", async () => {
    await withLoop((loop) => {
      const fut = new asyncio.Future({ loop });
      assert.equal(fut.getLoop(), loop);
    });
  });

  test("a Future's string form shows its state and result", async () => {
    await withLoop((loop) => {
      const a = loop.createFuture<number>();
      assert.match(String(a), /^<Future pending( created at .*)?>$/);
      a.setResult(1);
      assert.match(String(a), /^<Future finished result=1( created at .*)?>$/);
      const b = loop.createFuture();
      b.cancel();
      assert.match(String(b), /^<Future cancelled( created at .*)?>$/);
      const c = loop.createFuture();
      c.setException(new Error("x"));
      assert.match(String(c), /^<Future finished exception=/);
      c.exception();
    });
  });
});

// ------------------------------------------------------------------ done callbacks

describe("done callbacks", () => {
  test("done callbacks are not called inline by setResult but on the next iteration", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const calls: unknown[] = [];
      fut.addDoneCallback((f) => calls.push(f.result()));
      fut.setResult(10);
      assert.deepEqual(calls, []);
      await runOnce(loop);
      assert.deepEqual(calls, [10]);
    });
  });

  test("done callbacks run in registration order and receive the Future", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      const calls: string[] = [];
      for (const name of ["a", "b", "c", "d"]) {
        fut.addDoneCallback((f) => {
          assert.equal(f, fut);
          calls.push(name);
        });
      }
      fut.setResult("x");
      await runOnce(loop);
      assert.deepEqual(calls, ["a", "b", "c", "d"]);
    });
  });

  test("done callbacks run when the Future fails or is cancelled", async () => {
    await withLoop(async (loop) => {
      const failed = loop.createFuture();
      const cancelledFut = loop.createFuture();
      const calls: string[] = [];
      failed.addDoneCallback(() => calls.push("failed"));
      cancelledFut.addDoneCallback((f) => calls.push(f.cancelled() ? "cancelled" : "?"));
      failed.setException(new Error("e"));
      cancelledFut.cancel();
      assert.deepEqual(calls, []);
      await runOnce(loop);
      assert.deepEqual(calls, ["failed", "cancelled"]);
      failed.exception();
    });
  });

  test("done callbacks run after the callbacks scheduled before the Future completed", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      const fut = loop.createFuture<void>();
      fut.addDoneCallback(() => order.push("done callback"));
      loop.callSoon(() => order.push("callSoon before"));
      fut.setResult();
      loop.callSoon(() => order.push("callSoon after"));
      await runOnce(loop);
      assert.deepEqual(order, ["callSoon before", "done callback", "callSoon after"]);
    });
  });

  test("the callbacks of several Futures run in the order the Futures completed", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      const a = loop.createFuture<void>();
      const b = loop.createFuture<void>();
      a.addDoneCallback(() => order.push("a"));
      b.addDoneCallback(() => order.push("b"));
      b.setResult();
      a.setResult();
      await runOnce(loop);
      assert.deepEqual(order, ["b", "a"]);
    });
  });

  test("addDoneCallback on a done Future runs the callback on a later iteration, not inline", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      fut.setResult(1);
      const calls: number[] = [];
      fut.addDoneCallback((f) => calls.push(f.result()));
      assert.deepEqual(calls, []);
      await runOnce(loop);
      assert.deepEqual(calls, [1]);
    });
  });

  test("a callback added to a done Future runs after callbacks scheduled before it was added", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      const fut = loop.createFuture<void>();
      fut.addDoneCallback(() => order.push("first"));
      fut.setResult();
      loop.callSoon(() => order.push("callSoon"));
      fut.addDoneCallback(() => order.push("added after done"));
      await runOnce(loop);
      assert.deepEqual(order, ["first", "callSoon", "added after done"]);
    });
  });

  test("removeDoneCallback removes every registration of the callback and returns the count", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<void>();
      const calls: string[] = [];
      const removed = (): void => {
        calls.push("removed");
      };
      const kept = (): void => {
        calls.push("kept");
      };
      fut.addDoneCallback(removed);
      fut.addDoneCallback(kept);
      fut.addDoneCallback(removed);
      assert.equal(fut.removeDoneCallback(removed), 2);
      assert.equal(fut.removeDoneCallback(removed), 0);
      assert.equal(
        fut.removeDoneCallback(() => {}),
        0,
      );
      fut.setResult();
      await runOnce(loop);
      assert.deepEqual(calls, ["kept"]);
    });
  });

  test("removeDoneCallback after completion does not unschedule callbacks already scheduled", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<void>();
      const calls: string[] = [];
      const cb = (): void => {
        calls.push("cb");
      };
      fut.addDoneCallback(cb);
      fut.setResult();
      assert.equal(fut.removeDoneCallback(cb), 0);
      await runOnce(loop);
      assert.deepEqual(calls, ["cb"]);
    });
  });

  test("an exception in a done callback goes to the exception handler and the other callbacks still run", async () => {
    await withLoop(async (loop) => {
      const seen = captureHandler(loop);
      const fut = loop.createFuture<void>();
      const calls: string[] = [];
      const err = new Error("callback failed");
      fut.addDoneCallback(function failing() {
        throw err;
      });
      fut.addDoneCallback(() => calls.push("second"));
      fut.setResult();
      await runOnce(loop);
      assert.deepEqual(calls, ["second"]);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.exception, err);
      assert.match(seen[0]!.message!, /^Exception in callback .*failing/);
    });
  });

  test("addDoneCallback with something that is not a function throws TypeError", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture();
      for (const bad of [1, null, "cb", {}]) {
        assert.throws(() => fut.addDoneCallback(bad as any), TypeError);
      }
    });
  });

  test("a done callback given a context runs inside that context", async () => {
    await withLoop(async (loop) => {
      const storage = new AsyncLocalStorage<string>();
      const context = storage.run("captured", () => AsyncLocalStorage.snapshot());
      const fut = loop.createFuture<void>();
      const seen: (string | undefined)[] = [];
      fut.addDoneCallback(() => seen.push(storage.getStore()), { context });
      fut.setResult();
      await storage.run("elsewhere", () => runOnce(loop));
      assert.deepEqual(seen, ["captured"]);
    });
  });

  test("the Future is done when its callbacks run", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      let state: [boolean, number] | null = null;
      fut.addDoneCallback((f) => {
        state = [f.done(), f.result()];
      });
      loop.callSoon(() => fut.setResult(4));
      await runOnce(loop);
      await runOnce(loop);
      assert.deepEqual(state, [true, 4]);
    });
  });
});

// ------------------------------------------------------------------ awaiting

describe("awaiting a Future", () => {
  test("a task awaiting a Future gets the result set later", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      loop.callLater(0.002, () => fut.setResult("value"));
      const got = await loop.runUntilComplete(async () => {
        const v = await fut;
        return `got ${v}`;
      });
      assert.equal(got, "got value");
    });
  });

  test("a task awaiting a failed Future gets the same exception object", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      const err = new SyntaxError("broken");
      loop.callSoon(() => fut.setException(err));
      const caught = await loop.runUntilComplete(async () => {
        try {
          await fut;
          return null;
        } catch (e) {
          return e;
        }
      });
      assert.equal(caught, err);
    });
  });

  test("awaiting a cancelled Future throws CancelledError with the cancel message", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      loop.callSoon(() => fut.cancel("gone"));
      const caught = await loop.runUntilComplete(async () => {
        try {
          await fut;
          return null;
        } catch (e) {
          return e;
        }
      });
      assert.ok(caught instanceof asyncio.CancelledError, "expected: caught instanceof asyncio.CancelledError");
      assert.equal(caught.message, "gone");
    });
  });

  test("awaiting a done Future does not need a loop iteration", async () => {
    await withLoop(async (loop) => {
      const result = await loop.runUntilComplete(async () => {
        const fut = loop.createFuture<number>();
        fut.setResult(9);
        let iterated = false;
        loop.callSoon(() => {
          iterated = true;
        });
        const v = await fut;
        return { v, iterated };
      });
      assert.deepEqual(result, { v: 9, iterated: false });
    });
  });

  test("awaiting a pending Future resumes only after the loop delivered its completion", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      await loop.runUntilComplete(async () => {
        const fut = loop.createFuture<void>();
        loop.callSoon(() => {
          order.push("callback");
          fut.setResult();
        });
        await fut;
        order.push("resumed");
      });
      assert.deepEqual(order, ["callback", "resumed"]);
    });
  });

  test("several tasks awaiting the same Future all get its result", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const results = await loop.runUntilComplete(async () => {
        const waiters = [1, 2, 3].map((k) => asyncio.createTask(async () => (await fut) * k));
        await asyncio.sleep(0);
        fut.setResult(10);
        return asyncio.gather(...waiters);
      });
      assert.deepEqual(results, [10, 20, 30]);
    });
  });

  test("then() returns a promise that resolves with the mapped result", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const p = fut.then((v) => v * 2);
      assert.equal(typeof p.then, "function");
      loop.callSoon(() => fut.setResult(21));
      await loop.runUntilComplete(fut);
      assert.equal(await p, 42);
    });
  });

  test("then() with an onRejected handler receives the Future's exception", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const err = new Error("no");
      const p = fut.then(
        () => "fulfilled",
        (e: unknown) => (e === err ? "rejected with err" : "other"),
      );
      fut.setException(err);
      await runOnce(loop);
      assert.equal(await p, "rejected with err");
    });
  });

  test("catch() handles a failed Future and finally() runs and passes the result through", async () => {
    await withLoop(async (loop) => {
      const failed = loop.createFuture<number>();
      const ok = loop.createFuture<number>();
      const err = new Error("caught");
      const caught = failed.catch((e: unknown) => e);
      let finallyRan = false;
      const passed = ok.finally(() => {
        finallyRan = true;
      });
      failed.setException(err);
      ok.setResult(5);
      await runOnce(loop);
      assert.equal(await caught, err);
      assert.equal(await passed, 5);
      assert.equal(finallyRan, true);
    });
  });

  test("finally() on a failed Future passes the rejection through", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<number>();
      const err = new Error("still failed");
      let finallyRan = false;
      const p = fut.finally(() => {
        finallyRan = true;
      });
      const rejected = assert.rejects(p, (e) => e === err);
      fut.setException(err);
      await runOnce(loop);
      await rejected;
      assert.equal(finallyRan, true);
    });
  });

  test("a Future works with Promise.all and Promise.race", async () => {
    await withLoop(async (loop) => {
      const a = loop.createFuture<number>();
      const b = loop.createFuture<number>();
      const all = Promise.all([a, b]);
      const race = Promise.race([a, b]);
      loop.callSoon(() => b.setResult(2));
      loop.callLater(0.002, () => a.setResult(1));
      await loop.runUntilComplete(a);
      await runOnce(loop);
      assert.deepEqual(await all, [1, 2]);
      assert.equal(await race, 2);
    });
  });
});

describe("awaiting a Future of another loop", () => {
  // CPython 3.13: a task doing `await other.create_future()` gets RuntimeError("Task <...> got Future <Future pending>
  // attached to a different loop") thrown in at that await, which its body can catch; awaiting the task rethrows it.
  test("a task that awaits a Future of another loop gets RuntimeError at that await", async () => {
    const other = asyncio.newEventLoop();
    try {
      await asyncio.run(async () => {
        const foreign = other.createFuture<number>();
        const seen: string[] = [];
        const t = asyncio.createTask(async () => {
          try {
            await foreign;
            seen.push("resumed");
          } catch (e) {
            seen.push(`caught ${(e as Error).name}`);
            throw e;
          }
        });
        await assert.rejects(
          async () => {
            await t;
          },
          (e: unknown) => e instanceof asyncio.RuntimeError && /attached to a different loop/.test(e.message),
        );
        assert.deepEqual(seen, ["caught RuntimeError"]);
        assert.equal(foreign.done(), false);
      });
    } finally {
      other.close();
    }
  });
});

// ------------------------------------------------------------------ isFuture, ensureFuture

describe("isFuture and ensureFuture", () => {
  test("isFuture is true for Futures and Tasks only", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture();
      const task = loop.createTask(async () => 1);
      assert.equal(asyncio.isFuture(fut), true);
      assert.equal(asyncio.isFuture(task), true);
      assert.equal(asyncio.isFuture(Promise.resolve(1)), false);
      assert.equal(asyncio.isFuture({ then() {} }), false);
      assert.equal(asyncio.isFuture(() => fut), false);
      assert.equal(asyncio.isFuture(null), false);
      assert.equal(asyncio.isFuture(undefined), false);
      assert.equal(await loop.runUntilComplete(task), 1);
    });
  });

  test("ensureFuture returns a Future or Task as it is", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture();
      assert.equal(asyncio.ensureFuture(fut), fut);
      assert.equal(asyncio.ensureFuture(fut, { loop }), fut);
      const task = loop.createTask(async () => "t");
      assert.equal(asyncio.ensureFuture(task), task);
      assert.equal(await loop.runUntilComplete(task), "t");
    });
  });

  test("ensureFuture wraps a coroutine function in a Task", async () => {
    await withLoop(async (loop) => {
      const result = await loop.runUntilComplete(async () => {
        const t = asyncio.ensureFuture(async () => {
          await asyncio.sleep(0);
          return "from task";
        });
        assert.ok(t instanceof asyncio.Task, "expected: t instanceof asyncio.Task");
        assert.equal(t.getLoop(), loop);
        return { value: await t };
      });
      assert.equal(result.value, "from task");
    });
  });

  test("ensureFuture of a promise returns a Future that follows it", async () => {
    await withLoop(async (loop) => {
      const { fut, value } = await loop.runUntilComplete(async () => {
        const f = asyncio.ensureFuture(new Promise<string>((r) => setTimeout(() => r("resolved"), 2)));
        assert.ok(asyncio.isFuture(f), "expected: asyncio.isFuture(f)");
        assert.equal(f.done(), false);
        return { fut: f, value: await f };
      });
      assert.equal(value, "resolved");
      assert.equal(fut.result(), "resolved");
    });
  });

  test("ensureFuture of a rejected promise returns a Future that fails with the same reason", async () => {
    await withLoop(async (loop) => {
      const err = new Error("rejected");
      const fut = asyncio.ensureFuture(Promise.reject(err), { loop });
      await assert.rejects(loop.runUntilComplete(fut), (e) => e === err);
      assert.equal(fut.exception(), err);
    });
  });

  test("ensureFuture of something not awaitable throws TypeError", async () => {
    await withLoop((loop) => {
      for (const bad of [42, "x", null, undefined, {}]) {
        assert.throws(() => asyncio.ensureFuture(bad as any, { loop }), TypeError);
      }
    });
  });

  test("ensureFuture of a Future with a different loop throws RangeError", async () => {
    await withLoop((loop) => {
      const other = asyncio.newEventLoop();
      try {
        const fut = other.createFuture();
        assert.throws(() => asyncio.ensureFuture(fut, { loop }), RangeError);
      } finally {
        other.close();
      }
    });
  });
});

// ------------------------------------------------------------------ never-retrieved exceptions

describe("never-retrieved exceptions", () => {
  test("a Future exception nobody retrieved is reported to the exception handler when the loop closes", async () => {
    const loop = asyncio.newEventLoop();
    const seen = captureHandler(loop);
    const err = new Error("forgotten");
    const fut = loop.createFuture<number>();
    try {
      fut.setException(err);
      await runOnce(loop);
      assert.equal(seen.length, 0);
    } finally {
      loop.close();
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.message, "Future exception was never retrieved");
    assert.equal(seen[0]!.exception, err);
    assert.equal(seen[0]!.future, fut);
  });

  test("a Future exception is not reported once exception() was called", async () => {
    const loop = asyncio.newEventLoop();
    const seen = captureHandler(loop);
    const fut = loop.createFuture<number>();
    fut.setException(new Error("seen"));
    fut.exception();
    loop.close();
    assert.deepEqual(seen, []);
  });

  test("a Future exception is not reported once result() threw it", async () => {
    const loop = asyncio.newEventLoop();
    const seen = captureHandler(loop);
    const fut = loop.createFuture<number>();
    fut.setException(new Error("seen"));
    assert.throws(() => fut.result());
    loop.close();
    assert.deepEqual(seen, []);
  });

  test("a Future exception is not reported once something awaited the Future", async () => {
    const loop = asyncio.newEventLoop();
    const seen = captureHandler(loop);
    try {
      const fut = loop.createFuture<number>();
      loop.callSoon(() => fut.setException(new Error("awaited")));
      await assert.rejects(loop.runUntilComplete(async () => await fut), /awaited/);
    } finally {
      loop.close();
    }
    assert.deepEqual(seen, []);
  });

  test("a Future that got a result or was cancelled is never reported", async () => {
    const loop = asyncio.newEventLoop();
    const seen = captureHandler(loop);
    const a = loop.createFuture<number>();
    a.setResult(1);
    const b = loop.createFuture<number>();
    b.cancel();
    loop.close();
    assert.deepEqual(seen, []);
  });

  test("a done callback reading the exception counts as retrieving it", async () => {
    const loop = asyncio.newEventLoop();
    const seen = captureHandler(loop);
    try {
      const fut = loop.createFuture<number>();
      fut.addDoneCallback((f) => {
        f.exception();
      });
      fut.setException(new Error("handled in callback"));
      await runOnce(loop);
    } finally {
      loop.close();
    }
    assert.deepEqual(seen, []);
  });

  test("without a custom handler, the never-retrieved exception is logged", async () => {
    const loop = asyncio.newEventLoop();
    const lines: string[] = [];
    loop._log = (text: string) => {
      lines.push(text);
    };
    const fut = loop.createFuture<number>();
    fut.setException(new Error("logged at close"));
    loop.close();
    const text = lines.join("\n");
    assert.match(text, /Future exception was never retrieved/);
    assert.match(text, /logged at close/);
  });
});

// ------------------------------------------------------------------ allocation

describe("allocation", () => {
  test("a Future allocates no native Promise until something awaits it", async () => {
    await withLoop(async (loop) => {
      let promises = 0;
      const hook = createHook({
        init(_id, type) {
          if (type === "PROMISE") promises++;
        },
      });
      const futures: asyncio.Future<number>[] = [];
      hook.enable();
      try {
        for (let i = 0; i < 100; i++) {
          const f = loop.createFuture<number>();
          f.addDoneCallback(() => {});
          f.setResult(i);
          futures.push(f);
        }
      } finally {
        hook.disable();
      }
      assert.equal(promises, 0);
      await runOnce(loop);
      assert.deepEqual(
        futures.map((f) => f.result()),
        Array.from({ length: 100 }, (_, i) => i),
      );
    });
  });
});
