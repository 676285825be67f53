import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncResource } from "node:async_hooks";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as asyncio from "../src/index.js";
import { ownCodeDirectories } from "../src/_internal/tools/debug.js";
import { isInstance } from "./helpers/expect.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const thisFile = fileURLToPath(import.meta.url);

function busyWait(seconds: number): void {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    // spin
  }
}

/** Records everything the loop logs. */
function captureLog(loop: asyncio.EventLoop): string[] {
  const lines: string[] = [];
  loop._log = (text: string) => {
    lines.push(text);
  };
  return lines;
}

/** Records every context given to the loop's exception handler. */
function captureHandler(loop: asyncio.EventLoop): asyncio.ExceptionContext[] {
  const seen: asyncio.ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => {
    seen.push(context);
  });
  return seen;
}

/** Runs `main` on a new loop with debug mode on or off, and returns what it logged. */
async function logsOf(debug: boolean, main: (loop: asyncio.EventLoop) => Promise<void>, slowAfter = 0.02): Promise<string[]> {
  let lines: string[] = [];
  await asyncio.run(
    async () => {
      const loop = asyncio.getRunningLoop();
      lines = captureLog(loop);
      loop.slowCallbackDuration = slowAfter;
      await main(loop);
    },
    { debug },
  );
  return lines;
}

/**
 * The slow-callback lines, of `name` only when given: on a loaded machine, any step of the test's own loop may take
 * longer than the threshold, so each test counts the lines of the callback or task it made slow.
 */
const slow = (lines: string[], name?: string): string[] =>
  lines.filter((l) => l.startsWith("Executing ") && (name === undefined || l.split("\n")[0]!.includes(name)));

describe("the package's own frames", () => {
  test("the package root computed from the debug module's location holds this package, with src/ and dist/ in it", () => {
    const [src, dist] = ownCodeDirectories();
    const root = join(src!, "..");
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name?: string };
    assert.equal(manifest.name, "asyncio-ts");
    assert.equal(existsSync(join(src!, "tasks.ts")), true);
    assert.equal(dist, join(root, "dist") + sep);
  });
});

describe("slow callbacks", () => {
  test("a slow callback is logged in debug mode, in Python's words", async () => {
    const lines = await logsOf(true, async (loop) => {
      loop.callSoon(function slowCallback() {
        busyWait(0.04);
      });
      await asyncio.sleep(0.01);
    });
    assert.equal(slow(lines, "slowCallback").length, 1);
    assert.match(slow(lines, "slowCallback")[0]!, /^Executing <Handle slowCallback\(\)> took 0\.\d{3} seconds$/);
  });

  test("a slow first step of a task is logged with its name and creation stack", async () => {
    const lines = await logsOf(true, async () => {
      await asyncio.createTask(
        async function slowStart() {
          busyWait(0.04);
          await asyncio.sleep(0);
        },
        { name: "slow-start" },
      );
    });
    assert.equal(slow(lines, "slow-start").length, 1);
    const [first, header, ...stack] = slow(lines, "slow-start")[0]!.split("\n");
    // Timed to the end of the step; the repr is taken then (a `sleep(0)` is no Future the task waits on, as in CPython).
    assert.match(first!, /^Executing <Task pending name='slow-start' coro=<slowStart> created at .*debug\.test\.ts:\d+:\d+> took 0\.\d{3} seconds$/);
    assert.equal(header, "Task created at:");
    // From the call to createTask in this file; the loop's own frames are left out.
    assert.equal(stack[0]!.includes(thisFile), true);
    assert.equal(stack.some((line) => /src[\\/]tasks\.ts/.test(line)), false);
  });

  test("a slow step after an await is logged too", async () => {
    const lines = await logsOf(true, async () => {
      await asyncio.createTask(
        async function slowLater() {
          await asyncio.sleep(0);
          busyWait(0.04);
          await asyncio.sleep(0);
        },
        { name: "slow-later" },
      );
      await asyncio.sleep(0.01);
    });
    assert.equal(slow(lines, "slow-later").length, 1);
    assert.match(slow(lines, "slow-later")[0]!, /^Executing <Task pending name='slow-later' coro=<slowLater> .*created at .*> took 0\.\d{3} seconds\nTask created at:\n {4}at .*debug\.test\.ts/);
  });

  test("fast steps are not logged", async () => {
    const lines = await logsOf(true, async () => {
      await asyncio.gather(...[1, 2, 3].map(() => () => asyncio.sleep(0.001)));
    }, 0.5);
    assert.deepEqual(slow(lines), []);
  });

  test("nothing is logged when debug mode is off", async () => {
    const lines = await logsOf(false, async (loop) => {
      loop.callSoon(() => busyWait(0.04));
      await asyncio.createTask(async () => {
        busyWait(0.04);
        await asyncio.sleep(0);
        busyWait(0.04);
      });
    });
    assert.deepEqual(lines, []);
  });

  test("the virtual-time loop measures slowness in real time", async () => {
    const lines: string[] = [];
    await asyncio.testing.run(
      async () => {
        const loop = asyncio.getRunningLoop();
        loop._log = (text) => lines.push(text);
        loop.slowCallbackDuration = 0.02;
        loop.callSoon(function slowVirtual() {
          busyWait(0.04);
        });
        await asyncio.sleep(10);
      },
      { debug: true },
    );
    assert.equal(slow(lines, "slowVirtual").length, 1);
    assert.match(slow(lines, "slowVirtual")[0]!, /^Executing <Handle slowVirtual\(\)> took/);
  });
});

