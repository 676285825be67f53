// Queues: Queue, PriorityQueue, LifoQueue, with join/taskDone, 3.13's shutdown and async iteration.
// Behaviours follow CPython 3.13's asyncio (Lib/test/test_asyncio/test_queues.py), spelled the asyncio-ts way;
// ordering is checked by stepping the loop with sleep(0), never by measuring time.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import * as asyncio from "../src/index.js";
import { tick, until } from "./helpers/loop.js";

async function rejectsCancelled(task: PromiseLike<unknown>): Promise<void> {
  try {
    await task;
  } catch (error) {
    assert.ok(error instanceof asyncio.CancelledError, `expected CancelledError, got ${String(error)}`);
    return;
  }
  assert.fail("expected the task to be cancelled");
}

type QueueClass = new (maxsize?: number) => asyncio.Queue<any>;
const ALL_QUEUES: [string, QueueClass][] = [
  ["Queue", asyncio.Queue],
  ["LifoQueue", asyncio.LifoQueue],
  ["PriorityQueue", asyncio.PriorityQueue],
];

// ------------------------------------------------------------------ basics

describe("Queue basics", () => {
  test("a queue is unbounded by default: maxsize is 0 and full() is never true", () => {
    const q = new asyncio.Queue<number>();
    assert.equal(q.maxsize, 0);
    for (let i = 0; i < 1000; i++) q.putNowait(i);
    assert.equal(q.full(), false);
    assert.equal(q.qsize(), 1000);
  });

  test("a maxsize of zero or less means unbounded, as in Python", () => {
    const q = new asyncio.Queue<number>(-3);
    for (let i = 0; i < 10; i++) q.putNowait(i);
    assert.equal(q.full(), false);
    assert.equal(q.maxsize, -3);
  });

  test("a maxsize that is not a number is a TypeError naming maxsize; NaN is a RangeError", () => {
    assert.throws(() => new asyncio.Queue("10" as any), (e: unknown) => e instanceof TypeError && /`maxsize`/.test(e.message) && /"10"/.test(e.message));
    assert.throws(() => new asyncio.Queue(null as any), TypeError);
    assert.throws(() => new asyncio.PriorityQueue({} as any), (e: unknown) => e instanceof TypeError && /PriorityQueue/.test(e.message));
    assert.throws(() => new asyncio.LifoQueue(Number.NaN), RangeError);
  });

  test("empty() and full() follow the number of items", () => {
    const q = new asyncio.Queue<number>(2);
    assert.ok(q.empty());
    q.putNowait(1);
    assert.equal(q.empty(), false);
    assert.equal(q.full(), false);
    q.putNowait(2);
    assert.ok(q.full());
    q.getNowait();
    assert.equal(q.full(), false);
  });

  test("a fractional maxsize allows puts until qsize reaches it", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(1.3);
      q.putNowait(1);
      q.putNowait(2);
      assert.ok(q.full());
      assert.throws(() => q.putNowait(3), asyncio.QueueFull);
      const q2 = new asyncio.Queue<number>(1.3);
      await q2.put(1);
      await q2.put(2);
      assert.ok(q2.full());
    }));

  test("a Queue gives its items back first in, first out", () => {
    const q = new asyncio.Queue<number>();
    for (const i of [1, 3, 2]) q.putNowait(i);
    assert.deepEqual([q.getNowait(), q.getNowait(), q.getNowait()], [1, 3, 2]);
  });

  test("putNowait() on a full queue throws QueueFull and leaves it unchanged", () => {
    const q = new asyncio.Queue<number>(1);
    q.putNowait(1);
    assert.throws(() => q.putNowait(2), (e: unknown) => e instanceof asyncio.QueueFull && /maxsize 1/.test(e.message));
    assert.equal(q.qsize(), 1);
    assert.equal(q.statistics().unfinishedTasks, 1);
  });

  test("getNowait() on an empty queue throws QueueEmpty", () => {
    const q = new asyncio.Queue<number>();
    assert.throws(() => q.getNowait(), asyncio.QueueEmpty);
    q.putNowait(1);
    assert.equal(q.getNowait(), 1);
    assert.throws(() => q.getNowait(), asyncio.QueueEmpty);
  });

  test("put() and get() do not yield to the loop when no waiting is needed", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(2);
      let ran = false;
      asyncio.getRunningLoop().callSoon(() => {
        ran = true;
      });
      await q.put(1);
      assert.equal(await q.get(), 1);
      assert.equal(ran, false);
    }));

  test("put() inserts the item as soon as it is called, like putNowait()", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<string>();
      const p = q.put("now");
      assert.equal(q.qsize(), 1);
      await p;
    }));

  test("util.inspect shows maxsize, items, waiting callers, unfinished tasks and shutdown", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      assert.equal(inspect(q), "Queue [maxsize: 0]");
      q.putNowait(1);
      q.putNowait(2);
      assert.equal(inspect(q), "Queue [maxsize: 0, qsize: 2, tasks: 2]");
      q.getNowait();
      q.getNowait();
      const g = asyncio.createTask(() => q.get());
      await tick();
      assert.equal(inspect(q), "Queue [maxsize: 0, getters: 1, tasks: 2]");
      q.shutdown();
      await assert.rejects(g.then(), asyncio.QueueShutDown);
      assert.equal(String(q), "Queue [maxsize: 0, tasks: 2, shutdown]");
      const full = new asyncio.LifoQueue<number>(1);
      full.putNowait(0);
      const p = asyncio.createTask(() => full.put(1));
      await tick();
      assert.equal(inspect(full), "LifoQueue [maxsize: 1, qsize: 1, putters: 1, tasks: 1]");
      p.cancel();
      await rejectsCancelled(p);
      assert.equal(inspect(new asyncio.PriorityQueue(5)), "PriorityQueue [maxsize: 5]");
    }));

  test("statistics() reports sizes, waiting callers, unfinished tasks and shutdown", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(1);
      assert.deepEqual(q.statistics(), { qsize: 0, maxsize: 1, getters: 0, putters: 0, unfinishedTasks: 0, shutdown: false });
      q.putNowait(1);
      const p = asyncio.createTask(() => q.put(2));
      await tick();
      assert.deepEqual(q.statistics(), { qsize: 1, maxsize: 1, getters: 0, putters: 1, unfinishedTasks: 1, shutdown: false });
      q.getNowait();
      await p;
      q.taskDone();
      assert.deepEqual(q.statistics(), { qsize: 1, maxsize: 1, getters: 0, putters: 0, unfinishedTasks: 1, shutdown: false });
    }));

  test("a queue created outside a loop binds to the loop it first waits on", async () => {
    const q = new asyncio.Queue<number>();
    q.putNowait(1);
    await asyncio.run(async () => {
      assert.equal(await q.get(), 1);
      const g = asyncio.createTask(() => q.get());
      await tick();
      q.putNowait(2);
      assert.equal(await g, 2);
    });
    await asyncio.run(async () => {
      await assert.rejects(q.get(), (e: unknown) => e instanceof asyncio.RuntimeError && /different event loop/.test(e.message));
    });
  });

  test("a subclass changes the storage by overriding _init, _put and _get", () =>
    asyncio.run(async () => {
      /** Keeps only the first copy of each item. */
      class UniqueQueue<T> extends asyncio.Queue<T> {
        declare protected _queue: T[];
        private seen = new Set<T>();
        protected override _init(): void {
          this._queue = [];
        }
        protected override _put(item: T): void {
          if (this.seen.has(item)) throw new RangeError(`duplicate item ${String(item)}`);
          this.seen.add(item);
          this._queue.push(item);
        }
        protected override _get(): T {
          const item = this._queue[0]!;
          this._queue.splice(0, 1);
          return item;
        }
      }
      const q = new UniqueQueue<string>(2);
      await q.put("a");
      await assert.rejects(q.put("a"), RangeError);
      assert.equal(q.qsize(), 1);
      assert.equal(q.statistics().unfinishedTasks, 1);
      await q.put("b");
      assert.ok(q.full());
      assert.deepEqual([await q.get(), await q.get()], ["a", "b"]);
      assert.equal(inspect(q), "UniqueQueue [maxsize: 2, tasks: 2]");
    }));
});

