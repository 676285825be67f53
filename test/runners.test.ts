import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type ProcessResult, runNode } from "./helpers/process.js";
import * as asyncio from "../src/index.js";
import { isInstance, rejection } from "./helpers/expect.js";

class MyError extends Error {
  override name = "MyError";
}

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

type ChildResult = ProcessResult;

/**
 * Runs a fixture with tsx in a child Node process. `onLine(line, kill)` sees each stdout line as it comes.
 * The child is killed if it runs longer than 30 s, so a broken runner fails the test instead of hanging it.
 */
function runFixture(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; onLine?: (line: string, kill: (sig: NodeJS.Signals) => void) => void } = {},
): Promise<ChildResult> {
  return runNode(["--import", "tsx", ...args], options);
}

/** Runs `fn` with the environment variable `name` set to `value` (undefined: unset), then restores it. */
async function withEnv<T>(name: string, value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

// ---------------------------------------------------------------- run()

test("run resolves with the main coroutine's result", async () => {
  const result = await asyncio.run(async () => {
    await asyncio.sleep(0);
    return 42;
  });
  assert.equal(result, 42);
});

test("run resolves with the value of a synchronous main function", async () => {
  assert.equal(await asyncio.run(() => "sync"), "sync");
});

test("run rejects with the error main threw", async () => {
  const boom = new MyError("spam");
  const error = await rejection(
    asyncio.run(async () => {
      await asyncio.sleep(0);
      throw boom;
    }),
  );
  assert.equal(error, boom);
});

test("run rejects with CancelledError when the main task is cancelled", async () => {
  const error = await rejection(
    asyncio.run(async () => {
      asyncio.currentTask()!.cancel();
      await asyncio.sleep(1);
    }),
  );
  isInstance(error, asyncio.CancelledError);
});

test("run called where a loop is running rejects with RuntimeError", async () => {
  await asyncio.run(async () => {
    let ran = false;
    const error = await rejection(
      asyncio.run(async () => {
        ran = true;
      }),
    );
    isInstance(error, asyncio.RuntimeError);
    assert.match(error.message, /cannot be called from a running event loop/);
    assert.equal(ran, false);
  });
});

test("run given a started promise rejects with a TypeError that shows the thunk form", async () => {
  const work = async (): Promise<number> => 1;
  const started = work();
  const error = await rejection(asyncio.run(started as unknown as () => Promise<number>));
  isInstance(error, TypeError);
  assert.match(error.message, /\(\) =>/);
  await started;
});

test("run given something that is not a function rejects with TypeError", async () => {
  const error = await rejection(asyncio.run(42 as unknown as () => number));
  isInstance(error, TypeError);
});

test("run runs main inside a task on a running loop", async () => {
  await asyncio.run(async () => {
    const task = asyncio.currentTask();
    isInstance(task, asyncio.Task);
    assert.equal(asyncio.getRunningLoop().isRunning(), true);
  });
});

test("run closes its loop when main ends", async () => {
  let loop!: asyncio.EventLoop;
  await asyncio.run(async () => {
    loop = asyncio.getRunningLoop();
  });
  assert.equal(loop.isClosed(), true);
  assert.equal(loop.isRunning(), false);
});

test("run closes its loop when main fails", async () => {
  let loop!: asyncio.EventLoop;
  await rejection(
    asyncio.run(async () => {
      loop = asyncio.getRunningLoop();
      throw new MyError("x");
    }),
  );
  assert.equal(loop.isClosed(), true);
});

test("each run gets a new loop", async () => {
  const a = await asyncio.run(async () => asyncio.getRunningLoop());
  const b = await asyncio.run(async () => asyncio.getRunningLoop());
  assert.notEqual(a, b);
});

test("run cancels leftover tasks at the end and waits for their cleanup", async () => {
  let leftover!: asyncio.Task<void>;
  let cleanupDone = false;
  const result = await asyncio.run(async () => {
    leftover = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } finally {
        // The cleanup itself awaits: run must wait for it, not just request the cancel.
        await asyncio.sleep(0.01);
        cleanupDone = true;
      }
    });
    await asyncio.sleep(0);
    return 123;
  });
  assert.equal(result, 123);
  assert.equal(leftover.done(), true);
  assert.equal(leftover.cancelled(), true);
  assert.equal(cleanupDone, true);
});

