import { test } from "node:test";
import assert from "node:assert/strict";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import * as asyncio from "../src/index.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const { PIPE } = asyncio.subprocess;

/** Sends `sig` to this process and waits until the loop ran `done` (a Future the handler resolves). */
async function raise<T>(sig: NodeJS.Signals, done: asyncio.Future<T>): Promise<T> {
  process.kill(process.pid, sig);
  return await asyncio.waitFor(done, 10);
}

test("a handler added by name runs with its arguments when the process gets the signal", async () => {
  const got = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const done = loop.createFuture<[string, number]>();
    loop.addSignalHandler("SIGWINCH", (a: string, b: number) => done.setResult([a, b]), "x", 7);
    try {
      return await raise("SIGWINCH", done);
    } finally {
      loop.removeSignalHandler("SIGWINCH");
    }
  });
  assert.deepEqual(got, ["x", 7]);
});

test("a handler added by signal number runs too, and is the same handler as by name", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const done = loop.createFuture<string>();
    loop.addSignalHandler(constants.signals.SIGHUP, () => done.setResult("hup"));
    assert.equal(await raise("SIGHUP", done), "hup");
    assert.equal(loop.removeSignalHandler("SIGHUP"), true);
    assert.equal(loop.removeSignalHandler(constants.signals.SIGHUP), false);
  });
});

test("the callback runs as a loop callback: the loop is running and no task is current", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const done = loop.createFuture<[boolean, unknown]>();
    loop.addSignalHandler("SIGWINCH", () => done.setResult([asyncio.getRunningLoop() === loop, asyncio.currentTask()]));
    try {
      assert.deepEqual(await raise("SIGWINCH", done), [true, null]);
    } finally {
      loop.removeSignalHandler("SIGWINCH");
    }
  });
});

test("adding a handler again replaces the first; one process listener stays", async () => {
  const before = process.listenerCount("SIGWINCH");
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const calls: string[] = [];
    const done = loop.createFuture<void>();
    loop.addSignalHandler("SIGWINCH", () => calls.push("first"));
    loop.addSignalHandler("SIGWINCH", () => {
      calls.push("second");
      done.setResult();
    });
    assert.equal(process.listenerCount("SIGWINCH"), before + 1);
    await raise("SIGWINCH", done);
    await asyncio.sleep(0.02);
    assert.deepEqual(calls, ["second"]);
    loop.removeSignalHandler("SIGWINCH");
  });
  assert.equal(process.listenerCount("SIGWINCH"), before);
});

test("removeSignalHandler returns true once, then false, and removes the process listener", async () => {
  const before = process.listenerCount("SIGALRM");
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.equal(loop.removeSignalHandler("SIGALRM"), false);
    loop.addSignalHandler("SIGALRM", () => {});
    assert.equal(process.listenerCount("SIGALRM"), before + 1);
    assert.equal(loop.removeSignalHandler("SIGALRM"), true);
    assert.equal(loop.removeSignalHandler("SIGALRM"), false);
    assert.equal(process.listenerCount("SIGALRM"), before);
  });
});

test("a SIGTERM handler keeps the signal from ending the process", async () => {
  const got = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const done = loop.createFuture<string>();
    loop.addSignalHandler("SIGTERM", () => done.setResult("handled"));
    try {
      return await raise("SIGTERM", done);
    } finally {
      loop.removeSignalHandler("SIGTERM");
    }
  });
  assert.equal(got, "handled");
});

test("every signal received calls the handler, one call per signal", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    let count = 0;
    let next = loop.createFuture<void>();
    loop.addSignalHandler("SIGWINCH", () => {
      count++;
      next.setResult();
    });
    try {
      for (let i = 0; i < 3; i++) {
        await raise("SIGWINCH", next);
        next = loop.createFuture<void>();
      }
    } finally {
      loop.removeSignalHandler("SIGWINCH");
    }
    assert.equal(count, 3);
  });
});

