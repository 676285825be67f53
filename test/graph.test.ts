import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as asyncio from "../src/index.js";
import { isInstance } from "./helpers/expect.js";

const thisFile = fileURLToPath(import.meta.url);

/** Python prints `id()`; ours are small counters. Tests compare the layout with the ids blanked out. */
const blankIds = (text: string): string => text.replace(/id=0x[0-9a-f]+/g, "id=ID");

describe("call graph of a TaskGroup with gathered children", () => {
  test("formatCallGraph renders it exactly, from a leaf up to the group's parent task", async () => {
    const text = await asyncio.testing.run(async function main() {
      asyncio.currentTask()!.setName("main");
      let graphText = "";
      await new asyncio.TaskGroup().with(async (tg) => {
        const leaves: asyncio.Task<void>[] = [];
        tg.createTask(
          async function gatherer() {
            leaves.push(
              asyncio.createTask(async function leaf() {
                await asyncio.sleep(10);
              }, { name: "leaf-1" }),
              asyncio.createTask(async function leaf() {
                await asyncio.sleep(20);
              }, { name: "leaf-2" }),
            );
            await asyncio.gather(...leaves);
          },
          { name: "gatherer" },
        );
        // Rendered from another task, so that `main` too is suspended (in the TaskGroup's exit) when it is shown.
        tg.createTask(async () => {
          await asyncio.sleep(1);
          graphText = asyncio.formatCallGraph(leaves[1]!);
        });
      });
      return graphText;
    });
    assert.equal(
      blankIds(text),
      [
        "* Task(name='leaf-2', id=ID)",
        "  + Call stack:",
        "  |   in async leaf()",
        "  + Awaited by:",
        "    * Future(id=ID)",
        "      + Awaited by:",
        "        * Task(name='gatherer', id=ID)",
        "          + Call stack:",
        "          |   in async gatherer()",
        "          + Awaited by:",
        "            * Task(name='main', id=ID)",
        "              + Call stack:",
        "              |   in async main()",
      ].join("\n"),
    );
  });

  test("captureCallGraph gives the same tree as data", async () => {
    await asyncio.testing.run(async () => {
      const main = asyncio.currentTask()!;
      await new asyncio.TaskGroup().with(async (tg) => {
        let leaf: asyncio.Task<void> | null = null;
        let outer: asyncio.GatheringFuture<unknown> | null = null;
        const gatherer = tg.createTask(async () => {
          leaf = asyncio.createTask(() => asyncio.sleep(10));
          outer = asyncio.gather(leaf, asyncio.sleep(5));
          await outer;
        });
        await asyncio.sleep(1);
        const graph = asyncio.captureCallGraph(leaf!)!;
        assert.equal(graph.future, leaf);
        assert.equal(graph.awaitedBy.length, 1);
        const viaGather = graph.awaitedBy[0]!;
        assert.equal(viaGather.future, outer);
        assert.deepEqual(viaGather.callStack, []);
        assert.equal(viaGather.awaitedBy.length, 1);
        assert.equal(viaGather.awaitedBy[0]!.future, gatherer);
        assert.equal(viaGather.awaitedBy[0]!.awaitedBy[0]!.future, main);
        assert.deepEqual(viaGather.awaitedBy[0]!.awaitedBy[0]!.awaitedBy, []);
      });
    });
  });

  test("the same ids are used for the same Futures across captures", async () => {
    await asyncio.testing.run(async () => {
      const child = asyncio.createTask(() => asyncio.sleep(10), { name: "child" });
      await asyncio.sleep(0);
      const first = asyncio.formatCallGraph(child);
      const second = asyncio.formatCallGraph(child);
      assert.equal(first, second);
      assert.notEqual(/id=(0x[0-9a-f]+)/.exec(first)![1], /id=(0x[0-9a-f]+)/.exec(asyncio.formatCallGraph(asyncio.currentTask()))![1]);
      await child;
    });
  });
});