test("a task created just before main returns takes its first step, then is cancelled at its await", async () => {
  let leftover!: asyncio.Task<void>;
  let stepped = false;
  let cleaned = false;
  const t0 = performance.now();
  await asyncio.run(() => {
    leftover = asyncio.createTask(async () => {
      stepped = true;
      try {
        await asyncio.sleep(2);
      } finally {
        cleaned = true;
      }
    });
  });
  // As CPython: the task's first step runs in the loop's last iteration, so it is suspended on its sleep
  // when the shutdown cancels it, and the cancel reaches that sleep at once.
  assert.equal(stepped, true);
  assert.equal(leftover.cancelled(), true);
  assert.equal(cleaned, true);
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 1500, `shutdown waited ${elapsed.toFixed(0)} ms: the cancel did not reach the task's sleep`);
});

test("run cancels leftover tasks after main failed too", async () => {
  let leftover!: asyncio.Task<void>;
  const error = await rejection(
    asyncio.run(async () => {
      leftover = asyncio.createTask(() => asyncio.sleep(10));
      await asyncio.sleep(0);
      throw new MyError("main failed");
    }),
  );
  isInstance(error, MyError);
  assert.equal(leftover.cancelled(), true);
});

test("a leftover task failing during shutdown is reported to the exception handler", async () => {
  const contexts: asyncio.ExceptionContext[] = [];
  let leftover!: asyncio.Task<void>;
  const result = await asyncio.run(async () => {
    asyncio.getRunningLoop().setExceptionHandler((_loop, context) => {
      contexts.push(context);
    });
    leftover = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } catch {
        throw new MyError("during shutdown");
      }
    });
    await asyncio.sleep(0);
    return 123;
  });
  assert.equal(result, 123);
  assert.equal(leftover.done(), true);
  const reports = contexts.filter((c) => c.message === "unhandled exception during asyncio.run() shutdown");
  assert.equal(reports.length, 1);
  assert.equal(reports[0]!.task, leftover);
  isInstance(reports[0]!.exception, MyError);
});

test("a leftover task that swallows its cancellation ends quietly", async () => {
  const contexts: asyncio.ExceptionContext[] = [];
  let leftover!: asyncio.Task<string>;
  await asyncio.run(async () => {
    asyncio.getRunningLoop().setExceptionHandler((_loop, context) => {
      contexts.push(context);
    });
    leftover = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } catch {
        // swallowed
      }
      return "done anyway";
    });
    await asyncio.sleep(0);
  });
  assert.equal(leftover.result(), "done anyway");
  assert.deepEqual(contexts, []);
});

test("run's debug option turns the loop's debug mode on or off", async () => {
  await withEnv("ASYNCIO_DEBUG", undefined, async () => {
    assert.equal(await asyncio.run(async () => asyncio.getRunningLoop().getDebug(), { debug: true }), true);
    assert.equal(await asyncio.run(async () => asyncio.getRunningLoop().getDebug(), { debug: false }), false);
    assert.equal(await asyncio.run(async () => asyncio.getRunningLoop().getDebug()), false);
  });
});

test("ASYNCIO_DEBUG=1 in the environment turns debug mode on unless debug: false is given", async () => {
  await withEnv("ASYNCIO_DEBUG", "1", async () => {
    assert.equal(await asyncio.run(async () => asyncio.getRunningLoop().getDebug()), true);
    assert.equal(await asyncio.run(async () => asyncio.getRunningLoop().getDebug(), { debug: false }), false);
  });
});

