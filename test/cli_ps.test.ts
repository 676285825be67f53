import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcessByStdio, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ensureBuilt, runNode } from "./helpers/process.js";
import * as asyncio from "../src/index.js";
import { AwaitCycleError, buildAsyncTree, buildTaskTable, formatTaskTable, listeningPorts } from "../src/_internal/tools/ps.js";
import { type ProcessSnapshot, SNAPSHOT_KEY } from "../src/_internal/tools/task_snapshot.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bin = join(repoRoot, "bin", "asyncio-ts.mjs");
const fixture = join(repoRoot, "test", "fixtures", "ps-target.mjs");
const onLinux = process.platform === "linux";

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command line; killed after 60 s (generous: the machine may be loaded). */
function runCli(args: string[]): Promise<Result> {
  return runNode([bin, ...args], { killAfterMs: 60_000 });
}

/** A running target process; `line(pred)` waits for a line of its stdout, `status()` asks it how it is. */
class Target {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  stderr = "";

  constructor(args: string[], nodeArgs: string[] = []) {
    this.child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    let partial = "";
    this.child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      partial += chunk;
      const parts = partial.split("\n");
      partial = parts.pop()!;
      this.lines.push(...parts);
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    // Killed by the test at the end: an exit before that is a failure the test will see.
    this.child.on("exit", () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first line (from the start) matching `pred`, waiting up to 30 s for it. */
  async line(pred: (l: string) => boolean, after = 0): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = this.lines.slice(after).find(pred);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`the target exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`no such line from the target within 30 s; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(command: string): void {
    this.child.stdin.write(`${command}\n`);
  }

  /** What the target says of itself: alive (it answers), and the URL of its inspector or null when closed. */
  async status(): Promise<{ alive: boolean; inspector: string | null }> {
    const seen = this.lines.length;
    this.send("status");
    return JSON.parse(await this.line((l) => l.startsWith("{"), seen)) as { alive: boolean; inspector: string | null };
  }

  kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.on("exit", () => resolve());
      this.child.kill("SIGKILL");
    });
  }
}

/** Starts the fixture (in debug mode unless told otherwise) and waits until all its tasks are suspended. */
async function startTarget(options: { debug?: boolean; nodeArgs?: string[] } = {}): Promise<Target> {
  // A random port for SIGUSR1 by default, so that nothing else on the machine competes for 9229.
  const nodeArgs = options.nodeArgs ?? ["--inspect-port=0"];
  const target = new Target([fixture, ...(options.debug === false ? [] : ["debug"])], nodeArgs);
  targets.push(target);
  await target.line((l) => l === "ready");
  return target;
}

const targets: Target[] = [];
after(async () => {
  await Promise.all(targets.map((t) => t.kill()));
});

// The command line and the target run the built package (dist/); rebuild it when the sources are newer.
before(() => {
  ensureBuilt(["_internal/tools/ps.js"]);
  assert.equal(existsSync(join(repoRoot, "dist", "_internal", "tools", "ps.js")), true, "dist/_internal/tools/ps.js could not be built");
});

const TRACKS: Record<string, string> = { TNDNBTG: "Sundowning", Levitate: "Sundowning", DYWTYLM: "TMBTE", "Aqua Regia": "TMBTE" };