describe("call graphs through waitFor, shield and nested gathers", () => {
  test("waitFor: the awaited task is awaited by the calling task directly", async () => {
    const text = await asyncio.testing.run(async () => {
      const child = asyncio.createTask(async function child() {
        await asyncio.sleep(10);
      }, { name: "child" });
      const waiter = asyncio.createTask(async function waiter() {
        await asyncio.waitFor(child, 100);
      }, { name: "waiter" });
      await asyncio.sleep(1);
      const out = asyncio.formatCallGraph(child);
      await waiter;
      return out;
    });
    assert.equal(
      blankIds(text),
      [
        "* Task(name='child', id=ID)",
        "  + Call stack:",
        "  |   in async child()",
        "  + Awaited by:",
        "    * Task(name='waiter', id=ID)",
        "      + Call stack:",
        "      |   in async waiter()",
      ].join("\n"),
    );
  });

  test("shield: the inner task is awaited by the shield's Future, awaited by the caller", async () => {
    const text = await asyncio.testing.run(async () => {
      const inner = asyncio.createTask(async function inner() {
        await asyncio.sleep(10);
      }, { name: "inner" });
      const caller = asyncio.createTask(async function caller() {
        await asyncio.shield(inner);
      }, { name: "caller" });
      await asyncio.sleep(1);
      const out = asyncio.formatCallGraph(inner);
      caller.cancel();
      await asyncio.sleep(0);
      // Once the shield's Future is cancelled, nothing awaits the inner task any more.
      assert.equal(asyncio.captureCallGraph(inner)!.awaitedBy.length, 0);
      await inner;
      return out;
    });
    assert.equal(
      blankIds(text),
      [
        "* Task(name='inner', id=ID)",
        "  + Call stack:",
        "  |   in async inner()",
        "  + Awaited by:",
        "    * Future(id=ID)",
        "      + Awaited by:",
        "        * Task(name='caller', id=ID)",
        "          + Call stack:",
        "          |   in async caller()",
      ].join("\n"),
    );
  });

  test("nested gathers and a task awaited by two tasks", async () => {
    await asyncio.testing.run(async () => {
      const shared = asyncio.createTask(() => asyncio.sleep(10), { name: "shared" });
      const a = asyncio.createTask(() => asyncio.gather(asyncio.gather(shared)), { name: "a" });
      const b = asyncio.createTask(async () => {
        await shared;
      }, { name: "b" });
      await asyncio.sleep(1);
      const graph = asyncio.captureCallGraph(shared)!;
      const parents = graph.awaitedBy.map((g) => (g.future instanceof asyncio.Task ? g.future.getName() : "gather"));
      assert.deepEqual(parents.sort(), ["b", "gather"]);
      const innerGather = graph.awaitedBy.find((g) => !(g.future instanceof asyncio.Task))!;
      isInstance(innerGather.future, asyncio.GatheringFuture);
      const outerGather = innerGather.awaitedBy[0]!;
      isInstance(outerGather.future, asyncio.GatheringFuture);
      assert.equal(outerGather.awaitedBy[0]!.future, a);
      await asyncio.gather(a, b);
    });
  });

  test("a cycle of awaiters is shown once, without looping", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const a = loop.createFuture();
      const b = loop.createFuture();
      asyncio.futureAddToAwaitedBy(a, b);
      asyncio.futureAddToAwaitedBy(b, a);
      assert.equal(
        blankIds(asyncio.formatCallGraph(a)),
        ["* Future(id=ID)", "  + Awaited by:", "    * Future(id=ID)"].join("\n"),
      );
    });
  });
});

describe("the current task's call stack", () => {
  test("is the real stack, with V8's async frames, from the caller of captureCallGraph", async () => {
    await asyncio.testing.run(async function outerMain() {
      async function helper(): Promise<asyncio.FutureCallGraph | null> {
        await asyncio.sleep(1);
        return asyncio.captureCallGraph();
      }
      const graph = (await helper())!;
      assert.equal(graph.future, asyncio.currentTask());
      const [first, ...rest] = graph.callStack;
      assert.equal(first!.functionName, "helper");
      assert.equal(first!.fileName, thisFile);
      assert.equal(typeof first!.lineNumber, "number");
      assert.equal(
        rest.some((f) => f.functionName === "outerMain" && f.isAsync),
        true,
      );
      // Nothing of the loop's own machinery.
      assert.equal(graph.callStack.some((f) => f.functionName.includes("_runOnce") || f.fileName!.startsWith("node:")), false);
    });
  });

  test("is shown wherever the running task appears in a graph, as an awaiter too", async () => {
    await asyncio.testing.run(async function awaiterMain() {
      await new asyncio.TaskGroup().with(async (tg) => {
        const child = tg.createTask(() => asyncio.sleep(10));
        await asyncio.sleep(0);
        const parent = asyncio.captureCallGraph(child)!.awaitedBy[0]!;
        assert.equal(parent.future, asyncio.currentTask());
        assert.equal(parent.callStack[0]!.fileName, thisFile);
        assert.equal(
          parent.callStack.some((f) => f.functionName === "TaskGroup.with" && f.isAsync),
          true,
        );
        assert.equal(parent.callStack.at(-1)!.functionName, "awaiterMain");
        child.cancel();
      });
    });
  });

  test("renders as Python does, with File, line and async", async () => {
    await asyncio.testing.run(async function renderMain() {
      await asyncio.sleep(0);
      const text = asyncio.formatCallGraph();
      const lines = text.split("\n");
      assert.match(lines[0]!, /^\* Task\(name='Task-\d+', id=0x[0-9a-f]+\)$/);
      assert.equal(lines[1], "  + Call stack:");
      assert.match(lines[2]!, new RegExp(`^  \\|   File '${thisFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}', line \\d+, in async renderMain\\(\\)$`));
    });
  });

  test("depth skips frames and limit keeps some", async () => {
    await asyncio.testing.run(async function limitMain() {
      async function inner(): Promise<void> {
        await asyncio.sleep(0);
        const all = asyncio.captureCallGraph()!.callStack.map((f) => f.functionName);
        assert.deepEqual(all.slice(0, 2), ["inner", "middle"]);
        assert.deepEqual(
          asyncio.captureCallGraph(null, { depth: 2 })!.callStack.map((f) => f.functionName),
          all.slice(1),
        );
        assert.deepEqual(
          asyncio.captureCallGraph(null, { limit: 1 })!.callStack.map((f) => f.functionName),
          all.slice(-1),
        );
        assert.deepEqual(
          asyncio.captureCallGraph(null, { limit: -1 })!.callStack.map((f) => f.functionName),
          all.slice(0, 1),
        );
        assert.deepEqual(asyncio.captureCallGraph(null, { limit: 0 })!.callStack, []);
      }
      async function middle(): Promise<void> {
        await inner();
      }
      await middle();
    });
  });

  test("in debug mode, a suspended task shows where the Future it waits on was created", async () => {
    await asyncio.testing.run(
      async () => {
        const sleeper = asyncio.createTask(async function sleeper() {
          await asyncio.sleep(10);
        });
        await asyncio.sleep(1);
        const stack = asyncio.captureCallGraph(sleeper)!.callStack;
        assert.deepEqual(
          stack.map((f) => [f.functionName, f.isAsync]),
          [
            ["sleep", false],
            ["sleeper", true],
          ],
        );
        assert.equal(stack[1]!.fileName, thisFile);
        await sleeper;
      },
      { debug: true },
    );
  });
});