test("two signals with their own handlers each reach their own", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const usr2 = loop.createFuture<string>();
    const hup = loop.createFuture<string>();
    loop.addSignalHandler("SIGWINCH", () => usr2.setResult("usr2"));
    loop.addSignalHandler("SIGHUP", () => hup.setResult("hup"));
    try {
      process.kill(process.pid, "SIGHUP");
      process.kill(process.pid, "SIGWINCH");
      assert.deepEqual(await asyncio.waitFor(asyncio.gather(usr2, hup), 10), ["usr2", "hup"]);
    } finally {
      loop.removeSignalHandler("SIGWINCH");
      loop.removeSignalHandler("SIGHUP");
    }
  });
});

test("an error thrown by a signal callback goes to the exception handler and the loop goes on", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const reported = loop.createFuture<asyncio.ExceptionContext>();
    loop.setExceptionHandler((_loop, context) => reported.setResult(context));
    loop.addSignalHandler("SIGWINCH", function onUsr2() {
      throw new Error("handler failed");
    });
    try {
      const context = await raise("SIGWINCH", reported);
      assert.equal((context.exception as Error).message, "handler failed");
      assert.match(String(context.message), /onUsr2/);
    } finally {
      loop.removeSignalHandler("SIGWINCH");
    }
    assert.equal(await asyncio.sleep(0, "still running"), "still running");
  });
});

test("a signal that arrives while the loop is stopped is handled once it runs again", async () => {
  const loop = asyncio.newEventLoop();
  let calls = 0;
  loop.addSignalHandler("SIGWINCH", () => calls++);
  try {
    process.kill(process.pid, "SIGWINCH");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(calls, 0);
    await loop.runUntilComplete(() => asyncio.sleep(0.01));
    assert.equal(calls, 1);
  } finally {
    loop.close();
  }
});

test("closing the loop removes every handler it installed", async () => {
  const before = [process.listenerCount("SIGWINCH"), process.listenerCount("SIGHUP")];
  const loop = asyncio.newEventLoop();
  loop.addSignalHandler("SIGWINCH", () => {});
  loop.addSignalHandler("SIGHUP", () => {});
  assert.deepEqual([process.listenerCount("SIGWINCH"), process.listenerCount("SIGHUP")], [before[0]! + 1, before[1]! + 1]);
  loop.close();
  assert.deepEqual([process.listenerCount("SIGWINCH"), process.listenerCount("SIGHUP")], before);
});

test("a callback that is not a function, or is an async function, is refused with TypeError", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.throws(() => loop.addSignalHandler("SIGWINCH", "cb" as any), (e: any) => e instanceof TypeError && /`callback`/.test(e.message));
    assert.throws(
      () => loop.addSignalHandler("SIGWINCH", async () => {}),
      (e: any) => e instanceof TypeError && /coroutine functions cannot be signal handlers/.test(e.message),
    );
    assert.equal(loop.removeSignalHandler("SIGWINCH"), false);
  });
});

test("a signal that is neither a name nor an integer is a TypeError; an unknown one a RangeError", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.throws(() => loop.addSignalHandler({} as any, () => {}), (e: any) => e instanceof TypeError && /`sig`/.test(e.message));
    assert.throws(() => loop.addSignalHandler(1.5, () => {}), TypeError);
    assert.throws(() => loop.addSignalHandler("SIGNOPE" as any, () => {}), (e: any) => e instanceof RangeError && /SIGNOPE/.test(e.message));
    assert.throws(() => loop.addSignalHandler(999, () => {}), (e: any) => e instanceof RangeError && /999/.test(e.message));
    assert.throws(() => loop.removeSignalHandler("sigusr2" as any), RangeError);
    assert.throws(() => loop.removeSignalHandler(null as any), TypeError);
  });
});

test("signals that cannot be caught are refused with RuntimeError", async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    for (const sig of ["SIGKILL", "SIGSTOP", "SIGSEGV"] as const) {
      assert.throws(() => loop.addSignalHandler(sig, () => {}), (e: any) => e instanceof asyncio.RuntimeError && e.message.includes(sig));
    }
    assert.throws(() => loop.addSignalHandler(constants.signals.SIGKILL, () => {}), asyncio.RuntimeError);
  });
});