// ------------------------------------------------------------------ LifoQueue and PriorityQueue

describe("LifoQueue and PriorityQueue order", () => {
  test("a LifoQueue gives the most recently put item first", () => {
    const q = new asyncio.LifoQueue<number>();
    for (const i of [1, 3, 2]) q.putNowait(i);
    assert.deepEqual([q.getNowait(), q.getNowait(), q.getNowait()], [2, 3, 1]);
  });

  test("a PriorityQueue gives the smallest number first", () => {
    const q = new asyncio.PriorityQueue<number>();
    for (const i of [1, 3, 2]) q.putNowait(i);
    assert.deepEqual([q.getNowait(), q.getNowait(), q.getNowait()], [1, 2, 3]);
  });

  test("a PriorityQueue orders arrays element-wise like Python tuples", () => {
    const q = new asyncio.PriorityQueue<[number, string]>();
    const items: [number, string][] = [
      [2, "b"],
      [1, "z"],
      [2, "a"],
      [1, "a"],
    ];
    for (const it of items) q.putNowait(it);
    const out = Array.from({ length: 4 }, () => q.getNowait());
    assert.deepEqual(out, [
      [1, "a"],
      [1, "z"],
      [2, "a"],
      [2, "b"],
    ]);
  });

  test("a shorter array that is a prefix of a longer one comes first", () => {
    const q = new asyncio.PriorityQueue<number[]>();
    q.putNowait([1, 2, 3]);
    q.putNowait([1, 2]);
    q.putNowait([1]);
    q.putNowait([]);
    assert.deepEqual([q.getNowait(), q.getNowait(), q.getNowait(), q.getNowait()], [[], [1], [1, 2], [1, 2, 3]]);
  });

  test("a PriorityQueue orders strings, bigints, booleans and Dates as Python does", () => {
    const s = new asyncio.PriorityQueue<string>();
    for (const x of ["pear", "apple", "Zebra"]) s.putNowait(x);
    assert.deepEqual([s.getNowait(), s.getNowait(), s.getNowait()], ["Zebra", "apple", "pear"]);
    const n = new asyncio.PriorityQueue<number | bigint | boolean>();
    for (const x of [2n, 1.5, true, 0]) n.putNowait(x);
    assert.deepEqual([n.getNowait(), n.getNowait(), n.getNowait(), n.getNowait()], [0, true, 1.5, 2n]);
    const d = new asyncio.PriorityQueue<Date>();
    const later = new Date(2030, 0, 1);
    const earlier = new Date(2020, 0, 1);
    d.putNowait(later);
    d.putNowait(earlier);
    assert.equal(d.getNowait(), earlier);
  });

  test("equal priorities come out in the order they were put", () => {
    // Arrays that compare equal but are distinct objects: which one comes out first is observable.
    const q = new asyncio.PriorityQueue<number[]>();
    const made = ["a", "b", "c", "d", "e", "f", "g", "h"].map((name, i) => Object.assign([i % 2], { name }));
    for (const item of made) q.putNowait(item);
    const out: string[] = [];
    while (!q.empty()) out.push((q.getNowait() as unknown as { name: string }).name);
    assert.deepEqual(out, ["a", "c", "e", "g", "b", "d", "f", "h"]);
  });

  test("equal priorities whose payloads cannot be compared are refused, as in Python", () => {
    const q = new asyncio.PriorityQueue<[number, object]>();
    q.putNowait([0, { name: "a" }]);
    assert.throws(() => q.putNowait([0, { name: "b" }]), TypeError);
    assert.equal(q.qsize(), 1);
  });

  test("the compare option orders items, ties still first in, first out", () => {
    type Job = { priority: number; id: number };
    const q = new asyncio.PriorityQueue<Job>(0, { compare: (a, b) => b.priority - a.priority });
    const jobs: Job[] = [
      { priority: 1, id: 1 },
      { priority: 5, id: 2 },
      { priority: 1, id: 3 },
      { priority: 5, id: 4 },
      { priority: 3, id: 5 },
    ];
    for (const j of jobs) q.putNowait(j);
    const ids: number[] = [];
    while (!q.empty()) ids.push(q.getNowait().id);
    assert.deepEqual(ids, [2, 4, 5, 1, 3]);
  });

  test("a compare option that is not a function is a TypeError naming compare", () => {
    assert.throws(() => new asyncio.PriorityQueue(0, { compare: 1 as any }), (e: unknown) => e instanceof TypeError && /`compare`/.test(e.message));
  });

  test("items the default order cannot compare are refused with TypeError and the queue is unchanged", () => {
    const q = new asyncio.PriorityQueue<unknown>();
    q.putNowait(3);
    q.putNowait(1);
    assert.throws(() => q.putNowait({ x: 1 }), (e: unknown) => e instanceof TypeError && /compare/.test(e.message));
    assert.throws(() => q.putNowait("a string"), TypeError);
    assert.equal(q.qsize(), 2);
    assert.equal(q.statistics().unfinishedTasks, 2);
    q.putNowait(2);
    assert.deepEqual([q.getNowait(), q.getNowait(), q.getNowait()], [1, 2, 3]);
  });

  test("an array whose elements cannot be compared is refused only when the comparison reaches them", () => {
    const q = new asyncio.PriorityQueue<[number, object]>();
    q.putNowait([1, {}]);
    q.putNowait([2, {}]); // decided by the first element: the objects are never compared
    assert.throws(() => q.putNowait([1, {}]), TypeError);
    assert.equal(q.qsize(), 2);
  });

  test("an error thrown by compare refuses the item and leaves the heap in order", () => {
    const q = new asyncio.PriorityQueue<number>(0, {
      compare: (a, b) => {
        if (a === 13 || b === 13) throw new Error("unlucky");
        return a - b;
      },
    });
    for (const x of [5, 1, 4, 2, 3]) q.putNowait(x);
    assert.throws(() => q.putNowait(13), /unlucky/);
    assert.equal(q.qsize(), 5);
    q.putNowait(0);
    const out: number[] = [];
    while (!q.empty()) out.push(q.getNowait());
    assert.deepEqual(out, [0, 1, 2, 3, 4, 5]);
  });

  test("a bounded LifoQueue or PriorityQueue blocks put() while full", () =>
    asyncio.run(async () => {
      for (const Q of [asyncio.LifoQueue, asyncio.PriorityQueue]) {
        const q = new Q<number>(1);
        await q.put(1);
        const p = asyncio.createTask(() => q.put(0));
        await tick(2);
        assert.equal(p.done(), false);
        assert.equal(q.getNowait(), 1);
        await p;
        assert.equal(q.getNowait(), 0);
      }
    }));
});

