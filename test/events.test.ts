import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as asyncio from "../src/index.js";
import { captureHandler, runOnce, withLoop } from "./helpers/loop.js";

type Loop = asyncio.EventLoop;


/** Records everything the loop logs. */
function captureLog(loop: Loop): string[] {
  const lines: string[] = [];
  loop._log = (text: string) => {
    lines.push(text);
  };
  return lines;
}

function runtimeError(message: string | RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof asyncio.RuntimeError, `expected RuntimeError, got ${String(e)}`);
    assert.equal(e.name, "RuntimeError");
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  };
}

function busyWait(seconds: number): void {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    // spin
  }
}

// ------------------------------------------------------------------ callSoon

describe("callSoon", () => {
  test("callSoon callbacks run in FIFO order", async () => {
    await withLoop(async (loop) => {
      const order: number[] = [];
      for (let i = 0; i < 20; i++) loop.callSoon(() => order.push(i));
      await runOnce(loop);
      assert.deepEqual(
        order,
        Array.from({ length: 20 }, (_, i) => i),
      );
    });
  });

  test("callSoon passes its extra arguments to the callback", async () => {
    await withLoop(async (loop) => {
      const got: unknown[][] = [];
      loop.callSoon((a: string, b: number) => got.push([a, b]), "hello", 42);
      await runOnce(loop);
      assert.deepEqual(got, [["hello", 42]]);
    });
  });

  test("callSoon returns a Handle that is not cancelled and knows its loop", async () => {
    await withLoop((loop) => {
      const h = loop.callSoon(() => {});
      assert.ok(h instanceof asyncio.Handle, "expected: h instanceof asyncio.Handle");
      assert.equal(h instanceof asyncio.TimerHandle, false);
      assert.equal(h.cancelled(), false);
      assert.equal(h.getLoop(), loop);
    });
  });

  test("callbacks scheduled during an iteration wait for the next iteration", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      loop.callSoon(() => {
        order.push("a");
        loop.callSoon(() => order.push("c"));
      });
      loop.callSoon(() => order.push("b"));
      await runOnce(loop);
      assert.deepEqual(order, ["a", "b"]);
      await runOnce(loop);
      assert.deepEqual(order, ["a", "b", "c"]);
    });
  });

  test("a cancelled handle's callback never runs", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      loop.callSoon(() => order.push("a"));
      const h = loop.callSoon(() => order.push("b"));
      loop.callSoon(() => order.push("c"));
      h.cancel();
      assert.equal(h.cancelled(), true);
      await runOnce(loop);
      assert.deepEqual(order, ["a", "c"]);
    });
  });

  test("Handle.cancel can be called twice and after the callback ran", async () => {
    await withLoop(async (loop) => {
      let runs = 0;
      const h = loop.callSoon(() => runs++);
      await runOnce(loop);
      assert.equal(runs, 1);
      h.cancel();
      h.cancel();
      assert.equal(h.cancelled(), true);
      await runOnce(loop);
      assert.equal(runs, 1);
    });
  });

  test("a callback cancelled by an earlier callback of the same iteration does not run", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      let later: asyncio.Handle | null = null;
      loop.callSoon(() => {
        order.push("first");
        later!.cancel();
      });
      later = loop.callSoon(() => order.push("second"));
      await runOnce(loop);
      assert.deepEqual(order, ["first"]);
    });
  });

  test("a Handle's string form names its callback, or says it is cancelled", async () => {
    await withLoop((loop) => {
      function greet(_who: string): void {}
      const h = loop.callSoon(greet, "world");
      assert.match(String(h), /^<Handle greet\('world'\)/);
      h.cancel();
      assert.match(String(h), /cancelled/);
    });
  });

  test("callSoon with something that is not a function throws TypeError", async () => {
    await withLoop((loop) => {
      for (const bad of [1, "f", null, undefined, {}, Promise.resolve()]) {
        assert.throws(() => loop.callSoon(bad as any), TypeError);
        assert.throws(() => loop.callSoonThreadsafe(bad as any), TypeError);
      }
    });
  });

  test("callSoonThreadsafe from outside the loop's context wakes an idle loop", async () => {
    await withLoop(async (loop) => {
      let ran = false;
      const running = loop.runForever();
      setTimeout(() => {
        loop.callSoonThreadsafe(() => {
          ran = true;
          loop.stop();
        });
      }, 10);
      await running;
      assert.equal(ran, true);
    });
  });

  test("a callback that reschedules itself forever does not starve Node's timers", { timeout: 5000 }, async () => {
    await withLoop(async (loop) => {
      let nodeTimerFired = false;
      let spins = 0;
      const spin = (): void => {
        spins++;
        if (spins === 1) {
          setTimeout(() => {
            nodeTimerFired = true;
          }, 5);
        }
        if (nodeTimerFired) loop.stop();
        else loop.callSoon(spin);
      };
      loop.callSoon(spin);
      await loop.runForever();
      assert.equal(nodeTimerFired, true);
      assert.ok(spins >= 2, `only ${spins} iterations`);
    });
  });
});

// ------------------------------------------------------------------ timers

