// A smoke test of the main features on another JavaScript runtime (Bun, Deno) or on Node: the built package
// (dist/) is loaded as a user's program loads it. Prints one line per feature, `ok <name>` or `FAIL <name>: why`,
// then exits with status 1 if any failed.
//   node test/runtimes/smoke.mjs    bun test/runtimes/smoke.mjs    deno run -A test/runtimes/smoke.mjs
// With feature names as arguments, runs only those; `--skip=name` leaves one out.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";

const asyncio = await import(new URL("../../dist/index.js", import.meta.url).href);
const testing = await import(new URL("../../dist/testing.js", import.meta.url).href);

/** A command line running a short JavaScript program on this same runtime. */
function selfCommand(code) {
  const exe = process.execPath;
  return /deno(\.exe)?$/.test(exe) ? [exe, ["eval", code]] : [exe, ["-e", code]];
}

const checks = {
  async cancellation() {
    await asyncio.run(async () => {
      const reached = [];
      const task = asyncio.createTask(async () => {
        try {
          await asyncio.sleep(10);
        } finally {
          reached.push("finally");
        }
      });
      await asyncio.sleep(0);
      task.cancel("stop");
      await assert.rejects(task, asyncio.CancelledError);
      assert.equal(task.cancelled(), true);
      assert.deepEqual(reached, ["finally"]);
    });
  },

  async timeouts() {
    await asyncio.run(async () => {
      await assert.rejects(asyncio.timeout(0.05).with(() => asyncio.sleep(10)), asyncio.TimeoutError);
      await assert.rejects(asyncio.waitFor(asyncio.sleep(10), 0.05), asyncio.TimeoutError);
      assert.equal(await asyncio.waitFor(asyncio.sleep(0.01, "in time"), 5), "in time");
    });
  },

  async taskgroup() {
    await asyncio.run(async () => {
      let sibling = null;
      await assert.rejects(
        new asyncio.TaskGroup().with(async (tg) => {
          sibling = tg.createTask(() => asyncio.sleep(10));
          tg.createTask(async () => {
            await asyncio.sleep(0.01);
            throw new RangeError("boom");
          });
        }),
        (error) => error instanceof asyncio.ExceptionGroup && error.exceptions[0] instanceof RangeError,
      );
      assert.equal(sibling.cancelled(), true);
    });
  },

  async queues() {
    await asyncio.run(async () => {
      const queue = new asyncio.Queue(2);
      const got = [];
      const consumer = asyncio.createTask(async () => {
        for await (const item of queue) {
          got.push(item);
          queue.taskDone();
        }
      });
      for (let i = 0; i < 10; i++) await queue.put(i);
      await queue.join();
      queue.shutdown();
      await consumer;
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  },

  async toThread() {
    await asyncio.run(async () => {
      // Runs in a worker from its source text: a function declaration can call itself by name there.
      function fib(n) {
        return n < 2 ? n : fib(n - 1) + fib(n - 2);
      }
      assert.equal(await asyncio.toThread(fib, 20), 6765);
      // One thread, many jobs: each next job is sent to the busy thread before its current one ends.
      await new asyncio.ThreadPoolExecutor({ maxWorkers: 1 }).with(async (pool) => {
        const jobs = [1, 2, 3, 4, 5, 6].map((n) => pool.submit(fib, n));
        assert.ok(jobs[2].cancel());
        const settled = await Promise.allSettled(jobs);
        assert.deepEqual(settled.map((s) => (s.status === "fulfilled" ? s.value : s.reason.name)), [1, 1, "CancelledError", 3, 5, 8]);
      });
    });
  },

  async subprocess() {
    await asyncio.run(async () => {
      const [exe, args] = selfCommand('process.stdin.on("data", (d) => process.stdout.write(String(d).toUpperCase()))');
      const proc = await asyncio.createSubprocessExec(exe, args, { stdin: asyncio.subprocess.PIPE, stdout: asyncio.subprocess.PIPE });
      const [out] = await proc.communicate(Buffer.from("hello"));
      assert.equal(out.toString(), "HELLO");
      assert.equal(proc.returncode, 0);
    });
  },

  async tcp() {
    await asyncio.run(async () => {
      const server = await asyncio.startServer(
        async (reader, writer) => {
          const line = await reader.readline();
          writer.write(Buffer.from(`echo ${line.toString()}`));
          await writer.drain();
          writer.close();
          await writer.waitClosed();
        },
        "127.0.0.1",
        0,
      );
      const port = server.sockets[0].getsockname()[1];
      const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
      writer.write(Buffer.from("ping\n"));
      assert.equal((await reader.read()).toString(), "echo ping\n");
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    });
  },

  async virtualTime() {
    const elapsed = await testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      await asyncio.timeout(7200).with(() => asyncio.sleep(3600));
      await assert.rejects(asyncio.waitFor(asyncio.sleep(86400), 60), asyncio.TimeoutError);
      return loop.time();
    });
    assert.equal(elapsed, 3660);
  },

  async processPool() {
    await asyncio.run(async () => {
      await new asyncio.ProcessPoolExecutor({ maxWorkers: 2 }).with(async (pool) => {
        const loop = asyncio.getRunningLoop();
        const square = (x) => x * x;
        assert.deepEqual(await asyncio.gather(...[1, 2, 3].map((x) => loop.runInExecutor(pool, square, x))), [1, 4, 9]);
      });
    });
  },
};

const args = process.argv.slice(2);
const skip = args.filter((a) => a.startsWith("--skip=")).map((a) => a.slice("--skip=".length));
const only = args.filter((a) => !a.startsWith("--skip="));
for (const name of [...skip, ...only]) {
  if (!(name in checks)) throw new RangeError(`unknown feature ${name}; the features: ${Object.keys(checks).join(", ")}`);
}
let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  if ((only.length > 0 && !only.includes(name)) || skip.includes(name)) continue;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("no answer within 60 s")), 60_000).unref()),
    ]);
    console.log(`ok ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${String(error?.stack ?? error).split("\n").slice(0, 4).join(" | ")}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