// ------------------------------------------------------------------ get

describe("Queue.get", () => {
  test("get() returns an item that is already there", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      q.putNowait(1);
      assert.equal(await q.get(), 1);
    }));

  test("get() waits for an item to be put", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      const started = new asyncio.Event();
      let finished = false;
      const t = asyncio.createTask(async () => {
        started.set();
        const r = await q.get();
        finished = true;
        return r;
      });
      await started.wait();
      assert.equal(finished, false);
      asyncio.getRunningLoop().callLater(0.005, () => q.putNowait(1));
      assert.equal(await t, 1);
      assert.ok(finished);
    }));

  test("getting an item wakes a put() waiting for room", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(1);
      await q.put(1);
      const p = asyncio.createTask(() => q.put(2));
      await tick();
      assert.equal(await q.get(), 1);
      await p;
      assert.equal(q.getNowait(), 2);
    }));

  test("waiting putters are served in order as items are taken", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<string>(1);
      asyncio.createTask(() => q.put("a"));
      asyncio.createTask(() => q.put("b"));
      assert.equal(await q.get(), "a");
      assert.equal(await q.get(), "b");
    }));

  test("waiting getters are served first in, first out", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      const got: string[] = [];
      const getters = ["g1", "g2", "g3"].map((name) =>
        asyncio.createTask(async () => {
          got.push(`${name}:${await q.get()}`);
        }),
      );
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      q.putNowait(3);
      await asyncio.gather(...getters);
      assert.deepEqual(got, ["g1:1", "g2:2", "g3:3"]);
    }));

  test("a getter cancelled while waiting is skipped by the next put", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<string>();
      const t1 = asyncio.createTask(() => q.get());
      const t2 = asyncio.createTask(() => q.get());
      await tick();
      t1.cancel();
      await rejectsCancelled(t1);
      await q.put("a");
      assert.equal(await t2, "a");
      assert.equal(q.statistics().getters, 0);
    }));

  test("a get() woken for an item and then cancelled leaves the item in the queue", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      let reader = asyncio.createTask(() => q.get());
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      reader.cancel();
      try {
        await reader;
      } catch (e) {
        assert.ok(e instanceof asyncio.CancelledError);
        reader = asyncio.createTask(() => q.get());
        await reader;
      }
      // Getting 2 here would mean 1 was lost with the cancelled reader.
      assert.equal(reader.result(), 1);
    }));

  test("a cancelled reader among several passes its item to another reader", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      let reader2!: asyncio.Task<number>;
      let reader3!: asyncio.Task<number>;
      await new asyncio.TaskGroup().with(async (tg) => {
        const reader1 = tg.createTask(() => q.get());
        reader2 = tg.createTask(() => q.get());
        reader3 = tg.createTask(() => q.get());
        await tick();
        q.putNowait(1);
        q.putNowait(2);
        reader1.cancel();
        await rejectsCancelled(reader1);
        await reader3;
      });
      assert.deepEqual(new Set([reader2.result(), reader3.result()]), new Set([1, 2]));
    }));

  test("a get() timed out by waitFor leaves no getter behind", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(5);
      await assert.rejects(asyncio.waitFor(() => q.get(), 0.01), asyncio.TimeoutError);
      assert.equal(q.statistics().getters, 0);
    }));

  test("producer and consumer tasks pass every item through a queue of size 1", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(1);
      const got: number[] = [];
      await new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(async () => {
          for (let i = 0; i < 5; i++) await q.put(i);
        });
        tg.createTask(async () => {
          for (let i = 0; i < 5; i++) got.push(await q.get());
        });
      });
      assert.deepEqual(got, [0, 1, 2, 3, 4]);
    }));

  test("an item that is a promise must be wrapped, since awaiting get() adopts thenables", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<[Promise<number>]>();
      const p = Promise.resolve(5);
      q.putNowait([p]);
      const [got] = await q.get();
      assert.equal(got, p);
    }));
});