describe("callLater and callAt", () => {
  test("callLater returns a TimerHandle, which is a Handle", async () => {
    await withLoop((loop) => {
      const h = loop.callLater(10, () => {});
      assert.ok(h instanceof asyncio.TimerHandle, "expected: h instanceof asyncio.TimerHandle");
      assert.ok(h instanceof asyncio.Handle, "expected: h instanceof asyncio.Handle");
      assert.equal(h.cancelled(), false);
      h.cancel();
    });
  });

  test("callLater timers run in order of their deadlines, not of scheduling", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      const done = loop.createFuture<void>();
      loop.callLater(0.03, () => order.push("30ms"));
      loop.callLater(0.01, () => order.push("10ms"));
      loop.callLater(0.02, () => order.push("20ms"));
      loop.callLater(0.04, () => done.setResult());
      await loop.runUntilComplete(done);
      assert.deepEqual(order, ["10ms", "20ms", "30ms"]);
    });
  });

  test("timers with the same deadline run in the order they were scheduled", async () => {
    await withLoop(async (loop) => {
      const order: number[] = [];
      const when = loop.time() + 0.01;
      for (let i = 0; i < 10; i++) loop.callAt(when, () => order.push(i));
      const done = loop.createFuture<void>();
      loop.callAt(when, () => done.setResult());
      await loop.runUntilComplete(done);
      assert.deepEqual(
        order,
        Array.from({ length: 10 }, (_, i) => i),
      );
    });
  });

  test("callLater with negative delays runs on the next iteration, earliest deadline first", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      loop.callLater(-1, (x: string) => order.push(x), "a");
      loop.callLater(-2, (x: string) => order.push(x), "b");
      await runOnce(loop);
      assert.deepEqual(order, ["b", "a"]);
    });
  });

  test("callAt a time in the past runs on the next iteration", async () => {
    await withLoop(async (loop) => {
      let ran = false;
      loop.callAt(loop.time() - 100, () => {
        ran = true;
      });
      await runOnce(loop);
      assert.equal(ran, true);
    });
  });

  test("a due timer runs after the callbacks that were already ready", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      loop.callLater(0, () => order.push("later0"));
      loop.callSoon(() => order.push("soon"));
      await runOnce(loop);
      assert.deepEqual(order, ["soon", "later0"]);
    });
  });

  test("a timer never runs before its when() by loop.time()", async () => {
    await withLoop(async (loop) => {
      const early: string[] = [];
      let fired = 0;
      const done = loop.createFuture<void>();
      const count = 25;
      for (let i = 0; i < count; i++) {
        const delay = 0.001 + (i % 7) * 0.002;
        const h: asyncio.TimerHandle = loop.callLater(delay, () => {
          const now = loop.time();
          if (now < h.when()) early.push(`timer ${i}: ran at ${now}, due at ${h.when()}`);
          if (++fired === count) done.setResult();
        });
      }
      await loop.runUntilComplete(done);
      assert.deepEqual(early, []);
    });
  });

  test("a timer's callback receives its arguments and runs after at least its delay", async () => {
    await withLoop(async (loop) => {
      const t0 = loop.time();
      const fut = loop.createFuture<[string, number]>();
      loop.callLater(0.02, (a: string, b: number) => fut.setResult([a, b]), "x", 7);
      const got = await loop.runUntilComplete(fut);
      const elapsed = loop.time() - t0;
      assert.deepEqual(got, ["x", 7]);
      assert.ok(elapsed >= 0.02, `elapsed ${elapsed}`);
      assert.ok(elapsed < 2, `elapsed ${elapsed}`);
    });
  });

  test("TimerHandle.when() is exactly the time given to callAt", async () => {
    await withLoop((loop) => {
      const when = loop.time() + 12.5;
      const h = loop.callAt(when, () => {});
      assert.equal(h.when(), when);
      h.cancel();
    });
  });

  test("TimerHandle.when() of callLater is the loop time at the call plus the delay", async () => {
    await withLoop((loop) => {
      const before = loop.time();
      const h = loop.callLater(5, () => {});
      const after = loop.time();
      assert.ok(h.when() >= before + 5 && h.when() <= after + 5, "expected: h.when() >= before + 5 && h.when() <= after + 5");
      h.cancel();
    });
  });

  test("a cancelled timer never runs and the others still run in order", async () => {
    await withLoop(async (loop) => {
      const order: number[] = [];
      const handles: asyncio.TimerHandle[] = [];
      // One base time for all: with callLater, a slow loop here would give later timers later deadlines.
      const base = loop.time();
      for (let i = 0; i < 200; i++) handles.push(loop.callAt(base + 0.001 + (i % 10) * 0.001, () => order.push(i)));
      // Cancel most of them, enough for the loop to compact its timer queue.
      const kept: number[] = [];
      handles.forEach((h, i) => {
        if (i % 4 === 0) kept.push(i);
        else h.cancel();
      });
      const done = loop.createFuture<void>();
      loop.callLater(0.03, () => done.setResult());
      await loop.runUntilComplete(done);
      const expected = [...kept].sort((a, b) => (a % 10) - (b % 10) || a - b);
      assert.deepEqual(order, expected);
    });
  });

  test("a timer cancelled by an earlier callback of the same iteration does not run", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      const when = loop.time() - 1;
      let second: asyncio.TimerHandle | null = null;
      loop.callAt(when, () => {
        order.push("first");
        second!.cancel();
      });
      second = loop.callAt(when, () => order.push("second"));
      await runOnce(loop);
      assert.deepEqual(order, ["first"]);
    });
  });

  test("a TimerHandle's string form shows its deadline", async () => {
    await withLoop((loop) => {
      function tick(): void {}
      const h = loop.callAt(123, tick);
      assert.match(String(h), /when=123/);
      assert.match(String(h), /tick\(\)/);
      h.cancel();
      assert.match(String(h), /cancelled/);
    });
  });

  test("callLater(NaN) and callAt(NaN) throw RangeError", async () => {
    await withLoop((loop) => {
      assert.throws(() => loop.callLater(NaN, () => {}), RangeError);
      assert.throws(() => loop.callAt(NaN, () => {}), RangeError);
    });
  });

  test("callLater and callAt with a delay that is not a number throw TypeError", async () => {
    await withLoop((loop) => {
      for (const bad of [undefined, null, "1", {}]) {
        assert.throws(() => loop.callLater(bad as any, () => {}), TypeError);
        assert.throws(() => loop.callAt(bad as any, () => {}), TypeError);
      }
    });
  });

  test("callLater and callAt with something that is not a function throw TypeError", async () => {
    await withLoop((loop) => {
      for (const bad of [1, "f", null, undefined, {}]) {
        assert.throws(() => loop.callLater(0, bad as any), TypeError);
        assert.throws(() => loop.callAt(loop.time(), bad as any), TypeError);
      }
    });
  });

  test("loop.time() is monotonic and counts seconds", async () => {
    await withLoop(async (loop) => {
      const t0 = loop.time();
      const t1 = loop.time();
      assert.ok(t1 >= t0, "expected: t1 >= t0");
      await new Promise((r) => setTimeout(r, 20));
      const dt = loop.time() - t0;
      assert.ok(dt >= 0.01 && dt < 5, `dt ${dt}`);
    });
  });
});

