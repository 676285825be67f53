// retry(fn, options): attempts, exponential backoff with jitter, retryIf, a per-attempt timeout, cancellation.
// Every schedule runs on testing.VirtualEventLoop, so delays are checked exactly on the loop's clock.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import fc from "fast-check";
import * as asyncio from "../src/index.js";
import { isInstance, rejection } from "./helpers/expect.js";

function now(): number {
  return asyncio.getRunningLoop().time();
}

/** A function failing its first `failures` calls with `Error("fail <attempt>")`, recording when each call began. */
function flaky(failures: number, starts: number[] = []): (attempt: number) => Promise<string> {
  return async (attempt) => {
    starts.push(now());
    if (attempt <= failures) throw new Error(`fail ${attempt}`);
    return `ok ${attempt}`;
  };
}

describe("retry", () => {
  test("resolves with what fn returns on the first attempt, which is numbered 1", () =>
    asyncio.testing.run(async () => {
      const seen: number[] = [];
      const result = await asyncio.retry((attempt) => {
        seen.push(attempt);
        return "value";
      });
      assert.equal(result, "value");
      assert.deepEqual(seen, [1]);
      assert.equal(now(), 0);
    }));

  test("calls fn again after a failure, with the attempt number counting up", () =>
    asyncio.testing.run(async () => {
      const seen: number[] = [];
      const result = await asyncio.retry(
        async (attempt) => {
          seen.push(attempt);
          if (attempt < 3) throw new Error("not yet");
          return attempt * 10;
        },
        { attempts: 5 },
      );
      assert.equal(result, 30);
      assert.deepEqual(seen, [1, 2, 3]);
    }));

  test("the last attempt's error propagates once the attempts are used up", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      const error = await rejection(asyncio.retry(flaky(10, starts), { attempts: 4, jitter: false }));
      isInstance(error, Error);
      assert.equal(error.message, "fail 4");
      assert.equal(starts.length, 4);
    }));

  test("three attempts by default", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      isInstance(await rejection(asyncio.retry(flaky(10, starts))), Error);
      assert.equal(starts.length, 3);
    }));

  test("without jitter, the delays are 0.1 s then 0.2 s by default, and there is none after the last attempt", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      await rejection(asyncio.retry(flaky(10, starts), { jitter: false }));
      assert.deepEqual(starts, [0, 0.1, 0.1 + 0.2]);
      assert.equal(now(), 0.1 + 0.2);
    }));

  test("the delay before attempt n + 1 is initialDelay · factor^(n−1)", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      await asyncio.retry(flaky(4, starts), { attempts: 5, initialDelay: 1, factor: 3, maxDelay: 100, jitter: false });
      assert.deepEqual(starts, [0, 1, 4, 13, 40]);
    }));

  test("the delay is capped at maxDelay", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      await asyncio.retry(flaky(4, starts), { attempts: 5, initialDelay: 1, factor: 10, maxDelay: 5, jitter: false });
      assert.deepEqual(starts, [0, 1, 6, 11, 16]);
    }));

  test("maxDelay defaults to 10 seconds", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      await asyncio.retry(flaky(3, starts), { attempts: 4, initialDelay: 4, jitter: false });
      assert.deepEqual(starts, [0, 4, 12, 22]);
    }));

  test("a factor below 1 shrinks the delays, each still capped at maxDelay", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      await asyncio.retry(flaky(3, starts), { attempts: 4, initialDelay: 8, factor: 0.5, maxDelay: 6, jitter: false });
      assert.deepEqual(starts, [0, 6, 10, 12]);
    }));

  test("an initialDelay of 0 retries at once, without waiting", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      await asyncio.retry(flaky(5, starts), { attempts: 6, initialDelay: 0 });
      assert.deepEqual(starts, [0, 0, 0, 0, 0, 0]);
    }));

  test("with jitter (the default), each delay is drawn uniformly from [0, delay]", (t) =>
    asyncio.testing.run(async () => {
      const draws = [0.5, 0, 0.25];
      t.mock.method(Math, "random", () => draws.shift() ?? 1);
      const starts: number[] = [];
      await asyncio.retry(flaky(3, starts), { attempts: 4, initialDelay: 1 });
      // Delays 1, 2, 4 scaled by the draws 0.5, 0, 0.25.
      assert.deepEqual(starts, [0, 0.5, 0.5, 1.5]);
    }));

  test("with real randomness, every jittered delay lies within [0, delay]", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      await asyncio.retry(flaky(7, starts), { attempts: 8, initialDelay: 1, factor: 2, maxDelay: 16 });
      const delays = starts.slice(1).map((start, i) => start - starts[i]!);
      const caps = [1, 2, 4, 8, 16, 16, 16];
      delays.forEach((delay, i) => assert.equal(delay >= 0 && delay <= caps[i]!, true, `delay ${i}: ${delay}`));
    }));

  test("retryIf sees each error, and false stops the retries at once with that error", () =>
    asyncio.testing.run(async () => {
      const seen: unknown[] = [];
      const permanent = new TypeError("permanent");
      const error = await rejection(
        asyncio.retry(
          (attempt) => {
            throw attempt === 1 ? new Error("transient") : permanent;
          },
          {
            attempts: 5,
            retryIf: (e) => {
              seen.push(e);
              return !(e instanceof TypeError);
            },
          },
        ),
      );
      assert.equal(error, permanent);
      assert.equal(seen.length, 2);
      assert.equal((seen[0] as Error).message, "transient");
      assert.equal(seen[1], permanent);
    }));

  test("retryIf is not asked about the last attempt's error", () =>
    asyncio.testing.run(async () => {
      let asked = 0;
      await rejection(
        asyncio.retry(flaky(10), {
          attempts: 2,
          retryIf: () => {
            asked++;
            return true;
          },
        }),
      );
      assert.equal(asked, 1);
    }));

  test("an error thrown by retryIf propagates", () =>
    asyncio.testing.run(async () => {
      const broken = new Error("retryIf broke");
      const error = await rejection(
        asyncio.retry(flaky(10), {
          retryIf: () => {
            throw broken;
          },
        }),
      );
      assert.equal(error, broken);
    }));

  test("an attempt longer than attemptTimeout fails with TimeoutError, which retryIf sees", () =>
    asyncio.testing.run(async () => {
      const seen: unknown[] = [];
      const starts: number[] = [];
      const result = await asyncio.retry(
        async (attempt) => {
          starts.push(now());
          if (attempt === 1) await asyncio.sleep(3600);
          return "fast enough";
        },
        {
          attemptTimeout: 5,
          jitter: false,
          retryIf: (e) => {
            seen.push(e);
            return true;
          },
        },
      );
      assert.equal(result, "fast enough");
      assert.equal(seen.length, 1);
      isInstance(seen[0], asyncio.TimeoutError);
      assert.deepEqual(starts, [0, 5.1]);
    }));

  test("when every attempt times out, the last TimeoutError propagates", () =>
    asyncio.testing.run(async () => {
      let calls = 0;
      const error = await rejection(
        asyncio.retry(
          async () => {
            calls++;
            await asyncio.sleep(60);
          },
          { attempts: 3, attemptTimeout: 1, initialDelay: 0 },
        ),
      );
      isInstance(error, asyncio.TimeoutError);
      assert.equal(calls, 3);
      assert.equal(now(), 3);
    }));

  test("an attempt within attemptTimeout resolves as usual", () =>
    asyncio.testing.run(async () => {
      const value = await asyncio.retry(
        async () => {
          await asyncio.sleep(0.5);
          return 42;
        },
        { attemptTimeout: 1 },
      );
      assert.equal(value, 42);
      assert.equal(now(), 0.5);
    }));

  test("a CancelledError thrown by fn is never retried, even when retryIf says yes", () =>
    asyncio.testing.run(async () => {
      let calls = 0;
      const error = await rejection(
        asyncio.retry(
          () => {
            calls++;
            throw new asyncio.CancelledError("inner");
          },
          { attempts: 5, retryIf: () => true },
        ),
      );
      isInstance(error, asyncio.CancelledError);
      assert.equal(calls, 1);
    }));

  test("cancelling the calling task during a backoff sleep ends retry with CancelledError", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      const task = asyncio.createTask(() => asyncio.retry(flaky(10, starts), { attempts: 10, initialDelay: 60, maxDelay: 600, jitter: false }));
      await asyncio.sleep(30);
      task.cancel();
      isInstance(await rejection(task), asyncio.CancelledError);
      await asyncio.sleep(3600);
      assert.deepEqual(starts, [0]);
    }));

  test("cancelling the calling task during an attempt under attemptTimeout gives CancelledError, not TimeoutError", () =>
    asyncio.testing.run(async () => {
      let calls = 0;
      const task = asyncio.createTask(() =>
        asyncio.retry(
          async () => {
            calls++;
            await asyncio.sleep(10);
          },
          { attemptTimeout: 5 },
        ),
      );
      await asyncio.sleep(1);
      task.cancel();
      isInstance(await rejection(task), asyncio.CancelledError);
      assert.equal(calls, 1);
      assert.equal(task.cancelled(), true);
    }));

  test("fn runs in the calling task", () =>
    asyncio.testing.run(async () => {
      const caller = asyncio.currentTask();
      const tasks: unknown[] = [];
      await asyncio.retry(
        async (attempt) => {
          tasks.push(asyncio.currentTask());
          if (attempt < 2) throw new Error("again");
        },
        { attemptTimeout: 10 },
      );
      await asyncio.retry(async () => void tasks.push(asyncio.currentTask()));
      assert.deepEqual(tasks, [caller, caller, caller]);
    }));

  test("a synchronous fn that throws is retried like an async one", () =>
    asyncio.testing.run(async () => {
      const result = await asyncio.retry((attempt) => {
        if (attempt === 1) throw new Error("sync failure");
        return "sync value";
      });
      assert.equal(result, "sync value");
    }));

  test("attempts may be Infinity: fn is called until it succeeds", () =>
    asyncio.testing.run(async () => {
      const starts: number[] = [];
      assert.equal(await asyncio.retry(flaky(49, starts), { attempts: Infinity, initialDelay: 0 }), "ok 50");
      assert.equal(starts.length, 50);
    }));

  test("a backoff schedule of one hour runs on virtual time in milliseconds", async () => {
    const started = performance.now();
    const starts = await asyncio.testing.run(async () => {
      const starts: number[] = [];
      const result = await asyncio.retry(flaky(7, starts), {
        attempts: 8,
        initialDelay: 60,
        factor: 2,
        maxDelay: 900,
        jitter: false,
      });
      assert.equal(result, "ok 8");
      return starts;
    });
    // Delays 60, 120, 240, 480, then capped at 900 three times: 3600 s in all.
    assert.deepEqual(starts, [0, 60, 180, 420, 900, 1800, 2700, 3600]);
    assert.equal(performance.now() - started < 10_000, true); // generous: an hour must not take anything like it
  });
});