// ------------------------------------------------------------------ put

describe("Queue.put", () => {
  test("put() on an unbounded queue never waits", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      await q.put(1);
      assert.equal(await q.get(), 1);
    }));

  test("put() waits while the queue is full", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(1);
      const started = new asyncio.Event();
      let finished = false;
      asyncio.getRunningLoop().callLater(0.005, () => q.getNowait());
      const t = asyncio.createTask(async () => {
        started.set();
        await q.put(1);
        await q.put(2);
        finished = true;
      });
      await started.wait();
      assert.equal(finished, false);
      await t;
      assert.ok(finished);
      assert.equal(q.getNowait(), 2);
    }));

  test("put() hands the item to a waiting getter", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<string>();
      const t = asyncio.createTask(() => q.get());
      await tick();
      await q.put("a");
      assert.equal(await t, "a");
    }));

  test("a task whose put() completed has finished when the consumer gets the item", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      const t = asyncio.createTask(async () => {
        await q.put(1);
        return true;
      });
      assert.equal(await q.get(), 1);
      await tick();
      assert.ok(t.done());
      assert.equal(t.result(), true);
    }));

  test("a cancelled put() never inserts its item", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(1);
      q.putNowait(1);
      let writer = asyncio.createTask(() => q.put(2));
      await tick();
      assert.equal(q.getNowait(), 1);
      writer.cancel();
      try {
        await writer;
      } catch (e) {
        assert.ok(e instanceof asyncio.CancelledError);
        writer = asyncio.createTask(() => q.put(2));
        await writer;
      }
      assert.equal(q.getNowait(), 2);
      assert.equal(q.qsize(), 0);
    }));

  test("a putter cancelled while waiting is skipped, and the others keep their order", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<string>(1);
      const putA = asyncio.createTask(() => q.put("a"));
      const putB = asyncio.createTask(() => q.put("b"));
      const putC = asyncio.createTask(() => q.put("X"));
      await tick();
      assert.ok(putA.done());
      assert.equal(putB.done(), false);
      putC.cancel();
      await rejectsCancelled(putC);
      assert.equal(q.getNowait(), "a");
      await putB;
      assert.equal(q.getNowait(), "b");
      assert.equal(q.qsize(), 0);
    }));

  test("many putters waiting for room all get in as a getter drains the queue", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(2);
      await new asyncio.TaskGroup().with(async (tg) => {
        tg.createTask(async () => {
          await tick();
          const n = q.qsize();
          for (let i = 0; i < n; i++) q.getNowait();
        });
        for (let i = 0; i < 4; i++) tg.createTask(() => q.put(i));
      });
      assert.equal(q.qsize(), 2);
    }));

  test("a cancelled put() leaves no putter behind", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(1);
      q.putNowait(1);
      const t = asyncio.createTask(() => q.put(1));
      await tick();
      assert.equal(q.statistics().putters, 1);
      t.cancel();
      await rejectsCancelled(t);
      assert.equal(q.statistics().putters, 0);
    }));

  test("a put() woken for room and then cancelled raises CancelledError and inserts nothing", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(1);
      q.putNowait(1);
      const t = asyncio.createTask(() => q.put(2));
      await tick();
      q.getNowait(); // wakes the putter (and takes it off the waiting list)
      t.cancel(); // before it could run
      await rejectsCancelled(t);
      assert.equal(q.qsize(), 0);
    }));

  test("a put() woken for room and then cancelled passes the room to the next putter", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<string>(1);
      q.putNowait("first");
      const p1 = asyncio.createTask(() => q.put("p1"));
      const p2 = asyncio.createTask(() => q.put("p2"));
      await tick();
      assert.equal(q.statistics().putters, 2);
      assert.equal(q.getNowait(), "first");
      p1.cancel();
      await rejectsCancelled(p1);
      await p2;
      assert.equal(q.getNowait(), "p2");
      assert.equal(q.qsize(), 0);
    }));
});