// ------------------------------------------------------------------ closed loop

describe("closing the loop", () => {
  test("close marks the loop closed, and can be called again", async () => {
    const loop = asyncio.newEventLoop();
    assert.equal(loop.isClosed(), false);
    loop.close();
    assert.equal(loop.isClosed(), true);
    loop.close();
    loop.close();
    assert.equal(loop.isClosed(), true);
  });

  test("scheduling a callback on a closed loop throws RuntimeError('Event loop is closed')", async () => {
    const loop = asyncio.newEventLoop();
    loop.close();
    const cb = (): void => {};
    assert.throws(() => loop.callSoon(cb), runtimeError("Event loop is closed"));
    assert.throws(() => loop.callSoonThreadsafe(cb), runtimeError("Event loop is closed"));
    assert.throws(() => loop.callLater(1, cb), runtimeError("Event loop is closed"));
    assert.throws(() => loop.callAt(loop.time(), cb), runtimeError("Event loop is closed"));
  });

  test("creating a task on a closed loop throws RuntimeError('Event loop is closed')", async () => {
    const loop = asyncio.newEventLoop();
    loop.close();
    assert.throws(() => loop.createTask(async () => {}), runtimeError("Event loop is closed"));
  });

  test("running a closed loop rejects with RuntimeError('Event loop is closed')", async () => {
    const loop = asyncio.newEventLoop();
    const fut = loop.createFuture();
    loop.close();
    await assert.rejects(loop.runForever(), runtimeError("Event loop is closed"));
    await assert.rejects(loop.runUntilComplete(fut), runtimeError("Event loop is closed"));
    await assert.rejects(
      loop.runUntilComplete(async () => 1),
      runtimeError("Event loop is closed"),
    );
    assert.equal(loop.isRunning(), false);
  });

  test("closing a running loop throws RuntimeError and the loop keeps running", async () => {
    await withLoop(async (loop) => {
      let error: unknown = null;
      const result = await loop.runUntilComplete(async () => {
        try {
          loop.close();
        } catch (e) {
          error = e;
        }
        await asyncio.sleep(0);
        return "still running";
      });
      assert.equal(result, "still running");
      assert.ok(error instanceof asyncio.RuntimeError, "expected: error instanceof asyncio.RuntimeError");
      assert.equal(loop.isClosed(), false);
    });
  });

  test("a Future on a closed loop can still be completed when nothing waits for it", async () => {
    const loop = asyncio.newEventLoop();
    const fut = loop.createFuture<number>();
    loop.close();
    fut.setResult(3);
    assert.equal(fut.result(), 3);
  });
});

// ------------------------------------------------------------------ running