describe("retry's bad input", () => {
  test("fn that is not a function is a TypeError naming fn", async () => {
    const error = await rejection(asyncio.retry("nope" as unknown as () => void));
    isInstance(error, TypeError);
    assert.match(error.message, /`fn`/);
  });

  test("options that are not an object are a TypeError naming options", async () => {
    const error = await rejection(asyncio.retry(() => 1, 3 as unknown as asyncio.RetryOptions));
    isInstance(error, TypeError);
    assert.match(error.message, /`options`/);
  });

  const cases: [keyof asyncio.RetryOptions, unknown, typeof TypeError | typeof RangeError][] = [
    ["attempts", 0, RangeError],
    ["attempts", -1, RangeError],
    ["attempts", 1.5, RangeError],
    ["attempts", Number.NaN, RangeError],
    ["attempts", "3", TypeError],
    ["initialDelay", -0.1, RangeError],
    ["initialDelay", Number.NaN, RangeError],
    ["initialDelay", Infinity, RangeError],
    ["initialDelay", "1", TypeError],
    ["factor", 0, RangeError],
    ["factor", -2, RangeError],
    ["factor", Number.NaN, RangeError],
    ["factor", Infinity, RangeError],
    ["factor", null, TypeError],
    ["maxDelay", -1, RangeError],
    ["maxDelay", Number.NaN, RangeError],
    ["maxDelay", Infinity, RangeError],
    ["maxDelay", "10", TypeError],
    ["jitter", "yes", TypeError],
    ["jitter", 1, TypeError],
    ["retryIf", true, TypeError],
    ["retryIf", "e => true", TypeError],
    ["attemptTimeout", 0, RangeError],
    ["attemptTimeout", -5, RangeError],
    ["attemptTimeout", Number.NaN, RangeError],
    ["attemptTimeout", "5", TypeError],
  ];
  for (const [option, bad, cls] of cases) {
    test(`${option}: ${inspect(bad)} is a ${cls.name} naming ${option}, and fn is never called`, async () => {
      let called = false;
      const error = await rejection(
        asyncio.retry(
          () => {
            called = true;
          },
          { [option]: bad } as asyncio.RetryOptions,
        ),
      );
      isInstance(error, cls);
      assert.match(error.message, new RegExp(`\`${option}\``));
      assert.equal(called, false);
    });
  }

  test("attemptTimeout null, undefined or Infinity means no limit", () =>
    asyncio.testing.run(async () => {
      const slow = async () => {
        await asyncio.sleep(86400);
        return "done";
      };
      assert.equal(await asyncio.retry(slow, { attemptTimeout: null }), "done");
      assert.equal(await asyncio.retry(slow, { attemptTimeout: undefined }), "done");
      assert.equal(await asyncio.retry(slow, { attemptTimeout: Infinity }), "done");
      assert.equal(now(), 3 * 86400);
    }));
});