// ------------------------------------------------------------------ join and taskDone

for (const [name, Q] of ALL_QUEUES) {
  describe(`${name} join and taskDone`, () => {
    test("taskDone() with no unfinished task is a RangeError", () => {
      const q = new Q();
      assert.throws(() => q.taskDone(), (e: unknown) => e instanceof RangeError && /too many times/.test(e.message));
    });

    test("join() returns once every item put has been marked done by the workers", () =>
      asyncio.run(async () => {
        const q = new Q();
        for (let i = 0; i < 100; i++) q.putNowait(i);
        let accumulator = 0;
        let running = true;
        const worker = async (): Promise<void> => {
          while (running) {
            const item = (await q.get()) as number;
            accumulator += item;
            q.taskDone();
          }
        };
        await new asyncio.TaskGroup().with(async (tg) => {
          const tasks = [tg.createTask(worker), tg.createTask(worker)];
          await q.join();
          assert.equal(accumulator, 4950);
          running = false;
          for (let i = 0; i < tasks.length; i++) q.putNowait(0);
        });
      }));

    test("join() on a queue with nothing unfinished returns at once", () =>
      asyncio.run(async () => {
        const q = new Q();
        await q.join();
        await q.join();
      }));

    test("a cancelled join() leaves the queue and its items as they were", () =>
      asyncio.run(async () => {
        const q = new Q();
        q.putNowait(1);
        const j = asyncio.createTask(() => q.join());
        await tick();
        j.cancel();
        await rejectsCancelled(j);
        assert.equal(q.qsize(), 1);
        q.getNowait();
        q.taskDone();
        await q.join();
      }));
  });
}