describe("asyncio-ts ps PID", () => {
  test("lists every task of the target under Python 3.14's columns, each with its awaiter", async () => {
    const target = await startTarget();
    const result = await runCli(["ps", String(target.pid)]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    const header = [["tid", 10], ["task id", 20], ["task name", 20], ["coroutine stack", 50], ["awaiter chain", 50], ["awaiter name", 15], ["awaiter id", 15]];
    assert.equal(lines[0], header.map(([title, width]) => (title as string).padEnd(width as number)).join(" "));
    assert.equal(lines[1], "-".repeat(180));
    const byName = new Map<string, string>();
    for (const line of lines.slice(2, -1)) {
      const id = line.slice(11, 31).trim();
      const name = line.slice(32, 52).trim();
      byName.set(name, id);
    }
    assert.deepEqual([...byName.keys()].sort(), ["Aqua Regia", "DYWTYLM", "Levitate", "Sundowning", "TMBTE", "TNDNBTG", "Task-1"]);
    for (const line of lines.slice(2, -1)) {
      const name = line.slice(32, 52).trim();
      const awaiterName = line.slice(155, 170).trim();
      const awaiterId = line.slice(171).trim();
      const expected = name === "Task-1" ? "" : name === "Sundowning" || name === "TMBTE" ? "Task-1" : TRACKS[name]!;
      assert.equal(awaiterName, expected, line);
      assert.equal(awaiterId, expected === "" ? "0x0" : byName.get(expected), line);
      assert.match(line, /^0 {10}0x[0-9a-f]+ /);
    }
  });

  test("shows each task's coroutine stack and the awaiter's chain, innermost first", async () => {
    const target = await startTarget();
    const result = await runCli(["ps", String(target.pid)]);
    assert.equal(result.code, 0, result.stderr);
    const track = result.stdout.split("\n").find((l) => l.includes(" Levitate "))!;
    assert.match(track, / sleep -> play -> \S+ +TaskGroup\.exit -> TaskGroup\.with -> album +Sundowning /);
    const album = result.stdout.split("\n").find((l) => l.includes(" TMBTE "))!;
    assert.match(album, / TaskGroup\.exit -> TaskGroup\.with -> album +TaskGroup\.exit -> TaskGroup\.with -> main +Task-1 /);
  });

  test("leaves the target running with its inspector closed", async () => {
    const target = await startTarget();
    assert.deepEqual(await target.status(), { alive: true, inspector: null });
    const result = await runCli(["ps", String(target.pid)]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await target.status(), { alive: true, inspector: null });
    if (onLinux) assert.deepEqual(listeningPorts(target.pid), []);
  });

  test("can be run again on the same process, which keeps its task ids", async () => {
    const target = await startTarget();
    const first = await runCli(["ps", String(target.pid)]);
    const second = await runCli(["ps", String(target.pid)]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(await target.status(), { alive: true, inspector: null });
  });

  test("without debug mode, shows each task's coroutine function", async () => {
    const target = await startTarget({ debug: false });
    const result = await runCli(["ps", String(target.pid)]);
    assert.equal(result.code, 0, result.stderr);
    const main = result.stdout.split("\n").map((l) => l.trimEnd()).find((l) => l.includes(" Task-1 ") && l.endsWith("0x0"))!;
    assert.match(main, /^0 +0x[0-9a-f]+ +Task-1 +main +0x0$/);
  });

  test("uses an inspector the target already had open, and leaves it open", async () => {
    const target = await startTarget({ nodeArgs: ["--inspect=127.0.0.1:0"] });
    const before = (await target.status()).inspector;
    assert.notEqual(before, null);
    const result = await runCli(["ps", String(target.pid)]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, / Sundowning /);
    assert.deepEqual(await target.status(), { alive: true, inspector: before });
  });

  test("shows where a loop blocked in synchronous code is stuck, and still closes the inspector", async () => {
    const target = await startTarget();
    target.send("block");
    // The blocked target cannot answer "status" any more: wait until it stops answering.
    await waitUntilBlocked(target);
    const result = await runCli(["ps", String(target.pid)]);
    assert.equal(result.code, 0, result.stderr);
    const stuck = result.stdout.split("\n").find((l) => l.includes(" stuck "))!;
    assert.match(stuck, / spin -> stuck /);
    assert.match(result.stderr, /busy running task stuck \(0x[0-9a-f]+\) when asked/);
    assert.match(result.stderr, /^ {4}spin .*ps-target\.mjs:\d+$/m);
    if (onLinux) assert.deepEqual(listeningPorts(target.pid), []);
    assert.equal(target.child.exitCode, null);
  });

  for (const [opened, nodeArgs, expected] of [
    [false, ["--inspect-port=0"], "did not open its inspector within 5 s: it is not a Node.js process, or its main thread is blocked outside JavaScript"],
    [true, ["--inspect=127.0.0.1:0"], "did not answer within 5 s: its main thread is blocked outside JavaScript"],
  ] as const) {
    test(`says so when the target is blocked outside JavaScript (inspector ${opened ? "open" : "closed"} before), exit status 1`, {
      skip: process.platform === "win32" && "no FIFOs",
    }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-ps-"));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const fifo = join(dir, "fifo");
      assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
      const target = await startTarget({ nodeArgs: [...nodeArgs] });
      target.send(`wait ${fifo}`);
      await waitUntilBlocked(target);
      const result = await runCli(["ps", String(target.pid), "--timeout", "5"]);
      await target.kill();
      assert.equal(result.code, 1);
      assert.equal(result.stdout, "");
      assert.ok(result.stderr.startsWith(`asyncio-ts: process ${target.pid} ${expected}`), result.stderr);
      assert.equal(result.stderr.trim().split("\n").length, 1);
    });
  }
});

/** Waits until the target no longer answers "status" within 2 s (its loop is blocked). */
async function waitUntilBlocked(target: Target): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const seen = await Promise.race([target.status().then(() => true), new Promise<false>((r) => setTimeout(r, 2000, false))]);
    if (!seen) return;
  }
  throw new Error("the target never blocked");
}