describe("arguments and edge cases", () => {
  test("outside a running loop, a Future is needed", () => {
    assert.throws(
      () => asyncio.captureCallGraph(),
      (e: unknown) =>
        e instanceof asyncio.RuntimeError &&
        e.message === "captureCallGraph() is called outside of a running event loop and no *future* to introspect was provided",
    );
    assert.throws(() => asyncio.formatCallGraph(), asyncio.RuntimeError);
  });

  test("a Future can be introspected outside the loop", async () => {
    const loop = asyncio.newEventLoop();
    try {
      const fut = loop.createFuture();
      assert.match(asyncio.formatCallGraph(fut), /^\* Future\(id=0x[0-9a-f]+\)$/);
    } finally {
      loop.close();
    }
  });

  test("in the loop but outside a task there is nothing to show", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const seen = loop.createFuture<[unknown, string]>();
      loop.callSoon(() => seen.setResult([asyncio.captureCallGraph(), asyncio.formatCallGraph()]));
      assert.deepEqual(await seen, [null, ""]);
    });
  });

  test("something that is not a Future is a TypeError", async () => {
    await asyncio.testing.run(async () => {
      assert.throws(() => asyncio.captureCallGraph(Promise.resolve() as any), {
        name: "TypeError",
        message: "[Promise] object does not appear to be compatible with asyncio.Future",
      });
      assert.throws(() => asyncio.captureCallGraph(null, { depth: 0 }), RangeError);
      assert.throws(() => asyncio.captureCallGraph(null, { limit: 1.5 }), TypeError);
    });
  });

  test("printCallGraph writes the text and a newline to `file`", async () => {
    await asyncio.testing.run(async () => {
      const child = asyncio.createTask(() => asyncio.sleep(10), { name: "printed" });
      await asyncio.sleep(0);
      let written = "";
      asyncio.printCallGraph(child, { file: { write: (s: string) => (written += s) } });
      assert.equal(written, asyncio.formatCallGraph(child) + "\n");
      assert.match(written, /^\* Task\(name='printed'/);
      await child;
    });
  });

  test("futureAddToAwaitedBy links what done callbacks wait for; futureDiscardFromAwaitedBy unlinks", async () => {
    await asyncio.testing.run(async () => {
      const loop = asyncio.getRunningLoop();
      const inner = asyncio.createTask(() => asyncio.sleep(10), { name: "inner" });
      const outer = loop.createFuture<void>();
      inner.addDoneCallback(() => outer.setResult());
      asyncio.futureAddToAwaitedBy(inner, outer);
      await asyncio.sleep(0);
      assert.equal(asyncio.captureCallGraph(inner)!.awaitedBy[0]!.future, outer);
      asyncio.futureDiscardFromAwaitedBy(inner, outer);
      assert.deepEqual(asyncio.captureCallGraph(inner)!.awaitedBy, []);
      // Anything that is not a Future is ignored, as in Python.
      asyncio.futureAddToAwaitedBy(inner, {} as any);
      await outer;
    });
  });

  test("Task names are quoted as Python's repr quotes them", async () => {
    await asyncio.testing.run(async () => {
      const t = asyncio.createTask(() => asyncio.sleep(1), { name: "it's" });
      await asyncio.sleep(0);
      assert.match(asyncio.formatCallGraph(t), /^\* Task\(name="it's", id=/);
      await t;
    });
  });
});