// ------------------------------------------------------------------ shutdown

for (const [name, Q] of ALL_QUEUES) {
  describe(`${name} shutdown`, () => {
    test("a shut-down queue says so in its readable form", () => {
      const q = new Q();
      q.shutdown();
      assert.equal(inspect(q), `${name} [maxsize: 0, shutdown]`);
    });

    test("shutting down an empty queue ends a waiting get() and refuses later puts and gets", () =>
      asyncio.run(async () => {
        const q = new Q();
        const getTask = asyncio.createTask(() => q.get());
        await tick();
        q.shutdown(false);
        assert.equal(q.qsize(), 0);
        await q.join();
        await assert.rejects(getTask.then(), asyncio.QueueShutDown);
        await assert.rejects(q.put("data"), asyncio.QueueShutDown);
        assert.throws(() => q.putNowait("data"), asyncio.QueueShutDown);
        await assert.rejects(q.get(), asyncio.QueueShutDown);
        assert.throws(() => q.getNowait(), asyncio.QueueShutDown);
      }));

    test("shutting down a non-empty queue ends waiting puts but still lets gets drain it", () =>
      asyncio.run(async () => {
        const q = new Q(1);
        q.putNowait("data");
        const joinTask = asyncio.createTask(() => q.join());
        const putTask = asyncio.createTask(() => q.put("data2"));
        await tick();
        assert.equal(putTask.done(), false);
        q.shutdown(false);
        assert.equal(q.qsize(), 1);
        await assert.rejects(putTask.then(), asyncio.QueueShutDown);
        assert.equal(await q.get(), "data");
        await tick();
        assert.equal(joinTask.done(), false);
        await assert.rejects(q.put("data"), asyncio.QueueShutDown);
        assert.throws(() => q.putNowait("data"), asyncio.QueueShutDown);
        await assert.rejects(q.get(), asyncio.QueueShutDown);
        assert.throws(() => q.getNowait(), asyncio.QueueShutDown);
        q.taskDone();
        await joinTask;
        assert.throws(() => q.taskDone(), RangeError);
      }));

    test("shutdown(true) drops the items, counts them done for join(), and makes get() fail at once", () =>
      asyncio.run(async () => {
        const q = new Q();
        q.putNowait("data");
        const joinTask = asyncio.createTask(() => q.join());
        q.shutdown(true);
        assert.equal(q.qsize(), 0);
        await joinTask;
        await assert.rejects(q.put("data"), asyncio.QueueShutDown);
        assert.throws(() => q.putNowait("data"), asyncio.QueueShutDown);
        await assert.rejects(q.get(), asyncio.QueueShutDown);
        assert.throws(() => q.getNowait(), asyncio.QueueShutDown);
        assert.throws(() => q.taskDone(), RangeError);
      }));

    test("shutdown(true) keeps items already taken but not marked done in join()'s count", () =>
      asyncio.run(async () => {
        const q = new Q();
        q.putNowait("data");
        q.putNowait("data");
        const joinTask = asyncio.createTask(() => q.join());
        assert.equal(await q.get(), "data");
        q.shutdown({ immediate: true });
        assert.equal(q.qsize(), 0);
        await tick(2);
        assert.equal(joinTask.done(), false);
        await assert.rejects(q.put("data"), asyncio.QueueShutDown);
        await assert.rejects(q.get(), asyncio.QueueShutDown);
        q.taskDone();
        assert.throws(() => q.taskDone(), RangeError);
        await joinTask;
      }));
  });
}