describe("runUntilComplete", () => {
  test("runUntilComplete runs a coroutine function as a task and returns its result", async () => {
    await withLoop(async (loop) => {
      let task: asyncio.Task | null = null;
      const result = await loop.runUntilComplete(async () => {
        task = asyncio.currentTask();
        await asyncio.sleep(0.001);
        return "done";
      });
      assert.equal(result, "done");
      assert.ok(task !== null && (task as unknown) instanceof asyncio.Task, "expected: task !== null && (task as unknown) instanceof asyncio.Task");
    });
  });

  test("runUntilComplete rejects with the coroutine's own error", async () => {
    await withLoop(async (loop) => {
      const boom = new Error("boom");
      await assert.rejects(
        loop.runUntilComplete(async () => {
          await asyncio.sleep(0);
          throw boom;
        }),
        (e) => e === boom,
      );
    });
  });

  test("runUntilComplete waits for a Future completed by a timer", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      loop.callLater(0.005, () => fut.setResult("ready"));
      assert.equal(await loop.runUntilComplete(fut), "ready");
      assert.equal(loop.isRunning(), false);
    });
  });

  test("runUntilComplete with a failed Future rejects with its exception", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      const err = new TypeError("bad");
      loop.callSoon(() => fut.setException(err));
      await assert.rejects(loop.runUntilComplete(fut), (e) => e === err);
    });
  });

  test("runUntilComplete with a cancelled Future rejects with CancelledError", async () => {
    await withLoop(async (loop) => {
      const fut = loop.createFuture<string>();
      loop.callSoon(() => fut.cancel("stop it"));
      await assert.rejects(
        loop.runUntilComplete(fut),
        (e) => e instanceof asyncio.CancelledError && e.message === "stop it",
      );
    });
  });

  test("runUntilComplete follows a native promise", async () => {
    await withLoop(async (loop) => {
      const p = new Promise<number>((resolve) => setTimeout(() => resolve(7), 5));
      assert.equal(await loop.runUntilComplete(p), 7);
    });
  });

  test("runUntilComplete with a rejected native promise rejects with the same reason", async () => {
    await withLoop(async (loop) => {
      const err = new Error("nope");
      const p = Promise.reject(err);
      await assert.rejects(loop.runUntilComplete(p), (e) => e === err);
    });
  });

  test("runUntilComplete with something that is not awaitable throws TypeError", async () => {
    await withLoop(async (loop) => {
      await assert.rejects(loop.runUntilComplete(42 as any), TypeError);
      assert.equal(loop.isRunning(), false);
    });
  });

  test("runUntilComplete with a Future of another loop throws RangeError", async () => {
    await withLoop(async (loop) => {
      const other = asyncio.newEventLoop();
      try {
        const fut = other.createFuture();
        await assert.rejects(loop.runUntilComplete(fut), RangeError);
      } finally {
        other.close();
      }
    });
  });

  test("runUntilComplete on a loop that is already running rejects with RuntimeError", async () => {
    await withLoop(async (loop) => {
      const error = await loop.runUntilComplete(async () => {
        assert.equal(loop.isRunning(), true);
        try {
          await loop.runUntilComplete(async () => {});
          return null;
        } catch (e) {
          return e;
        }
      });
      assert.ok(error instanceof asyncio.RuntimeError, "expected: error instanceof asyncio.RuntimeError");
      assert.match(error.message, /already running/);
    });
  });

  test("running a second loop inside a running loop rejects with RuntimeError", async () => {
    await withLoop(async (loop) => {
      const other = asyncio.newEventLoop();
      try {
        const error = await loop.runUntilComplete(async () => {
          try {
            await other.runUntilComplete(async () => {});
            return null;
          } catch (e) {
            return e;
          }
        });
        assert.ok(error instanceof asyncio.RuntimeError, "expected: error instanceof asyncio.RuntimeError");
        assert.equal(other.isRunning(), false);
      } finally {
        other.close();
      }
    });
  });

  test("runUntilComplete rejects with RuntimeError when the loop is stopped before the Future is done", async () => {
    await withLoop(async (loop) => {
      // The task is left pending; its report at close is not what this test is about.
      captureHandler(loop);
      await assert.rejects(
        loop.runUntilComplete(async () => {
          loop.stop();
          await asyncio.sleep(0.05);
        }),
        runtimeError("Event loop stopped before Future completed."),
      );
    });
  });

  test("a loop can run several times until it is closed", async () => {
    await withLoop(async (loop) => {
      assert.equal(await loop.runUntilComplete(async () => 1), 1);
      assert.equal(await loop.runUntilComplete(async () => 2), 2);
      const fut = loop.createFuture<number>();
      loop.callSoon(() => fut.setResult(3));
      assert.equal(await loop.runUntilComplete(fut), 3);
    });
  });

  test("isRunning is false before and after running, true inside", async () => {
    await withLoop(async (loop) => {
      assert.equal(loop.isRunning(), false);
      const inside = await loop.runUntilComplete(async () => loop.isRunning());
      assert.equal(inside, true);
      assert.equal(loop.isRunning(), false);
    });
  });
});