test("addSignalHandler on a closed loop fails with RuntimeError", () => {
  const loop = asyncio.newEventLoop();
  loop.close();
  assert.throws(() => loop.addSignalHandler("SIGWINCH", () => {}), (e: any) => e instanceof asyncio.RuntimeError && /closed/.test(e.message));
});

// ------------------------------------------------------------------ run() and SIGINT

test("run() handles SIGINT with a loop signal handler while main runs, and removes it afterwards", async () => {
  assert.equal(process.listenerCount("SIGINT"), 0);
  await asyncio.run(async () => {
    assert.equal(process.listenerCount("SIGINT"), 1);
  });
  assert.equal(process.listenerCount("SIGINT"), 0);
});

test("a SIGINT handler added inside main replaces the runner's: Ctrl-C then calls it and cancels nothing", async () => {
  const result = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    const done = loop.createFuture<string>();
    loop.addSignalHandler("SIGINT", () => done.setResult("mine"));
    assert.equal(process.listenerCount("SIGINT"), 1);
    const got = await raise("SIGINT", done);
    await asyncio.sleep(0.01);
    return got;
  });
  assert.equal(result, "mine");
  assert.equal(process.listenerCount("SIGINT"), 0);
});

test("run() leaves SIGINT alone when the program listens for it itself", async () => {
  let heard = 0;
  const listener = (): void => {
    heard++;
  };
  process.on("SIGINT", listener);
  try {
    const value = await asyncio.run(async () => {
      assert.equal(process.listenerCount("SIGINT"), 1);
      process.kill(process.pid, "SIGINT");
      for (let i = 0; i < 200 && heard === 0; i++) await asyncio.sleep(0.01);
      return "not cancelled";
    });
    assert.equal(value, "not cancelled");
    assert.equal(heard, 1);
  } finally {
    process.removeListener("SIGINT", listener);
  }
});

/** Starts a Node program that runs `body` as asyncio.run's main and prints its outcome. */
async function startProgram(body: string): Promise<asyncio.Process> {
  const code = [
    `import * as asyncio from ${JSON.stringify(repoRoot + "src/index.ts")};`,
    "try {",
    `  await asyncio.run(async () => { ${body} });`,
    "  console.log('finished');",
    "} catch (e) {",
    "  console.log('rejected ' + e.name);",
    "}",
  ].join("\n");
  return await asyncio.createSubprocessExec(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdout: PIPE,
  });
}

test("Ctrl-C in a program under run(): the main task is cancelled and run rejects with KeyboardInterrupt", async () => {
  await asyncio.run(async () => {
    const proc = await startProgram("console.log('ready'); await asyncio.sleep(60);");
    try {
      assert.equal((await asyncio.waitFor(proc.stdout!.readline(), 30)).toString(), "ready\n");
      proc.sendSignal("SIGINT");
      const [out] = await asyncio.waitFor(proc.communicate(), 30);
      assert.equal(out!.toString(), "rejected KeyboardInterrupt\n");
      assert.equal(proc.returncode, 0);
    } finally {
      if (proc.returncode === null) proc.kill();
    }
  });
});

test("a second Ctrl-C while the main task ignores the first ends the program at once with SIGINT", async () => {
  await asyncio.run(async () => {
    const proc = await startProgram(
      "console.log('ready'); try { await asyncio.sleep(60); } catch { console.log('ignoring'); } await asyncio.sleep(60);",
    );
    try {
      assert.equal((await asyncio.waitFor(proc.stdout!.readline(), 30)).toString(), "ready\n");
      proc.sendSignal("SIGINT");
      assert.equal((await asyncio.waitFor(proc.stdout!.readline(), 30)).toString(), "ignoring\n");
      proc.sendSignal("SIGINT");
      assert.equal(await asyncio.waitFor(proc.wait(), 30), -constants.signals.SIGINT);
    } finally {
      if (proc.returncode === null) proc.kill();
    }
  });
});