describe("creation stacks", () => {
  test("in debug mode, Futures and Tasks remember where they were created", async () => {
    await asyncio.run(
      async () => {
        const fut = asyncio.getRunningLoop().createFuture();
        const task = asyncio.createTask(() => asyncio.sleep(0), { name: "t" });
        assert.equal(fut._sourceTraceback!.includes(thisFile), true);
        assert.match(String(fut), new RegExp(`^<Future pending created at ${thisFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+>$`));
        assert.match(String(task), / created at .*debug\.test\.ts:\d+:\d+>$/);
        assert.equal(task.getStack().length > 0, true);
        await task;
      },
      { debug: true },
    );
  });

  test("not when debug mode is off", async () => {
    await asyncio.run(
      async () => {
        const fut = asyncio.getRunningLoop().createFuture();
        const task = asyncio.createTask(() => asyncio.sleep(0));
        assert.equal(fut._sourceTraceback, undefined);
        assert.equal(String(fut), "<Future pending>");
        assert.doesNotMatch(String(task), /created at/);
        assert.deepEqual(task.getStack(), []);
        await task;
      },
      { debug: false },
    );
  });
});

describe("never-retrieved exceptions and pending tasks", () => {
  // As in Python, both are reported whether or not debug mode is on; debug mode adds where the task was created.
  for (const debug of [true, false]) {
    test(`"Task exception was never retrieved" (debug ${debug ? "on" : "off"})`, async () => {
      const loop = asyncio.newEventLoop();
      loop.setDebug(debug);
      const seen = captureHandler(loop);
      let task: asyncio.Task<void> | null = null;
      await loop.runUntilComplete(async () => {
        task = asyncio.createTask(async () => {
          throw new RangeError("nobody looks");
        });
        await asyncio.sleep(0);
        await asyncio.sleep(0);
      });
      loop.close();
      const reports = seen.filter((c) => c.message === "Task exception was never retrieved");
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.future, task);
      isInstance(reports[0]!.exception, RangeError);
      assert.equal("source_traceback" in reports[0]!, debug);
    });

    test(`"Task was destroyed but it is pending!" when the loop closes (debug ${debug ? "on" : "off"})`, async () => {
      const loop = asyncio.newEventLoop();
      loop.setDebug(debug);
      const seen = captureHandler(loop);
      let forgotten: asyncio.Task<void> | null = null;
      await loop.runUntilComplete(async () => {
        forgotten = asyncio.createTask(() => asyncio.sleep(3600), { name: "forgotten" });
        await asyncio.sleep(0);
      });
      loop.close();
      const reports = seen.filter((c) => c.message === "Task was destroyed but it is pending!");
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.task, forgotten);
      assert.equal("source_traceback" in reports[0]!, debug);
      if (debug) assert.equal(String(reports[0]!.source_traceback).includes(thisFile), true);
    });
  }

  test("run() cancels and awaits pending tasks, so it reports none", async () => {
    const seen: asyncio.ExceptionContext[] = [];
    await asyncio.run(
      async () => {
        asyncio.getRunningLoop().setExceptionHandler((_loop, context) => {
          seen.push(context);
        });
        asyncio.createTask(() => asyncio.sleep(3600));
        await asyncio.sleep(0);
      },
      { debug: true },
    );
    assert.deepEqual(seen, []);
  });
});

describe("what debug mode logs", () => {
  test("closing a debug loop logs nothing when nothing is wrong", async () => {
    const loop = asyncio.newEventLoop();
    loop.setDebug(true);
    const lines = captureLog(loop);
    await loop.runUntilComplete(() => asyncio.sleep(0));
    loop.close();
    assert.deepEqual(lines, []);
  });
});

