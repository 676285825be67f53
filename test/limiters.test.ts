// CapacityLimiter (Trio's semantics) and RateLimiter (a token bucket on the loop's clock).
// Ordering is checked by stepping the loop with sleep(0); durations only on testing.VirtualEventLoop's clock.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import fc from "fast-check";
import * as asyncio from "../src/index.js";
import { isInstance, rejection } from "./helpers/expect.js";

/** Lets the loop run `n` iterations (each `sleep(0)` yields exactly once). */
async function tick(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await asyncio.sleep(0);
}

function now(): number {
  return asyncio.getRunningLoop().time();
}

async function rejectsCancelled(task: PromiseLike<unknown>): Promise<void> {
  isInstance(await rejection(task), asyncio.CancelledError);
}

// ------------------------------------------------------------------ CapacityLimiter

describe("CapacityLimiter", () => {
  test("a new limiter has all its tokens free", () => {
    const limiter = new asyncio.CapacityLimiter(3);
    assert.equal(limiter.totalTokens, 3);
    assert.equal(limiter.borrowedTokens, 0);
    assert.equal(limiter.availableTokens, 3);
    assert.deepEqual(limiter.statistics(), { borrowedTokens: 0, totalTokens: 3, borrowers: [], tasksWaiting: 0 });
  });

  test("acquire() takes a token for the current task, and release() gives it back", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(2);
      await limiter.acquire();
      assert.equal(limiter.borrowedTokens, 1);
      assert.equal(limiter.availableTokens, 1);
      assert.deepEqual(limiter.statistics().borrowers, [asyncio.currentTask()]);
      limiter.release();
      assert.equal(limiter.borrowedTokens, 0);
      assert.deepEqual(limiter.statistics().borrowers, []);
    }));

  test("a free token is taken by the acquire() call itself, before its promise is awaited", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      const pending = limiter.acquire();
      assert.equal(limiter.borrowedTokens, 1);
      await pending;
      limiter.release();
    }));

  test("a task that holds a token gets RuntimeError from a second acquire()", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(5);
      await limiter.acquire();
      const error = await rejection(limiter.acquire());
      isInstance(error, asyncio.RuntimeError);
      assert.match(error.message, /already holds a token/);
      assert.equal(limiter.borrowedTokens, 1);
    }));

  test("a task that holds a token gets RuntimeError from acquireNowait()", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(5);
      limiter.acquireNowait();
      assert.throws(() => limiter.acquireNowait(), asyncio.RuntimeError);
      assert.equal(limiter.borrowedTokens, 1);
    }));

  test("a task already waiting for a token gets RuntimeError from another acquire()", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      const holder = asyncio.createTask(() => limiter.with(() => asyncio.sleep(10)));
      await tick();
      const first = limiter.acquire();
      const error = await rejection(limiter.acquire());
      isInstance(error, asyncio.RuntimeError);
      assert.match(error.message, /already waits/);
      await first;
      assert.deepEqual(limiter.statistics().borrowers, [asyncio.currentTask()]);
      limiter.release();
      await holder;
    }));

  test("acquireNowait() takes a free token without waiting", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      limiter.acquireNowait();
      assert.equal(limiter.borrowedTokens, 1);
      limiter.release();
    }));

  test("acquireNowait() throws WouldBlock when every token is held", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      const holder = asyncio.createTask(() => limiter.with(() => asyncio.sleep(1)));
      await tick();
      const error = (() => {
        try {
          limiter.acquireNowait();
        } catch (e) {
          return e;
        }
        return null;
      })();
      isInstance(error, asyncio.WouldBlock);
      assert.equal(error.name, "WouldBlock");
      assert.match(error.message, /1\/1 borrowed/);
      assert.equal(limiter.borrowedTokens, 1);
      await holder;
    }));

  test("WouldBlock is an Error class exported by the package", () => {
    const error = new asyncio.WouldBlock("no");
    isInstance(error, Error);
    assert.equal(error.name, "WouldBlock");
    assert.equal(error.message, "no");
  });

  test("release() by a task holding no token throws RuntimeError", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      assert.throws(() => limiter.release(), /holds no token/);
      assert.throws(() => limiter.release(), asyncio.RuntimeError);
    }));

  test("only the task that took a token can release it", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const other = asyncio.createTask(async () => limiter.release());
      isInstance(await rejection(other), asyncio.RuntimeError);
      assert.equal(limiter.borrowedTokens, 1);
      limiter.release();
    }));

  test("acquire, acquireNowait and release outside a task are RuntimeErrors", async () => {
    const limiter = new asyncio.CapacityLimiter(1);
    isInstance(await rejection(limiter.acquire()), asyncio.RuntimeError);
    assert.throws(() => limiter.acquireNowait(), /inside a task/);
    assert.throws(() => limiter.release(), asyncio.RuntimeError);
    isInstance(await rejection(limiter.with(() => 1)), asyncio.RuntimeError);
    assert.equal(limiter.borrowedTokens, 0);
  });

  test("waiters get tokens in the order they asked for them", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(2);
      const order: number[] = [];
      await new asyncio.TaskGroup().with(async (tg) => {
        for (let i = 0; i < 8; i++) {
          tg.createTask(() =>
            limiter.with(async () => {
              order.push(i);
              await asyncio.sleep(1 + (i % 3));
            }),
          );
        }
      });
      assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
    }));

  test("never more than totalTokens tasks are inside with() at once", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(3);
      let inside = 0;
      let most = 0;
      await new asyncio.TaskGroup().with(async (tg) => {
        for (let i = 0; i < 20; i++) {
          tg.createTask(() =>
            limiter.with(async () => {
              inside++;
              most = Math.max(most, inside);
              await asyncio.sleep((i * 7) % 5);
              inside--;
            }),
          );
        }
      });
      assert.equal(most, 3);
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("a new caller does not overtake a waiter that was handed the released token", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const waiter = asyncio.createTask(() => limiter.acquire());
      await tick();
      limiter.release();
      // The token is the waiter's now, although it has not run yet.
      const barger = asyncio.createTask(async () => limiter.acquireNowait());
      isInstance(await rejection(barger), asyncio.WouldBlock);
      await waiter;
      assert.deepEqual(limiter.statistics().borrowers, [waiter]);
    }));

  test("a free token does not go to a new caller while others are queued for it", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const waiter = asyncio.createTask(() => limiter.acquire());
      await tick();
      limiter.totalTokens = 1; // no change: nothing is freed
      assert.equal(limiter.statistics().tasksWaiting, 1);
      limiter.release();
      await waiter;
    }));

  test("raising totalTokens wakes as many waiters as there are new tokens", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const entered: number[] = [];
      const tasks = [0, 1, 2, 3].map((i) =>
        asyncio.createTask(async () => {
          await limiter.acquire();
          entered.push(i);
        }),
      );
      await tick();
      assert.equal(limiter.statistics().tasksWaiting, 4);
      limiter.totalTokens = 3;
      assert.equal(limiter.borrowedTokens, 3);
      await tick();
      assert.deepEqual(entered, [0, 1]);
      assert.equal(limiter.statistics().tasksWaiting, 2);
      limiter.totalTokens = Infinity;
      await asyncio.gather(...tasks);
      assert.deepEqual(entered, [0, 1, 2, 3]);
    }));

  test("lowering totalTokens takes no token away; new callers wait until enough are released", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(3);
      const release = new asyncio.Event();
      const holders = [0, 1, 2].map(() => asyncio.createTask(() => limiter.with(() => release.wait())));
      await tick();
      limiter.totalTokens = 1;
      assert.equal(limiter.borrowedTokens, 3);
      assert.equal(limiter.availableTokens, 0);
      let entered = false;
      const late = asyncio.createTask(() => limiter.with(() => (entered = true)));
      await tick(3);
      assert.equal(entered, false);
      release.set();
      await asyncio.gather(late, ...holders);
      assert.equal(entered, true);
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("an Infinity limiter never makes anyone wait", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(Infinity);
      const tasks = Array.from({ length: 100 }, () => asyncio.createTask(() => limiter.with(() => asyncio.sleep(1))));
      await tick();
      assert.equal(limiter.borrowedTokens, 100);
      await asyncio.gather(...tasks);
      assert.equal(now(), 1);
    }));

  for (const [bad, cls] of [
    ["3", TypeError],
    [undefined, TypeError],
    [null, TypeError],
    [3n, TypeError],
    [0, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [Number.NaN, RangeError],
    [-Infinity, RangeError],
  ] as const) {
    test(`new CapacityLimiter(${inspect(bad)}) throws ${cls.name} naming totalTokens`, () => {
      assert.throws(() => new asyncio.CapacityLimiter(bad as unknown as number), (e: unknown) => {
        isInstance(e, cls);
        assert.match(e.message, /`totalTokens`/);
        return true;
      });
    });
  }

  test("setting totalTokens to a bad value throws and keeps the old value", () => {
    const limiter = new asyncio.CapacityLimiter(2);
    assert.throws(() => (limiter.totalTokens = 0), RangeError);
    assert.throws(() => (limiter.totalTokens = 2.5), RangeError);
    assert.throws(() => (limiter.totalTokens = "4" as unknown as number), TypeError);
    assert.equal(limiter.totalTokens, 2);
  });

  test("a waiter cancelled while waiting takes no token and the next waiter gets it", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const first = asyncio.createTask(() => limiter.acquire());
      const second = asyncio.createTask(() => limiter.acquire());
      await tick();
      assert.equal(limiter.statistics().tasksWaiting, 2);
      first.cancel();
      await rejectsCancelled(first);
      assert.equal(limiter.statistics().tasksWaiting, 1);
      limiter.release();
      await asyncio.waitFor(second, 60); // a lost token would time out here, not hang
      assert.deepEqual(limiter.statistics().borrowers, [second]);
    }));

  test("a token handed to a waiter cancelled before it ran goes on to the next waiter", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const first = asyncio.createTask(() => limiter.acquire());
      const second = asyncio.createTask(() => limiter.acquire());
      await tick();
      limiter.release(); // hands the token to `first`...
      first.cancel(); // ...which is cancelled before it could run
      await rejectsCancelled(first);
      await asyncio.waitFor(second, 60); // a lost token would time out here, not hang
      assert.deepEqual(limiter.statistics(), {
        borrowedTokens: 1,
        totalTokens: 1,
        borrowers: [second],
        tasksWaiting: 0,
      });
    }));

  test("a token handed to a cancelled waiter with nobody behind it becomes free again", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const waiter = asyncio.createTask(() => limiter.acquire());
      await tick();
      limiter.release();
      waiter.cancel();
      await rejectsCancelled(waiter);
      assert.equal(limiter.borrowedTokens, 0);
      limiter.acquireNowait();
      limiter.release();
    }));

  test("a cancelled waiter does not make later callers queue behind it", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      const waiter = asyncio.createTask(() => limiter.acquire());
      await tick();
      waiter.cancel();
      limiter.release(); // the only waiter is cancelled: the token stays free
      const other = asyncio.createTask(async () => {
        limiter.acquireNowait();
        limiter.release();
        return "took it";
      });
      assert.equal(await other, "took it");
      await rejectsCancelled(waiter);
    }));

  test("with() resolves with the body's result and gives the token back", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      assert.equal(await limiter.with(async () => "value"), "value");
      assert.equal(await limiter.with(() => 7), 7);
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("with() gives the token back when the body throws", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      const error = await rejection(
        limiter.with(() => {
          throw new Error("boom");
        }),
      );
      isInstance(error, Error);
      assert.equal(error.message, "boom");
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("with() gives the token back when the task is cancelled inside the body", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      const task = asyncio.createTask(() => limiter.with(() => asyncio.sleep(3600)));
      await tick();
      assert.equal(limiter.borrowedTokens, 1);
      task.cancel();
      await rejectsCancelled(task);
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("with() cancelled while waiting never runs the body", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      await limiter.acquire();
      let ran = false;
      const task = asyncio.createTask(() => limiter.with(() => (ran = true)));
      await tick();
      task.cancel();
      await rejectsCancelled(task);
      limiter.release();
      await tick(2);
      assert.equal(ran, false);
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("with() refuses a body that is not a function", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      const error = await rejection(limiter.with("nope" as unknown as () => void));
      isInstance(error, TypeError);
      assert.match(error.message, /`body`/);
      assert.equal(limiter.borrowedTokens, 0);
    }));

  test("statistics() lists the borrowers in the order they got their tokens, and counts waiting tasks", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(2);
      const gate = new asyncio.Event();
      const tasks = [0, 1, 2].map(() => asyncio.createTask(() => limiter.with(() => gate.wait())));
      await tick();
      const stats = limiter.statistics();
      assert.deepEqual(stats.borrowers, [tasks[0], tasks[1]]);
      assert.equal(stats.tasksWaiting, 1);
      stats.borrowers.length = 0; // a copy: the limiter is unaffected
      assert.equal(limiter.borrowedTokens, 2);
      gate.set();
      await asyncio.gather(...tasks);
    }));

  test("util.inspect shows the borrowed tokens and the waiting tasks", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(1);
      assert.equal(inspect(limiter), "CapacityLimiter [borrowed: 0/1]");
      await limiter.acquire();
      const waiter = asyncio.createTask(() => limiter.acquire());
      await tick();
      assert.equal(String(limiter), "CapacityLimiter [borrowed: 1/1, waiting: 1]");
      limiter.release();
      await waiter;
    }));

  test("a limiter waited on in one loop cannot be waited on in another", async () => {
    const limiter = new asyncio.CapacityLimiter(1);
    await asyncio.testing.run(async () => {
      await limiter.acquire();
      const waiter = asyncio.createTask(() => limiter.acquire());
      await tick();
      limiter.release();
      await waiter;
    });
    // The waiter task ended holding its token; it is still counted (a task holds its token until it releases it).
    assert.equal(limiter.borrowedTokens, 1);
    limiter.totalTokens = 2;
    await asyncio.run(async () => {
      await limiter.acquire(); // a free token needs no loop
      isInstance(await rejection(asyncio.createTask(() => limiter.acquire())), asyncio.RuntimeError);
    });
  });

  test("an hour of 60 five-minute jobs through 5 tokens runs in virtual time, in milliseconds", async () => {
    const started = performance.now();
    const end = await asyncio.testing.run(async () => {
      const limiter = new asyncio.CapacityLimiter(5);
      await new asyncio.TaskGroup().with(async (tg) => {
        for (let i = 0; i < 60; i++) tg.createTask(() => limiter.with(() => asyncio.sleep(300)));
      });
      return now();
    });
    assert.equal(end, 3600);
    assert.equal(performance.now() - started < 10_000, true); // generous: an hour must not take anything like it
  });
});