describe("asyncio-ts pstree PID", () => {
  test("draws the await tree: tasks, the frames they await from, the tasks awaited there", async () => {
    const target = await startTarget();
    const result = await runCli(["pstree", String(target.pid)]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "└── (T) Task-1");
    assert.match(lines[1]!, /^ {4}└── {2}main \S+ps-target\.mjs:\d+$/);
    assert.match(lines[2]!, /^ {8}└── {2}TaskGroup\.with \S+taskgroups\.js:\d+$/);
    assert.match(lines[3]!, /^ {12}└── {2}TaskGroup\.exit \S+taskgroups\.js:\d+$/);
    assert.equal(lines[4], "                ├── (T) Sundowning");
    assert.match(lines[5]!, /^ {16}│ {3}└── {2}album \S+ps-target\.mjs:\d+$/);
    const tracks = lines.filter((l) => /\(T\) (TNDNBTG|Levitate|DYWTYLM|Aqua Regia)$/.test(l));
    assert.equal(tracks.length, 4);
    for (const l of tracks) assert.match(l, /^ {16}[│ ] {15}[├└]── \(T\)/);
    assert.equal(lines.filter((l) => l.includes("(T) TMBTE")).length, 1);
    assert.match(lines.at(-1)!, /^ {44}└── {2}sleep \S+tasks\.js:\d+$/);
    assert.deepEqual(await target.status(), { alive: true, inspector: null });
  });

  test("shows the frames of a task stuck in synchronous code", async () => {
    const target = await startTarget();
    target.send("block");
    await waitUntilBlocked(target);
    const result = await runCli(["pstree", String(target.pid)]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    const at = lines.indexOf("└── (T) stuck");
    assert.ok(at >= 0, result.stdout);
    assert.match(lines[at + 1]!, /^ {4}└── {2}stuck \S+ps-target\.mjs:\d+$/);
    assert.match(lines[at + 2]!, /^ {8}└── {2}spin \S+ps-target\.mjs:\d+$/);
  });
});

describe("pstree with tasks awaiting each other", () => {
  test("refuses to draw a cycle: Python's error and the cycle on stderr, exit status 1; ps still lists them", async () => {
    const target = await startTarget();
    target.send("cycle");
    await target.line((l) => l === "cycled");
    const tree = await runCli(["pstree", String(target.pid)]);
    assert.equal(tree.code, 1);
    assert.equal(tree.stdout, "");
    assert.match(tree.stderr, /^ERROR: await-graph contains cycles - cannot print a tree!\n\ncycle: (ping → pong → ping|pong → ping → pong)\n$/);
    const table = await runCli(["ps", String(target.pid)]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, / ping {17}.* pong {12}0x/);
    assert.match(table.stdout, / pong {17}.* ping {12}0x/);
  });
});

describe("ps and pstree on bad input", () => {
  test("a PID with no process: one line on stderr and exit status 1", async () => {
    // A PID above the kernel's limit cannot be in use.
    const result = await runCli(["ps", "99999999"]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, "asyncio-ts: no process with PID 99999999\n");
  });

  test("a Node.js process without asyncio-ts: one line, exit status 1, the process left running without inspector", async () => {
    const plain = new Target(["-e", 'process.stdin.on("data", () => {}); console.log("ready")'], ["--inspect-port=0"]);
    targets.push(plain);
    await plain.line((l) => l === "ready");
    const result = await runCli(["pstree", String(plain.pid)]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, `asyncio-ts: process ${plain.pid} does not run asyncio-ts\n`);
    assert.equal(plain.child.exitCode, null);
    if (onLinux) assert.deepEqual(listeningPorts(plain.pid), []);
  });

  test("a process that is not Node.js is not signalled: one line, exit status 1, still running", { skip: !onLinux && "needs /proc" }, async () => {
    const other = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => other.once("spawn", resolve));
      const result = await runCli(["ps", String(other.pid)]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^asyncio-ts: process ${other.pid} does not run asyncio-ts: it does not handle SIGUSR1`));
      assert.equal(result.stderr.split("\n").length, 2);
      assert.equal(other.exitCode, null);
      assert.equal(other.signalCode, null);
    } finally {
      other.kill("SIGKILL");
    }
  });

  test("a target whose inspector port is taken: one line naming the port, and the target keeps running", async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      blocker.once("error", reject);
      blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port));
    });
    try {
      const target = await startTarget({ nodeArgs: [`--inspect-port=${port}`] });
      const result = await runCli(["ps", String(target.pid), "--timeout", "5"]);
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        `asyncio-ts: process ${target.pid} could not open its inspector: port ${port} is taken by another process (start it with --inspect-port=0, or free the port)\n`,
      );
      assert.deepEqual(await target.status(), { alive: true, inspector: null });
    } finally {
      blocker.close();
    }
  });

  test("a PID that is not a number, or none: exit status 1 or the usage", async () => {
    const bad = await runCli(["ps", "abc"]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, "asyncio-ts: ps: expected a PID (a positive integer), got abc\n");
    const none = await runCli(["pstree"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^asyncio-ts: pstree: expected a PID\nUsage:/);
  });

  test("--help lists ps and pstree", async () => {
    const result = await runCli(["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^ {2}asyncio-ts ps PID /m);
    assert.match(result.stdout, /^ {2}asyncio-ts pstree PID /m);
  });
});

// ------------------------------------------------------------------ the snapshot and its rendering, in process

const frame = (name: string, file: string | null = null, line: number | null = null) => ({ name, file, line });

function snapshotOf(tasks: ProcessSnapshot["loops"][number]["tasks"]): ProcessSnapshot {
  return { pid: 1, threadId: 0, busyAt: [], loops: [{ tasks }] };
}

describe("the task snapshot and its rendering", () => {
  test("the snapshot hook lists a loop's tasks with the tasks awaiting them, through gather", async () => {
    const hook = (globalThis as Record<symbol, unknown>)[Symbol.for(SNAPSHOT_KEY)] as () => string;
    assert.equal(typeof hook, "function");
    const seen = await asyncio.run(async () => {
      const leaf = async () => asyncio.sleep(3600);
      const a = asyncio.createTask(leaf, { name: "a" });
      const b = asyncio.createTask(leaf, { name: "b" });
      const parent = asyncio.createTask(() => asyncio.gather(a, b), { name: "parent" });
      await asyncio.sleep(0.01);
      const snapshot = JSON.parse(hook()) as ProcessSnapshot;
      parent.cancel();
      await asyncio.wait([parent, a, b] as asyncio.Future<unknown>[]);
      return snapshot;
    });
    assert.equal(seen.pid, process.pid);
    const tasks = seen.loops.flatMap((l) => l.tasks);
    const byName = new Map(tasks.map((t) => [t.name, t]));
    const parentId = byName.get("parent")!.id;
    assert.deepEqual(byName.get("a")!.awaitedBy.map((w) => w.id), [parentId]);
    assert.deepEqual(byName.get("b")!.awaitedBy.map((w) => w.id), [parentId]);
    assert.deepEqual(byName.get("parent")!.awaitedBy, []);
    // The task that called the hook was running, and its stack is its real one.
    const main = tasks.find((t) => t.running)!;
    assert.match(main.name, /^Task-\d+$/);
    assert.ok(main.stack.some((f) => f.file !== null && f.file.endsWith("cli_ps.test.ts")));
  });

  test("the table has a row per awaiter, and names an awaiter it does not know Unknown", () => {
    const snapshot = snapshotOf([
      { id: 1, name: "root", stack: [frame("main")], awaitedBy: [], running: false },
      {
        id: 2,
        name: "shared",
        stack: [frame("sleep"), frame("leaf")],
        awaitedBy: [
          { id: 1, stack: [frame("main")] },
          { id: 9, stack: [frame("other")] },
        ],
        running: false,
      },
    ]);
    assert.deepEqual(buildTaskTable(snapshot), [
      ["0", "0x1", "root", "main", "", "", "0x0"],
      ["0", "0x2", "shared", "sleep -> leaf", "main", "root", "0x1"],
      ["0", "0x2", "shared", "sleep -> leaf", "other", "Unknown", "0x9"],
    ]);
    const text = formatTaskTable(snapshot).split("\n");
    assert.equal(text[2], `${"0".padEnd(10)} ${"0x1".padEnd(20)} ${"root".padEnd(20)} ${"main".padEnd(50)} ${"".padEnd(50)} ${"".padEnd(15)} ${"0x0".padEnd(15)}`);
  });

  test("the tree shares an awaiter's frames between the tasks it awaits, and ends each leaf with its own stack", () => {
    const snapshot = snapshotOf([
      { id: 1, name: "root", stack: [frame("with", "/g.js", 3), frame("main", "/m.js", 1)], awaitedBy: [], running: false },
      { id: 2, name: "x", stack: [frame("sleep", "/t.js", 7)], awaitedBy: [{ id: 1, stack: [frame("with", "/g.js", 3), frame("main", "/m.js", 1)] }], running: false },
      { id: 3, name: "y", stack: [frame("leaf")], awaitedBy: [{ id: 1, stack: [frame("with", "/g.js", 3), frame("main", "/m.js", 1)] }], running: false },
      { id: 4, name: "alone", stack: [], awaitedBy: [], running: false },
    ]);
    assert.deepEqual(buildAsyncTree(snapshot), [
      [
        "└── (T) root",
        "    └──  main /m.js:1",
        "        └──  with /g.js:3",
        "            ├── (T) x",
        "            │   └──  sleep /t.js:7",
        "            └── (T) y",
        "                └──  leaf",
      ].join("\n"),
      "└── (T) alone",
    ]);
  });

  test("the tree refuses a cycle of tasks awaiting each other, naming them", () => {
    const snapshot = snapshotOf([
      { id: 1, name: "a", stack: [], awaitedBy: [{ id: 2, stack: [frame("f")] }], running: false },
      { id: 2, name: "b", stack: [], awaitedBy: [{ id: 1, stack: [frame("g")] }], running: false },
    ]);
    assert.throws(
      () => buildAsyncTree(snapshot),
      (e: unknown) => e instanceof AwaitCycleError && JSON.stringify(e.cycles) === JSON.stringify([["b", "a", "b"]]),
    );
  });
});