describe("Queue shutdown details", () => {
  test("shutdown({ immediate: false }) is a normal shutdown that keeps the items", () => {
    const q = new asyncio.Queue<number>();
    q.putNowait(1);
    q.shutdown({ immediate: false });
    assert.equal(q.getNowait(), 1);
    assert.throws(() => q.getNowait(), asyncio.QueueShutDown);
  });

  test("shutdown wakes every waiting getter and putter with QueueShutDown", () =>
    asyncio.run(async () => {
      const empty = new asyncio.Queue<number>();
      const getters = [0, 1, 2].map(() => asyncio.createTask(() => empty.get()));
      const full = new asyncio.Queue<number>(1);
      full.putNowait(0);
      const putters = [1, 2, 3].map((i) => asyncio.createTask(() => full.put(i)));
      await tick();
      empty.shutdown();
      full.shutdown();
      for (const r of await asyncio.gather(...getters, ...putters, { returnExceptions: true })) {
        assert.ok(r instanceof asyncio.QueueShutDown);
      }
      assert.equal(full.qsize(), 1);
    }));

  test("put() on a shut-down queue rejects instead of throwing synchronously", () => {
    const q = new asyncio.Queue<number>();
    q.shutdown();
    const p = q.put(1);
    assert.ok(p instanceof Promise);
    return assert.rejects(p, asyncio.QueueShutDown);
  });
});