test("a program started with ASYNCIO_DEBUG=1 runs its loop in debug mode", async () => {
  const on = await runFixture([fixture("debug-env.ts")], { env: { ...process.env, ASYNCIO_DEBUG: "1" } });
  assert.equal(on.code, 0, on.stderr);
  assert.deepEqual(JSON.parse(on.stdout.trim().split("\n").at(-1)!), { debug: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.ASYNCIO_DEBUG;
  const off = await runFixture([fixture("debug-env.ts")], { env });
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(JSON.parse(off.stdout.trim().split("\n").at(-1)!), { debug: false });
});

test("run uses the loop made by loopFactory, once, and closes it", async () => {
  let calls = 0;
  let made!: asyncio.EventLoop;
  const factory = (): asyncio.EventLoop => {
    calls++;
    made = asyncio.newEventLoop();
    return made;
  };
  const same = await asyncio.run(async () => asyncio.getRunningLoop() === made, { loopFactory: factory });
  assert.equal(same, true);
  assert.equal(calls, 1);
  assert.equal(made.isClosed(), true);
});

test("Ctrl-C while the main task awaits a Future cancels both and run rejects with KeyboardInterrupt", async () => {
  // The runner installs its SIGINT handler only where no one else listens; here no one does.
  assert.equal(process.listenerCount("SIGINT"), 0);
  let fut!: asyncio.Future<void>;
  let mainSawCancel = false;
  let listenersWhileRunning = -1;
  const error = await rejection(
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      fut = loop.createFuture<void>();
      listenersWhileRunning = process.listenerCount("SIGINT");
      loop.callLater(0.01, () => process.emit("SIGINT"));
      try {
        await fut;
      } catch (e) {
        mainSawCancel = e instanceof asyncio.CancelledError;
        throw e;
      }
    }),
  );
  isInstance(error, asyncio.KeyboardInterrupt);
  assert.equal(fut.cancelled(), true);
  assert.equal(mainSawCancel, true);
  assert.equal(listenersWhileRunning, 1);
  assert.equal(process.listenerCount("SIGINT"), 0);
});

test("Ctrl-C while the main task only yields with sleep(0) still interrupts it", async () => {
  assert.equal(process.listenerCount("SIGINT"), 0);
  const error = await rejection(
    asyncio.run(async () => {
      asyncio.getRunningLoop().callLater(0.01, () => process.emit("SIGINT"));
      for (;;) await asyncio.sleep(0);
    }),
  );
  isInstance(error, asyncio.KeyboardInterrupt);
});

test("a program interrupted once with SIGINT ends with KeyboardInterrupt after cancelling its main task", async () => {
  let sent = false;
  const result = await runFixture([fixture("sigint-run.ts"), "interrupt"], {
    onLine: (line, kill) => {
      if (line === "ready" && !sent) {
        sent = true;
        kill("SIGINT");
      }
    },
  });
  assert.equal(sent, true, result.stderr);
  assert.equal(result.signal, null, result.stderr);
  assert.equal(result.code, 130, result.stdout + result.stderr);
  assert.deepEqual(result.stdout.trim().split("\n"), ["ready", "main cancelled", "KeyboardInterrupt"]);
});

test("a second SIGINT while the main task ignores cancellation kills the process at once", async () => {
  let sent = 0;
  const result = await runFixture([fixture("sigint-run.ts"), "stubborn"], {
    onLine: (line, kill) => {
      if ((line === "ready" && sent === 0) || (line === "ignored" && sent === 1)) {
        sent++;
        kill("SIGINT");
      }
    },
  });
  assert.equal(sent, 2, result.stdout + result.stderr);
  assert.equal(result.signal, "SIGINT", result.stdout + result.stderr);
  assert.equal(result.code, null);
  assert.equal(result.stdout.includes("KeyboardInterrupt"), false);
});

test("an uncaught KeyboardInterrupt after Ctrl-C prints only `KeyboardInterrupt` and ends the process by SIGINT", async () => {
  let sent = false;
  const result = await runFixture([fixture("sigint-uncaught.ts"), "plain"], {
    onLine: (line, kill) => {
      if (line === "ready" && !sent) {
        sent = true;
        kill("SIGINT");
      }
    },
  });
  assert.equal(sent, true, result.stderr);
  assert.equal(result.signal, "SIGINT", result.stdout + result.stderr);
  assert.equal(result.code, null);
  assert.equal(result.stderr, "KeyboardInterrupt\n");
  assert.equal(result.stdout, "ready\n");
});

test("an uncaught KeyboardInterrupt thrown by the program itself also ends it by SIGINT, with its message", async () => {
  const result = await runFixture([fixture("sigint-uncaught.ts"), "thrown"]);
  assert.equal(result.signal, "SIGINT", result.stdout + result.stderr);
  assert.equal(result.stderr, "KeyboardInterrupt: stop now\n");
});