/**
 * When a random cancellation strikes: at a time in half-second steps, then after a few loop iterations, so that some
 * land just after a token was handed over, before or after the waiter resumed.
 */
interface Cancel {
  at: number;
  ticks: number;
}

const cancelArb = (maxSeconds: number): fc.Arbitrary<Cancel> =>
  fc.record({ at: fc.integer({ min: 0, max: 2 * maxSeconds }).map((n) => n / 2), ticks: fc.nat({ max: 3 }) });

function cancelLater(task: asyncio.Task<unknown>, when: Cancel): void {
  asyncio.createTask(async () => {
    await asyncio.sleep(when.at);
    await tick(when.ticks);
    task.cancel();
  });
}

// Random programs: tasks entering a limiter at random times, holding it for random durations, some cancelled at a
// random moment (while waiting or inside), and the capacity changed now and then.
interface LimiterProgram {
  total: number;
  users: { arrive: number; hold: number; cancelAt: Cancel | null }[];
  resizes: { at: number; total: number }[];
}

const limiterProgramArb: fc.Arbitrary<LimiterProgram> = fc.record({
  total: fc.integer({ min: 1, max: 4 }),
  users: fc.array(
    fc.record({
      arrive: fc.integer({ min: 0, max: 6 }),
      hold: fc.integer({ min: 0, max: 5 }),
      cancelAt: fc.option(cancelArb(12), { freq: 3 }),
    }),
    { minLength: 1, maxLength: 12 },
  ),
  resizes: fc.array(fc.record({ at: fc.integer({ min: 0, max: 12 }), total: fc.integer({ min: 1, max: 4 }) }), {
    maxLength: 3,
  }),
});