// ------------------------------------------------------------------ async iteration

describe("Queue async iteration", () => {
  test("for await gets every item in order and ends when the queue is shut down and drained", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(2);
      const producer = asyncio.createTask(async () => {
        for (let i = 0; i < 10; i++) await q.put(i);
        q.shutdown();
      });
      const got: number[] = [];
      for await (const item of q) got.push(item);
      await producer;
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }));

  test("for await over a PriorityQueue yields the items in priority order", () =>
    asyncio.run(async () => {
      const q = new asyncio.PriorityQueue<[number, string]>();
      q.putNowait([3, "low"]);
      q.putNowait([1, "high"]);
      q.putNowait([2, "mid"]);
      q.shutdown();
      const got: string[] = [];
      for await (const [, what] of q) got.push(what);
      assert.deepEqual(got, ["high", "mid", "low"]);
    }));

  test("for await ends at once after shutdown(true)", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      q.putNowait(1);
      q.shutdown(true);
      let count = 0;
      for await (const _ of q) count++;
      assert.equal(count, 0);
    }));

  test("breaking out of for await leaves the other items in the queue", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      for (let i = 0; i < 5; i++) q.putNowait(i);
      for await (const item of q) {
        if (item === 1) break;
      }
      assert.equal(q.qsize(), 3);
      assert.equal(q.getNowait(), 2);
    }));

  test("several consumers iterating one queue share the items without loss or duplication", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>(3);
      const seen: number[] = [];
      const consumer = async (): Promise<void> => {
        for await (const item of q) {
          seen.push(item);
          q.taskDone();
          await tick();
        }
      };
      const consumers = [asyncio.createTask(consumer), asyncio.createTask(consumer), asyncio.createTask(consumer)];
      for (let i = 0; i < 30; i++) await q.put(i);
      await q.join();
      q.shutdown();
      await asyncio.gather(...consumers);
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        Array.from({ length: 30 }, (_, i) => i),
      );
    }));

  test("cancelling a task iterating a queue ends its loop with CancelledError and loses no item", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      const got: number[] = [];
      const t = asyncio.createTask(async () => {
        for await (const item of q) got.push(item);
      });
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      t.cancel();
      await rejectsCancelled(t);
      assert.deepEqual([...got, ...Array.from({ length: q.qsize() }, () => q.getNowait())], [1, 2]);
    }));

  test("the queue's iterator is itself async-iterable and its next() after the end stays done", () =>
    asyncio.run(async () => {
      const q = new asyncio.Queue<number>();
      q.shutdown();
      const it = q[Symbol.asyncIterator]();
      assert.equal(it[Symbol.asyncIterator](), it);
      assert.deepEqual(await it.next(), { done: true, value: undefined });
      assert.deepEqual(await it.next(), { done: true, value: undefined });
      await until(() => true);
    }));
});