test("property: retry calls fn until it succeeds or the attempts run out, sleeping exactly the backoff between", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        failures: fc.nat({ max: 8 }),
        attempts: fc.integer({ min: 1, max: 8 }),
        initialDelay: fc.constantFrom(0, 0.5, 1, 3),
        factor: fc.constantFrom(0.5, 1, 2, 3),
        maxDelay: fc.constantFrom(0, 2, 10, 100),
        retryable: fc.nat({ max: 8 }), // errors from this attempt on are not retried
      }),
      (opts) =>
        asyncio.testing.run(async () => {
          const starts: number[] = [];
          const outcome = await asyncio
            .retry(
              async (attempt) => {
                starts.push(now());
                if (attempt <= opts.failures) throw new Error(String(attempt));
                return attempt;
              },
              {
                attempts: opts.attempts,
                initialDelay: opts.initialDelay,
                factor: opts.factor,
                maxDelay: opts.maxDelay,
                jitter: false,
                retryIf: (e) => Number((e as Error).message) < opts.retryable,
              },
            )
            .then(
              (value) => ({ value }),
              (error: unknown) => ({ error: Number((error as Error).message) }),
            );
          // The attempt that ends it: the first success, the first error not retried, or the last allowed one.
          let last = 1;
          while (last < opts.attempts && last <= opts.failures && last < opts.retryable) last++;
          assert.equal(starts.length, last);
          assert.deepEqual(outcome, last > opts.failures ? { value: last } : { error: last });
          // Each start is the previous one plus its delay.
          let expected = 0;
          starts.forEach((start, i) => {
            if (i > 0) expected += Math.min(opts.initialDelay * opts.factor ** (i - 1), opts.maxDelay);
            assert.equal(Math.abs(start - expected) < 1e-9, true, `attempt ${i + 1} at ${start}, expected ${expected}`);
          });
        }),
    ),
    { numRuns: 200 },
  );
});