describe("scheduling from outside the loop's context", () => {
  const message = "Non-thread-safe operation invoked on an event loop other than the current one";

  test("callSoon, callLater and callAt raise RuntimeError in debug mode; callSoonThreadsafe does not", async () => {
    const outside = new AsyncResource("outside-the-loop");
    await asyncio.run(
      async () => {
        const loop = asyncio.getRunningLoop();
        for (const schedule of [
          () => loop.callSoon(() => {}),
          () => loop.callLater(1, () => {}),
          () => loop.callAt(loop.time() + 1, () => {}),
        ]) {
          assert.throws(
            () => outside.runInAsyncScope(schedule),
            (e: unknown) => e instanceof asyncio.RuntimeError && e.message === message,
          );
        }
        const ran = loop.createFuture<string>();
        outside.runInAsyncScope(() => loop.callSoonThreadsafe(() => ran.setResult("threadsafe ran")));
        assert.equal(await ran, "threadsafe ran");
        // Inside the loop's own context everything is allowed.
        loop.callSoon(() => {});
        loop.callLater(0, () => {});
      },
      { debug: true },
    );
  });

  test("from another running loop's task too", async () => {
    const other = asyncio.newEventLoop();
    other.setDebug(true);
    const otherReady = other.createFuture<void>();
    const release = other.createFuture<void>();
    const otherRun = other.runUntilComplete(async () => {
      otherReady.setResult();
      await release;
    });
    try {
      await asyncio.run(async () => {
        await otherReady;
        assert.throws(
          () => other.callSoon(() => {}),
          (e: unknown) => e instanceof asyncio.RuntimeError && e.message === message,
        );
      });
    } finally {
      other.callSoonThreadsafe(() => release.setResult());
      await otherRun;
      other.close();
    }
  });

  test("no check when debug mode is off", async () => {
    const outside = new AsyncResource("outside-the-loop");
    await asyncio.run(
      async () => {
        const loop = asyncio.getRunningLoop();
        const ran = loop.createFuture<string>();
        outside.runInAsyncScope(() => loop.callSoon(() => ran.setResult("ran")));
        assert.equal(await ran, "ran");
      },
      { debug: false },
    );
  });
});

describe("the dump signal", () => {
  function runDumpFixture(debug: boolean): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const args = ["--import", "tsx", "test/fixtures/graph-dump.ts", ...(debug ? ["--debug"] : [])];
      const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.stdout.setEncoding("utf8");
      child.stderr.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        if (chunk.includes("ready")) child.kill("SIGUSR2");
      });
      child.stderr.on("data", (chunk: string) => {
        stderr += chunk;
        if (stderr.includes("* Task(name='leaf-2'")) child.kill("SIGTERM");
      });
      child.on("error", (e) => {
        clearTimeout(guard);
        reject(e);
      });
      child.on("close", (_code, signal) => {
        clearTimeout(guard);
        resolve({ signal, stderr });
      });
    });
  }

  test("in debug mode, SIGUSR2 prints every task's call graph to stderr", async () => {
    const { signal, stderr } = await runDumpFixture(true);
    assert.equal(signal, "SIGTERM");
    assert.match(stderr, /^Call graphs of the 4 pending tasks of <EventLoop running=true .*> \(SIGUSR2\):$/m);
    for (const name of ["leaf-1", "leaf-2", "gatherer", "Task-1"]) assert.match(stderr, new RegExp(`\\* Task\\(name='${name}', id=0x[0-9a-f]+\\)`));
    // Each leaf's graph climbs through the gather to its TaskGroup's parent task.
    const leafGraph = stderr.slice(stderr.indexOf("* Task(name='leaf-1'"), stderr.indexOf("* Task(name='leaf-2'"));
    assert.match(leafGraph, /graph-dump\.ts', line \d+, in async leaf\(\)/);
    assert.match(leafGraph, /\n {4}\* Future\(id=0x[0-9a-f]+\)\n {6}\+ Awaited by:\n {8}\* Task\(name='gatherer'/);
    assert.match(leafGraph, /\n {12}\* Task\(name='Task-1'/);
  });

  test("without debug mode, SIGUSR2 keeps Node's default: the process ends, nothing is printed", async () => {
    const { signal, stderr } = await runDumpFixture(false);
    assert.equal(signal, "SIGUSR2");
    assert.doesNotMatch(stderr, /Call graphs/);
  });
});