describe("runForever and stop", () => {
  test("runForever settles once stop() is called from a callback", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      loop.callLater(0.005, () => {
        order.push("stop");
        loop.stop();
      });
      await loop.runForever();
      assert.deepEqual(order, ["stop"]);
      assert.equal(loop.isRunning(), false);
    });
  });

  test("stop() lets the rest of the current iteration run", async () => {
    await withLoop(async (loop) => {
      const order: string[] = [];
      loop.callSoon(() => {
        order.push("a");
        loop.stop();
        loop.callSoon(() => order.push("next"));
      });
      loop.callSoon(() => order.push("b"));
      await loop.runForever();
      assert.deepEqual(order, ["a", "b"]);
      await runOnce(loop);
      assert.deepEqual(order, ["a", "b", "next"]);
    });
  });

  test("stop() before runForever makes it run exactly one iteration", async () => {
    await withLoop(async (loop) => {
      let runs = 0;
      const again = (): void => {
        runs++;
        loop.callSoon(again);
      };
      loop.callSoon(again);
      loop.stop();
      await loop.runForever();
      assert.equal(runs, 1);
      loop.stop();
      await loop.runForever();
      assert.equal(runs, 2);
    });
  });

  test("runForever on a running loop rejects with RuntimeError", async () => {
    await withLoop(async (loop) => {
      let error: unknown = null;
      loop.callSoon(() => {
        loop.runForever().then(
          () => {},
          (e: unknown) => {
            error = e;
          },
        );
        loop.stop();
      });
      await loop.runForever();
      await new Promise((r) => setImmediate(r));
      assert.ok(error instanceof asyncio.RuntimeError, "expected: error instanceof asyncio.RuntimeError");
      assert.match((error as Error).message, /already running/);
    });
  });

  test("an idle running loop waits for its timers without spinning", async () => {
    await withLoop(async (loop) => {
      let iterations = 0;
      const realRunOnce = loop._runOnce.bind(loop);
      loop._runOnce = () => {
        iterations++;
        realRunOnce();
      };
      loop.callLater(0.05, () => loop.stop());
      await loop.runForever();
      // A busy loop would run thousands of iterations in 50 ms.
      assert.ok(iterations < 20, `${iterations} iterations`);
    });
  });
});

// ------------------------------------------------------------------ exception handler

describe("exception handler", () => {
  test("an exception thrown by a callback goes to the exception handler and the loop keeps running", async () => {
    await withLoop(async (loop) => {
      const seen = captureHandler(loop);
      const order: string[] = [];
      const err = new Error("boom");
      function explode(): void {
        order.push("explode");
        throw err;
      }
      const h = loop.callSoon(explode);
      loop.callSoon(() => order.push("after"));
      await runOnce(loop);
      assert.deepEqual(order, ["explode", "after"]);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.exception, err);
      assert.equal(seen[0]!.handle, h);
      assert.match(seen[0]!.message!, /^Exception in callback .*explode/);
      const later = await loop.runUntilComplete(async () => "later");
      assert.equal(later, "later");
    });
  });

  test("an exception thrown by a timer callback reports its TimerHandle", async () => {
    await withLoop(async (loop) => {
      const seen = captureHandler(loop);
      const err = new RangeError("late");
      const h = loop.callLater(-1, () => {
        throw err;
      });
      await runOnce(loop);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.handle, h);
      assert.equal(seen[0]!.exception, err);
    });
  });

  test("the exception handler is called with the loop and the context", async () => {
    await withLoop(async (loop) => {
      const calls: [Loop, asyncio.ExceptionContext][] = [];
      loop.setExceptionHandler((l, c) => {
        calls.push([l, c]);
      });
      const context = { message: "custom", extra: 1 };
      loop.callExceptionHandler(context);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]![0], loop);
      assert.equal(calls[0]![1].message, "custom");
      assert.equal(calls[0]![1].extra, 1);
    });
  });

  test("getExceptionHandler is null by default and returns what was set", async () => {
    await withLoop((loop) => {
      assert.equal(loop.getExceptionHandler(), null);
      const handler = (): void => {};
      loop.setExceptionHandler(handler);
      assert.equal(loop.getExceptionHandler(), handler);
      loop.setExceptionHandler(null);
      assert.equal(loop.getExceptionHandler(), null);
    });
  });

  test("setExceptionHandler with something that is not a function throws TypeError", async () => {
    await withLoop((loop) => {
      for (const bad of ["spam", 1, {}, undefined]) {
        assert.throws(() => loop.setExceptionHandler(bad as any), TypeError);
      }
      assert.equal(loop.getExceptionHandler(), null);
    });
  });

  test("resetting the handler to null sends errors to the default handler again", async () => {
    await withLoop(async (loop) => {
      const seen = captureHandler(loop);
      const lines = captureLog(loop);
      loop.setExceptionHandler(null);
      loop.callSoon(function failing() {
        throw new Error("to the log");
      });
      await runOnce(loop);
      assert.equal(seen.length, 0);
      const text = lines.join("\n");
      assert.match(text, /Exception in callback failing/);
      assert.match(text, /to the log/);
    });
  });

  test("an error thrown by the exception handler is logged, not raised", async () => {
    await withLoop(async (loop) => {
      const lines = captureLog(loop);
      loop.setExceptionHandler(() => {
        throw new Error("handler is broken");
      });
      const order: string[] = [];
      loop.callSoon(() => {
        throw new Error("original");
      });
      loop.callSoon(() => order.push("after"));
      await runOnce(loop);
      assert.deepEqual(order, ["after"]);
      const text = lines.join("\n");
      assert.match(text, /Unhandled error in exception handler/);
      assert.match(text, /handler is broken/);
    });
  });

  test("defaultExceptionHandler logs the message, the other keys and the exception's stack", async () => {
    await withLoop((loop) => {
      const lines = captureLog(loop);
      const err = new Error("kaput");
      const h = loop.callSoon(function someCallback() {});
      loop.defaultExceptionHandler({ message: "Something failed", exception: err, handle: h });
      assert.equal(lines.length, 1);
      const text = lines[0]!;
      assert.ok(text.startsWith("Something failed"), "expected: text.startsWith(\"Something failed\")");
      assert.match(text, /handle: <Handle someCallback\(\)/);
      assert.ok(text.includes(err.stack!), "expected: text.includes(err.stack!)");
    });
  });

  test("defaultExceptionHandler without a message says 'Unhandled exception in event loop'", async () => {
    await withLoop((loop) => {
      const lines = captureLog(loop);
      loop.defaultExceptionHandler({ exception: new Error("x") });
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.startsWith("Unhandled exception in event loop"), "expected: lines[0]!.startsWith(\"Unhandled exception in event loop\")");
    });
  });

  test("callExceptionHandler without a custom handler uses the default one", async () => {
    await withLoop((loop) => {
      const lines = captureLog(loop);
      loop.callExceptionHandler({ message: "reported", exception: new Error("why") });
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /^reported/);
      assert.match(lines[0]!, /why/);
    });
  });

  test("a task still pending when its loop closes is reported as destroyed while pending", async () => {
    const loop = asyncio.newEventLoop();
    const seen = captureHandler(loop);
    let task: asyncio.Task<void> | null = null;
    try {
      task = loop.createTask(async () => {
        await loop.createFuture();
      });
      await runOnce(loop);
      assert.equal(task.done(), false);
    } finally {
      loop.close();
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.message, "Task was destroyed but it is pending!");
    assert.equal(seen[0]!.task, task);
  });

  test("a failing task that nobody awaits is reported when the loop closes", async () => {
    const loop = asyncio.newEventLoop();
    const seen = captureHandler(loop);
    const err = new Error("lost");
    let task: asyncio.Task<void> | null = null;
    try {
      task = loop.createTask(async () => {
        throw err;
      });
      await loop.runUntilComplete(async () => {
        await asyncio.sleep(0.005);
      });
      assert.equal(task.done(), true);
      assert.equal(seen.length, 0);
    } finally {
      loop.close();
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.message, "Task exception was never retrieved");
    assert.equal(seen[0]!.exception, err);
    assert.equal(seen[0]!.future, task);
  });
});