test("property: a limiter loses no token, never lets in more than its capacity, and serves first come first", async () => {
  await fc.assert(
    fc.asyncProperty(limiterProgramArb, (prog) =>
      asyncio.testing.run(async () => {
        const limiter = new asyncio.CapacityLimiter(prog.total);
        const entered: number[] = [];
        const enteredAt = new Map<number, number>();
        const arrivals: number[] = [];
        let inside = 0;
        const outcomes: ("done" | "cancelled")[] = [];
        // Users arriving at the same time queue in index order; the resizes change the total from another task.
        // A lost token would leave a user waiting forever: the timeout turns that into a failure.
        await asyncio.timeout(3600).with(() => new asyncio.TaskGroup().with(async (tg) => {
          prog.users.forEach((user, i) => {
            const task = tg.createTask(async () => {
              try {
                await asyncio.sleep(user.arrive);
                arrivals.push(i);
                await limiter.with(async () => {
                  inside++;
                  // Never more inside than the tokens handed out. A token is only handed out below the total, and the
                  // total never changes at a time a token is handed over: tokens change hands at whole seconds, or
                  // at a resize's time plus whole seconds, and each resize has a fraction of its own (see below).
                  assert.equal(inside <= limiter.borrowedTokens, true);
                  assert.equal(limiter.borrowedTokens <= limiter.totalTokens, true);
                  entered.push(i);
                  enteredAt.set(i, now());
                  try {
                    await asyncio.sleep(user.hold);
                  } finally {
                    inside--;
                  }
                });
                outcomes[i] = "done";
              } catch (error) {
                isInstance(error, asyncio.CancelledError);
                outcomes[i] = "cancelled";
                throw error;
              }
            });
            if (user.cancelAt !== null) {
              cancelLater(task, user.cancelAt);
            }
          });
          tg.createTask(async () => {
            let t = 0;
            // Resize k happens at `at` + 0.25 + k/100 s: no two resizes are a whole number of seconds apart, so a
            // lowered total never meets a token handed over at that very time (which the limiter rightly keeps).
            for (const [k, resize] of [...prog.resizes].sort((a, b) => a.at - b.at).entries()) {
              const when = resize.at + 0.25 + k / 100;
              await asyncio.sleep(when - t);
              t = when;
              limiter.totalTokens = resize.total;
            }
          });
        }));
        // Nothing lost: everyone not cancelled got in, every token came back, nobody is left waiting.
        prog.users.forEach((user, i) => {
          if (user.cancelAt === null) assert.equal(outcomes[i], "done");
        });
        for (const [i, outcome] of outcomes.entries()) if (outcome === "done") assert.equal(entered.includes(i), true);
        assert.deepEqual(limiter.statistics().borrowers, []);
        assert.equal(limiter.statistics().tasksWaiting, 0);
        assert.equal(inside, 0);
        // First come, first served: in the order of arrival, those who got in did so at times that never go back.
        const inArrivalOrder = arrivals.filter((i) => enteredAt.has(i)).map((i) => enteredAt.get(i)!);
        assert.deepEqual(inArrivalOrder, [...inArrivalOrder].sort((a, b) => a - b));
      }),
    ),
    { numRuns: 150 },
  );
});