test("a program's own uncaughtException listener still receives an uncaught KeyboardInterrupt", async () => {
  let sent = false;
  const result = await runFixture([fixture("sigint-uncaught.ts"), "listener"], {
    onLine: (line, kill) => {
      if (line === "ready" && !sent) {
        sent = true;
        kill("SIGINT");
      }
    },
  });
  assert.equal(result.signal, null, result.stdout + result.stderr);
  assert.equal(result.code, 7, result.stdout + result.stderr);
  assert.deepEqual(result.stdout.trim().split("\n"), ["ready", "listener: KeyboardInterrupt"]);
  assert.equal(result.stderr, "");
});

test("SIGINT arriving when the main task was already cancelled by code gives CancelledError, not KeyboardInterrupt", async () => {
  const result = await runFixture([fixture("sigint-run.ts"), "cancelled"]);
  assert.equal(result.signal, null, result.stderr);
  assert.equal(result.code, 3, result.stdout + result.stderr);
  assert.equal(result.stdout.includes("CancelledError"), true);
});

// ---------------------------------------------------------------- Runner

test("a Runner runs several coroutine functions on one loop", async () => {
  const runner = new asyncio.Runner();
  try {
    const loop = runner.getLoop();
    const a = await runner.run(async () => {
      await asyncio.sleep(0);
      return asyncio.getRunningLoop();
    });
    const b = await runner.run(async () => asyncio.getRunningLoop());
    assert.equal(a, loop);
    assert.equal(b, loop);
    assert.equal(runner.getLoop(), loop);
    assert.equal(loop.isClosed(), false);
  } finally {
    await runner.close();
  }
});

test("a task started in one Runner.run keeps running into the next", async () => {
  await new asyncio.Runner().with(async (runner) => {
    const background = await runner.run(() =>
      asyncio.createTask(async () => {
        await asyncio.sleep(0.01);
        return "background";
      }),
    );
    assert.equal(background, "background");
    let task!: asyncio.Task<string>;
    await runner.run(() => {
      task = asyncio.createTask(async () => {
        await asyncio.sleep(0.01);
        return "later";
      });
    });
    assert.equal(task.done(), false);
    assert.equal(await runner.run(() => task), "later");
  });
});

test("Runner.run rejects with the error of the coroutine function", async () => {
  await new asyncio.Runner().with(async (runner) => {
    const boom = new MyError("x");
    assert.equal(
      await rejection(
        runner.run(() => {
          throw boom;
        }),
      ),
      boom,
    );
    assert.equal(await runner.run(() => "still usable"), "still usable");
  });
});

test("Runner.getLoop returns the same loop each time and Runner.close closes it", async () => {
  const runner = new asyncio.Runner();
  const loop = runner.getLoop();
  assert.equal(runner.getLoop(), loop);
  await runner.close();
  assert.equal(loop.isClosed(), true);
  assert.throws(
    () => runner.getLoop(),
    (e: unknown) => e instanceof asyncio.RuntimeError && /Runner is closed/.test(e.message),
  );
});

test("Runner.close can be called twice", async () => {
  const runner = new asyncio.Runner();
  const loop = runner.getLoop();
  await runner.close();
  assert.equal(loop.isClosed(), true);
  await runner.close();
  assert.equal(loop.isClosed(), true);
});

test("Runner.close on a runner that never ran does nothing", async () => {
  await new asyncio.Runner().close();
});

test("Runner.run after close rejects with RuntimeError and does not run the function", async () => {
  const runner = new asyncio.Runner();
  await runner.run(() => 1);
  await runner.close();
  let ran = false;
  const error = await rejection(
    runner.run(() => {
      ran = true;
    }),
  );
  isInstance(error, asyncio.RuntimeError);
  assert.match(error.message, /Runner is closed/);
  assert.equal(ran, false);
});

test("Runner.with returns the body's result and closes the runner afterwards", async () => {
  const runner = new asyncio.Runner();
  let loop!: asyncio.EventLoop;
  const result = await runner.with(async (r) => {
    assert.equal(r, runner);
    loop = r.getLoop();
    return r.run(async () => "done");
  });
  assert.equal(result, "done");
  assert.equal(loop.isClosed(), true);
  assert.throws(() => runner.getLoop(), asyncio.RuntimeError);
});