// ------------------------------------------------------------------ current loop

describe("getRunningLoop, getEventLoop, setEventLoop, newEventLoop", () => {
  test("getRunningLoop outside a running loop throws RuntimeError('no running event loop')", () => {
    assert.throws(() => asyncio.getRunningLoop(), runtimeError("no running event loop"));
  });

  test("getRunningLoop returns the loop inside a task, also after awaits", async () => {
    await withLoop(async (loop) => {
      const seen = await loop.runUntilComplete(async () => {
        const a = asyncio.getRunningLoop();
        await asyncio.sleep(0);
        const b = asyncio.getRunningLoop();
        await new Promise((r) => setTimeout(r, 1));
        const c = asyncio.getRunningLoop();
        return [a, b, c];
      });
      assert.deepEqual(
        seen.map((l) => l === loop),
        [true, true, true],
      );
    });
  });

  test("getRunningLoop returns the loop inside callSoon, callLater and done callbacks", async () => {
    await withLoop(async (loop) => {
      const seen: Record<string, unknown> = {};
      const fut = loop.createFuture<void>();
      fut.addDoneCallback(() => {
        seen.done = asyncio.getRunningLoop();
      });
      loop.callSoon(() => {
        seen.soon = asyncio.getRunningLoop();
      });
      loop.callLater(0.001, () => {
        seen.later = asyncio.getRunningLoop();
        fut.setResult();
      });
      await loop.runUntilComplete(fut);
      await runOnce(loop);
      assert.equal(seen.soon, loop);
      assert.equal(seen.later, loop);
      assert.equal(seen.done, loop);
    });
  });

  test("getRunningLoop throws again once the loop has stopped", async () => {
    await withLoop(async (loop) => {
      await loop.runUntilComplete(async () => {});
      assert.throws(() => asyncio.getRunningLoop(), asyncio.RuntimeError);
    });
  });

  test("getEventLoop inside a running loop returns that loop", async () => {
    const other = asyncio.newEventLoop();
    asyncio.setEventLoop(other);
    try {
      await withLoop(async (loop) => {
        const got = await loop.runUntilComplete(async () => asyncio.getEventLoop());
        assert.equal(got, loop);
      });
    } finally {
      asyncio.setEventLoop(null);
      other.close();
    }
  });

  test("getEventLoop outside a running loop returns the loop given to setEventLoop", async () => {
    const loop = asyncio.newEventLoop();
    try {
      asyncio.setEventLoop(loop);
      assert.equal(asyncio.getEventLoop(), loop);
      assert.equal(asyncio.getEventLoop(), loop);
    } finally {
      asyncio.setEventLoop(null);
      loop.close();
    }
  });

  test("getEventLoop with no running loop and none set throws RuntimeError and creates no loop", () => {
    asyncio.setEventLoop(null);
    assert.throws(() => asyncio.getEventLoop(), (e: unknown) => e instanceof asyncio.RuntimeError && /no current event loop/.test(String(e)));
    assert.throws(() => asyncio.getEventLoop(), asyncio.RuntimeError);
  });

  // CPython 3.13: set_event_loop(loop); set_event_loop(None); get_event_loop() raises RuntimeError("There is no
  // current event loop in thread 'MainThread'.").
  test("getEventLoop after setEventLoop(null) throws RuntimeError, though a loop was set before", () => {
    const loop = asyncio.newEventLoop();
    try {
      asyncio.setEventLoop(loop);
      assert.equal(asyncio.getEventLoop(), loop);
      asyncio.setEventLoop(null);
      assert.throws(() => asyncio.getEventLoop(), runtimeError(/no current event loop/));
    } finally {
      asyncio.setEventLoop(null);
      loop.close();
    }
  });

  test("setEventLoop with something that is not a loop throws TypeError", () => {
    assert.throws(() => asyncio.setEventLoop({} as any), TypeError);
    assert.throws(() => asyncio.setEventLoop("loop" as any), TypeError);
  });

  test("newEventLoop returns a new loop that is neither running nor closed", async () => {
    const a = asyncio.newEventLoop();
    const b = asyncio.newEventLoop();
    try {
      assert.ok(a instanceof asyncio.EventLoop, "expected: a instanceof asyncio.EventLoop");
      assert.notEqual(a, b);
      assert.equal(a.isRunning(), false);
      assert.equal(a.isClosed(), false);
    } finally {
      a.close();
      b.close();
    }
  });

  test("two loops can run one after the other without seeing each other", async () => {
    const a = asyncio.newEventLoop();
    const b = asyncio.newEventLoop();
    try {
      const fromA = await a.runUntilComplete(async () => asyncio.getRunningLoop());
      const fromB = await b.runUntilComplete(async () => asyncio.getRunningLoop());
      assert.equal(fromA, a);
      assert.equal(fromB, b);
    } finally {
      a.close();
      b.close();
    }
  });
});