test("property: with a fixed capacity, never more than totalTokens borrowers at once", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.boolean()), {
        minLength: 1,
        maxLength: 15,
      }),
      (total, users) =>
        asyncio.testing.run(async () => {
          const limiter = new asyncio.CapacityLimiter(total);
          let inside = 0;
          let most = 0;
          const tasks = users.map(([arrive, hold, cancel]) => {
            const task = asyncio.createTask(async () => {
              await asyncio.sleep(arrive);
              await limiter.with(async () => {
                inside++;
                most = Math.max(most, inside, limiter.borrowedTokens);
                try {
                  await asyncio.sleep(hold);
                } finally {
                  inside--;
                }
              });
            });
            if (cancel) asyncio.getRunningLoop().callLater(arrive + 0.5, () => task.cancel());
            return task;
          });
          await asyncio.waitFor(asyncio.gather(...tasks, { returnExceptions: true }), 3600);
          assert.equal(most <= total, true);
          assert.equal(limiter.borrowedTokens, 0);
          assert.equal(limiter.availableTokens, total);
        }),
    ),
    { numRuns: 150 },
  );
});

// ------------------------------------------------------------------ RateLimiter

describe("RateLimiter", () => {
  test("the bucket starts full: `burst` tokens are there at once", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 5, burst: 3 });
      for (let i = 0; i < 3; i++) await limiter.acquire();
      assert.equal(now(), 0);
      assert.equal(limiter.statistics().availableTokens, 0);
    }));

  test("burst defaults to rate, and period to one second", () => {
    const limiter = new asyncio.RateLimiter({ rate: 4 });
    assert.equal(limiter.rate, 4);
    assert.equal(limiter.period, 1);
    assert.equal(limiter.burst, 4);
    assert.deepEqual(limiter.statistics(), { availableTokens: 4, burst: 4, tasksWaiting: 0 });
  });

  test("once the bucket is empty, each token comes period/rate seconds after the previous one", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 2, period: 1, burst: 2 });
      const times: number[] = [];
      for (let i = 0; i < 6; i++) {
        await limiter.acquire();
        times.push(now());
      }
      assert.deepEqual(times, [0, 0, 0.5, 1, 1.5, 2]);
    }));

  test("the bucket refills continuously: half a period gives half of `rate`", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 10, period: 2 });
      await limiter.acquire(10);
      await asyncio.sleep(1);
      assert.equal(limiter.statistics().availableTokens, 5);
      await limiter.acquire(5);
      assert.equal(now(), 1);
    }));

  test("the bucket never holds more than `burst`, however long it sat idle", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1, burst: 2 });
      await limiter.acquire(2);
      await asyncio.sleep(3600);
      assert.equal(limiter.statistics().availableTokens, 2);
      await limiter.acquire(2);
      const start = now();
      await limiter.acquire();
      assert.equal(now() - start, 1);
    }));

  test("acquire(n) waits until n tokens are there", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 4, period: 1 });
      await limiter.acquire(4);
      await limiter.acquire(3);
      assert.equal(now(), 0.75);
    }));

  test("a fractional token count is allowed", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1, burst: 1 });
      await limiter.acquire(0.5);
      await limiter.acquire(0.5);
      await limiter.acquire(0.25);
      assert.equal(now(), 0.25);
    }));

  test("waiters are served first come, first served: a big request is not starved by small ones behind it", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1, burst: 4 });
      await limiter.acquire(4);
      const order: string[] = [];
      const big = asyncio.createTask(async () => {
        await limiter.acquire(4);
        order.push(`big@${now()}`);
      });
      await tick();
      const small = [1, 2, 3].map((i) =>
        asyncio.createTask(async () => {
          await limiter.acquire(1);
          order.push(`small${i}@${now()}`);
        }),
      );
      await asyncio.gather(big, ...small);
      assert.deepEqual(order, ["big@4", "small1@5", "small2@6", "small3@7"]);
    }));

  test("a new caller does not take tokens while others wait for them", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1, burst: 3 });
      await limiter.acquire(3);
      const big = asyncio.createTask(() => limiter.acquire(3));
      await asyncio.sleep(1.5); // 1.5 tokens in the bucket: enough for a small request, but `big` is first
      let smallAt = -1;
      await asyncio.createTask(async () => {
        await limiter.acquire(1);
        smallAt = now();
      });
      await big;
      assert.equal(smallAt, 4);
    }));

  test("a cancelled waiter takes no tokens and does not hold up those behind it", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1, burst: 5 });
      await limiter.acquire(5);
      const big = asyncio.createTask(() => limiter.acquire(5));
      await tick();
      let smallAt = -1;
      const small = asyncio.createTask(async () => {
        await limiter.acquire(1);
        smallAt = now();
      });
      await asyncio.sleep(0.5);
      big.cancel();
      await rejectsCancelled(big);
      await small;
      assert.equal(smallAt, 1);
      assert.equal(limiter.statistics().tasksWaiting, 0);
    }));

  test("tokens handed to a waiter cancelled before it ran go back into the bucket", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1, burst: 2 });
      await limiter.acquire(2);
      const waiter = asyncio.createTask(() => limiter.acquire(2));
      await tick(); // the waiter queues, and the limiter sets its timer for t = 2
      const loop = asyncio.getRunningLoop();
      // Cancelled at the very time its tokens are handed over (just after), before it can resume.
      loop.callAt(2, () => {
        assert.equal(limiter.statistics().availableTokens, 0);
        waiter.cancel();
      });
      await rejectsCancelled(waiter);
      assert.equal(now(), 2);
      assert.equal(limiter.statistics().availableTokens, 2);
      await limiter.acquire(2);
      assert.equal(now(), 2);
    }));

  test("with() takes one token, then resolves with the body's result", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1 });
      assert.equal(await limiter.with(() => "first"), "first");
      assert.equal(await limiter.with(async () => now()), 1);
    }));

  test("with() cancelled while waiting never runs the body", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1 });
      await limiter.acquire();
      let ran = false;
      const task = asyncio.createTask(() => limiter.with(() => (ran = true)));
      await asyncio.sleep(0.5);
      task.cancel();
      await rejectsCancelled(task);
      await asyncio.sleep(2);
      assert.equal(ran, false);
      assert.equal(limiter.statistics().availableTokens, 1);
    }));

  test("with() refuses a body that is not a function", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 1 });
      isInstance(await rejection(limiter.with(42 as unknown as () => void)), TypeError);
      assert.equal(limiter.statistics().availableTokens, 1);
    }));

  for (const [bad, cls] of [
    ["1", TypeError],
    [null, TypeError],
    [0, RangeError],
    [-1, RangeError],
    [Number.NaN, RangeError],
    [Infinity, RangeError],
    [2.5, RangeError],
  ] as const) {
    test(`acquire(${inspect(bad)}) on a bucket of 2 throws ${cls.name} naming tokens`, () =>
      asyncio.testing.run(async () => {
        const limiter = new asyncio.RateLimiter({ rate: 2 });
        assert.throws(() => limiter.acquire(bad as unknown as number), (e: unknown) => {
          isInstance(e, cls);
          assert.match(e.message, /`tokens`/);
          return true;
        });
        assert.equal(limiter.statistics().availableTokens, 2);
      }));
  }

  for (const option of ["rate", "period", "burst"] as const) {
    for (const [bad, cls] of [
      ["2", TypeError],
      [null, TypeError],
      [0, RangeError],
      [-3, RangeError],
      [Number.NaN, RangeError],
      [Infinity, RangeError],
    ] as const) {
      test(`RateLimiter({ ${option}: ${inspect(bad)} }) throws ${cls.name} naming ${option}`, () => {
        const options = { rate: 1, [option]: bad } as unknown as asyncio.RateLimiterOptions;
        assert.throws(() => new asyncio.RateLimiter(options), (e: unknown) => {
          isInstance(e, cls);
          assert.match(e.message, new RegExp(`\`${option}\``));
          return true;
        });
      });
    }
  }

  test("RateLimiter without options, or without a rate, is a TypeError", () => {
    assert.throws(() => new asyncio.RateLimiter(undefined as unknown as asyncio.RateLimiterOptions), /`options`/);
    assert.throws(() => new asyncio.RateLimiter({} as asyncio.RateLimiterOptions), TypeError);
    assert.throws(() => new asyncio.RateLimiter({} as asyncio.RateLimiterOptions), /`rate`/);
  });

  test("acquire() outside a running loop rejects with RuntimeError", async () => {
    const limiter = new asyncio.RateLimiter({ rate: 1 });
    isInstance(await rejection(limiter.acquire()), asyncio.RuntimeError);
  });

  test("a rate limiter keeps the clock of the loop it was first used on; another loop gets RuntimeError", async () => {
    const limiter = new asyncio.RateLimiter({ rate: 1, burst: 5 });
    await asyncio.testing.run(() => limiter.acquire());
    await asyncio.testing.run(async () => {
      const error = await rejection(limiter.acquire());
      isInstance(error, asyncio.RuntimeError);
      assert.match(error.message, /different event loop/);
    });
    assert.equal(limiter.statistics().availableTokens, 4);
  });

  test("util.inspect shows the tokens, the rate and the waiting calls", () =>
    asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 2, period: 60, burst: 1 });
      assert.equal(inspect(limiter), "RateLimiter [tokens: 1/1, rate: 2/60s]");
      await limiter.acquire();
      const waiter = asyncio.createTask(() => limiter.acquire());
      await tick();
      assert.equal(String(limiter), "RateLimiter [tokens: 0/1, rate: 2/60s, waiting: 1]");
      await waiter;
    }));

  test("600 requests at 10 a minute run through an hour of virtual time in milliseconds", async () => {
    const started = performance.now();
    const times = await asyncio.testing.run(async () => {
      const limiter = new asyncio.RateLimiter({ rate: 10, period: 60 });
      const served: number[] = [];
      await new asyncio.TaskGroup().with(async (tg) => {
        for (let i = 0; i < 600; i++) tg.createTask(() => limiter.with(() => served.push(now())));
      });
      return served;
    });
    assert.equal(times.length, 600);
    assert.deepEqual(times.slice(0, 11), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6]);
    assert.equal(Math.abs(times.at(-1)! - 3540) < 1e-6, true);
    assert.equal(performance.now() - started < 10_000, true);
  });
});