test("Runner.with closes the runner when the body fails", async () => {
  const runner = new asyncio.Runner();
  let loop!: asyncio.EventLoop;
  const error = await rejection(
    runner.with((r) => {
      loop = r.getLoop();
      throw new MyError("body");
    }),
  );
  isInstance(error, MyError);
  assert.equal(loop.isClosed(), true);
});

test("a second Runner.with block on a closed runner fails at its first run", async () => {
  const ran: number[] = [];
  const runner = new asyncio.Runner();
  await runner.with((r) =>
    r.run(async () => {
      ran.push(1);
    }),
  );
  const error = await rejection(
    runner.with((r) =>
      r.run(async () => {
        ran.push(2);
      }),
    ),
  );
  isInstance(error, asyncio.RuntimeError);
  assert.match(error.message, /Runner is closed/);
  assert.deepEqual(ran, [1]);
});

test("Runner.close cancels and awaits the tasks left by earlier runs", async () => {
  const runner = new asyncio.Runner();
  let leftover!: asyncio.Task<void>;
  let cleaned = false;
  await runner.run(async () => {
    leftover = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } finally {
        await asyncio.sleep(0);
        cleaned = true;
      }
    });
    await asyncio.sleep(0);
  });
  assert.equal(leftover.done(), false);
  await runner.close();
  assert.equal(leftover.cancelled(), true);
  assert.equal(cleaned, true);
});

test("Runner.close reaches a task whose first step ran in the last iteration of the previous run", async () => {
  const runner = new asyncio.Runner();
  let leftover!: asyncio.Task<void>;
  let cleaned = false;
  await runner.run(() => {
    leftover = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(2);
      } finally {
        await asyncio.sleep(0);
        cleaned = true;
      }
    });
  });
  const t0 = performance.now();
  await runner.close();
  const elapsed = performance.now() - t0;
  assert.equal(leftover.cancelled(), true);
  assert.equal(cleaned, true);
  assert.ok(elapsed < 1500, `close waited ${elapsed.toFixed(0)} ms: the cancel did not reach the task's sleep`);
});

test("Runner.run called from inside a running loop rejects with RuntimeError", async () => {
  await new asyncio.Runner().with(async (runner) => {
    const error = await runner.run(async () => rejection(runner.run(async () => 1)));
    isInstance(error, asyncio.RuntimeError);
    assert.match(error.message, /Runner\.run\(\) cannot be called from a running event loop/);
  });
});

test("Runner.run given a started promise throws a TypeError showing the thunk form", async () => {
  await new asyncio.Runner().with(async (runner) => {
    const fut = runner.getLoop().createFuture<number>();
    const error = await rejection(runner.run(fut as unknown as () => Promise<number>));
    isInstance(error, TypeError);
    assert.match(error.message, /\(\) =>/);
  });
});

test("the Runner's debug option sets the loop's debug mode", async () => {
  await withEnv("ASYNCIO_DEBUG", undefined, async () => {
    await new asyncio.Runner({ debug: true }).with((r) => assert.equal(r.getLoop().getDebug(), true));
    await new asyncio.Runner({ debug: false }).with((r) => assert.equal(r.getLoop().getDebug(), false));
  });
});

test("the Runner uses the loop its loopFactory makes", async () => {
  const loop = asyncio.newEventLoop();
  let calls = 0;
  await new asyncio.Runner({
    loopFactory: () => {
      calls++;
      return loop;
    },
  }).with(async (r) => {
    assert.equal(r.getLoop(), loop);
    assert.equal(await r.run(async () => asyncio.getRunningLoop()), loop);
    assert.equal(await r.run(async () => asyncio.getRunningLoop()), loop);
  });
  assert.equal(calls, 1);
  assert.equal(loop.isClosed(), true);
});

test("a Runner without loopFactory makes its loop the current event loop until it closes", async () => {
  const runner = new asyncio.Runner();
  const loop = runner.getLoop();
  assert.equal(asyncio.getEventLoop(), loop);
  await runner.run(() => undefined);
  assert.equal(asyncio.getEventLoop(), loop);
  await runner.close();
  assert.throws(() => asyncio.getEventLoop(), asyncio.RuntimeError);
});

test("a Runner rejects a loopFactory that is not a function with TypeError", () => {
  assert.throws(() => new asyncio.Runner({ loopFactory: 5 as unknown as () => asyncio.EventLoop }), TypeError);
});