// ------------------------------------------------------------------ tasks and futures on the loop

describe("createFuture, createTask and the task factory", () => {
  test("loop.createFuture returns a pending Future bound to the loop", async () => {
    await withLoop((loop) => {
      const fut = loop.createFuture<number>();
      assert.ok(fut instanceof asyncio.Future, "expected: fut instanceof asyncio.Future");
      assert.equal(fut.getLoop(), loop);
      assert.equal(fut.done(), false);
    });
  });

  test("loop.createTask schedules the body for a later iteration and keeps the name", async () => {
    await withLoop(async (loop) => {
      let started = false;
      const task = loop.createTask(
        async () => {
          started = true;
          return 5;
        },
        { name: "worker" },
      );
      assert.equal(started, false);
      assert.equal(task.getName(), "worker");
      assert.equal(task.getLoop(), loop);
      assert.equal(await loop.runUntilComplete(task), 5);
      assert.equal(started, true);
    });
  });

  test("getTaskFactory is null by default", async () => {
    await withLoop((loop) => {
      assert.equal(loop.getTaskFactory(), null);
    });
  });

  test("a task factory makes the tasks of loop.createTask and createTask", async () => {
    await withLoop(async (loop) => {
      class MyTask<T> extends asyncio.Task<T> {}
      const calls: [Loop, unknown, asyncio.TaskOptions][] = [];
      const factory: asyncio.TaskFactory = (l, coro, options) => {
        calls.push([l, coro, options]);
        return new MyTask(coro, { ...options, loop: l });
      };
      loop.setTaskFactory(factory);
      assert.equal(loop.getTaskFactory(), factory);
      const body = async (): Promise<string> => "body";
      const t1 = loop.createTask(body, { name: "first" });
      assert.ok(t1 instanceof MyTask, "expected: t1 instanceof MyTask");
      assert.equal(t1.getName(), "first");
      assert.equal(calls[0]![0], loop);
      assert.equal(calls[0]![1], body);
      assert.equal(calls[0]![2].name, "first");
      let inner: asyncio.Task<string> | null = null;
      await loop.runUntilComplete(async () => {
        inner = asyncio.createTask(async () => "inner");
      });
      assert.ok(inner! instanceof MyTask, "expected: inner! instanceof MyTask");
      assert.equal(await loop.runUntilComplete(t1), "body");
      assert.equal(await loop.runUntilComplete(inner), "inner");
    });
  });

  test("setTaskFactory(null) restores the default factory", async () => {
    await withLoop(async (loop) => {
      class MyTask<T> extends asyncio.Task<T> {}
      loop.setTaskFactory((l, coro, options) => new MyTask(coro, { ...options, loop: l }));
      loop.setTaskFactory(null);
      assert.equal(loop.getTaskFactory(), null);
      const t = loop.createTask(async () => 1);
      assert.equal(t instanceof MyTask, false);
      assert.ok(t instanceof asyncio.Task, "expected: t instanceof asyncio.Task");
      assert.equal(await loop.runUntilComplete(t), 1);
    });
  });

  test("setTaskFactory with something that is not a function throws TypeError", async () => {
    await withLoop((loop) => {
      assert.throws(() => loop.setTaskFactory(1 as any), TypeError);
      assert.equal(loop.getTaskFactory(), null);
    });
  });

  test("with eagerTaskFactory, a task's body starts inside createTask", async () => {
    await withLoop(async (loop) => {
      loop.setTaskFactory(asyncio.eagerTaskFactory);
      const order: string[] = [];
      await loop.runUntilComplete(async () => {
        const t = asyncio.createTask(async () => {
          order.push("body");
        });
        order.push("after createTask");
        await t;
      });
      assert.deepEqual(order, ["body", "after createTask"]);
    });
  });
});