interface RateProgram {
  rate: number;
  period: number;
  burst: number;
  requests: { arrive: number; tokens: number; cancelAfter: Cancel | null }[];
}

const rateProgramArb: fc.Arbitrary<RateProgram> = fc
  .record({
    rate: fc.integer({ min: 1, max: 5 }),
    period: fc.constantFrom(0.5, 1, 3),
    burstExtra: fc.integer({ min: 0, max: 3 }),
    requests: fc.array(
      fc.record({
        arrive: fc.integer({ min: 0, max: 8 }),
        tokens: fc.integer({ min: 1, max: 3 }),
        cancelAfter: fc.option(cancelArb(4), { freq: 3 }),
      }),
      { minLength: 1, maxLength: 20 },
    ),
  })
  .map(({ rate, period, burstExtra, requests }) => ({ rate, period, burst: 3 + burstExtra, requests }));

test("property: a rate limiter never exceeds its rate, loses no request and serves first come first", async () => {
  await fc.assert(
    fc.asyncProperty(rateProgramArb, (prog) =>
      asyncio.testing.run(async () => {
        const limiter = new asyncio.RateLimiter({ rate: prog.rate, period: prog.period, burst: prog.burst });
        const grants: { at: number; tokens: number; index: number }[] = [];
        const arrivals: number[] = [];
        const outcome: string[] = [];
        const tasks = prog.requests.map((req, i) => {
          const task = asyncio.createTask(async () => {
            await asyncio.sleep(req.arrive);
            arrivals.push(i);
            await limiter.acquire(req.tokens);
            grants.push({ at: now(), tokens: req.tokens, index: i });
          });
          if (req.cancelAfter !== null) {
            cancelLater(task, { at: req.arrive + req.cancelAfter.at, ticks: req.cancelAfter.ticks });
          }
          return task;
        });
        const results = await asyncio.waitFor(asyncio.gather(...tasks, { returnExceptions: true }), 3600);
        results.forEach((result, i) => {
          if (result instanceof Error) {
            isInstance(result, asyncio.CancelledError);
            outcome[i] = "cancelled";
          } else outcome[i] = "served";
        });
        // Nothing lost: every request not cancelled was served.
        prog.requests.forEach((req, i) => {
          if (req.cancelAfter === null) assert.equal(outcome[i], "served");
        });
        // Never over the rate: in any window [a, b], at most burst + rate · (b − a) / period tokens (grants are in
        // time order).
        for (let i = 0; i < grants.length; i++) {
          let sum = 0;
          for (let j = i; j < grants.length; j++) {
            sum += grants[j]!.tokens;
            const allowed = prog.burst + (prog.rate * (grants[j]!.at - grants[i]!.at)) / prog.period;
            assert.equal(sum <= allowed + 1e-6, true, `${sum} tokens in [${grants[i]!.at}, ${grants[j]!.at}]`);
          }
        }
        // First come, first served: in the order of arrival, the served requests were served at times that never
        // go back.
        const servedAt = new Map(grants.map((g) => [g.index, g.at]));
        const inArrivalOrder = arrivals.filter((i) => servedAt.has(i)).map((i) => servedAt.get(i)!);
        assert.deepEqual(inArrivalOrder, [...inArrivalOrder].sort((a, b) => a - b));
        assert.equal(limiter.statistics().tasksWaiting, 0);
      }),
    ),
    { numRuns: 150 },
  );
});