// ------------------------------------------------------------------ debug

describe("debug mode", () => {
  test("debug mode is off by default and setDebug turns it on and off", async () => {
    const saved = process.env.ASYNCIO_DEBUG;
    delete process.env.ASYNCIO_DEBUG;
    try {
      await withLoop((loop) => {
        assert.equal(loop.getDebug(), false);
        loop.setDebug(true);
        assert.equal(loop.getDebug(), true);
        loop.setDebug(false);
        assert.equal(loop.getDebug(), false);
      });
    } finally {
      if (saved !== undefined) process.env.ASYNCIO_DEBUG = saved;
    }
  });

  test("a new loop starts in debug mode when ASYNCIO_DEBUG=1", async () => {
    const saved = process.env.ASYNCIO_DEBUG;
    process.env.ASYNCIO_DEBUG = "1";
    try {
      await withLoop((loop) => {
        captureLog(loop);
        assert.equal(loop.getDebug(), true);
      });
    } finally {
      if (saved === undefined) delete process.env.ASYNCIO_DEBUG;
      else process.env.ASYNCIO_DEBUG = saved;
    }
  });

  test("run({ debug: true }) runs the main function on a loop in debug mode", async () => {
    const debug = await asyncio.run(
      async () => {
        const loop = asyncio.getRunningLoop();
        captureLog(loop);
        return loop.getDebug();
      },
      { debug: true },
    );
    assert.equal(debug, true);
  });

  test("slowCallbackDuration defaults to 0.1 seconds", async () => {
    await withLoop((loop) => {
      assert.equal(loop.slowCallbackDuration, 0.1);
    });
  });

  test("in debug mode a callback slower than slowCallbackDuration is logged", async () => {
    await withLoop(async (loop) => {
      const lines = captureLog(loop);
      loop.setDebug(true);
      loop.slowCallbackDuration = 0.02;
      loop.callSoon(function busy() {
        busyWait(0.05);
      });
      loop.callSoon(function quick() {});
      await runOnce(loop);
      const slow = lines.filter((l) => l.startsWith("Executing"));
      assert.equal(slow.length, 1, lines.join("\n"));
      assert.match(slow[0]!, /^Executing <Handle busy\(\)> took \d+\.\d{3} seconds$/);
    });
  });

  test("in debug mode, callSoon from outside the running loop's context throws RuntimeError", async () => {
    await withLoop(async (loop) => {
      captureLog(loop);
      loop.setDebug(true);
      const outcome: Record<string, unknown> = {};
      const running = loop.runForever();
      setTimeout(() => {
        try {
          loop.callSoon(() => {});
          outcome.callSoon = "accepted";
        } catch (e) {
          outcome.callSoon = e;
        }
        try {
          loop.callLater(0, () => {});
          outcome.callLater = "accepted";
        } catch (e) {
          outcome.callLater = e;
        }
        loop.callSoonThreadsafe(() => loop.stop());
      }, 2);
      await running;
      for (const key of ["callSoon", "callLater"]) {
        const e = outcome[key];
        assert.ok(e instanceof asyncio.RuntimeError, `${key}: ${String(e)}`);
        assert.match(e.message, /Non-thread-safe operation/);
      }
    });
  });

  test("without debug mode, callSoon from outside the running loop's context is accepted", async () => {
    await withLoop(async (loop) => {
      loop.setDebug(false);
      let ran = false;
      const running = loop.runForever();
      setTimeout(() => {
        loop.callSoon(() => {
          ran = true;
          loop.stop();
        });
      }, 2);
      await running;
      assert.equal(ran, true);
    });
  });

  test("without debug mode a slow callback is not logged", async () => {
    await withLoop(async (loop) => {
      const lines = captureLog(loop);
      loop.setDebug(false);
      loop.slowCallbackDuration = 0.001;
      loop.callSoon(function busy() {
        busyWait(0.01);
      });
      await runOnce(loop);
      assert.deepEqual(lines, []);
    });
  });
});
