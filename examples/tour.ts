/**
 * A walk through asyncio-ts: coroutine functions, the event loop, tasks, futures, sleep, gather, a TaskGroup,
 * a timeout and a cancellation. Run it with `npm start`; each section prints what happened and when.
 *
 * Times are printed as seconds since the section began, so you can see which waits overlapped.
 */
import * as asyncio from "asyncio-ts";

function section(title: string): void {
  console.log(`\n== ${title} ${"=".repeat(Math.max(0, 66 - title.length))}`);
}

/** A stopwatch: `clock()` gives the seconds since it was made, formatted for printing. */
function stopwatch(): () => string {
  const start = performance.now();
  return () => `${((performance.now() - start) / 1000).toFixed(2)}s`;
}

// 1. Coroutine functions -------------------------------------------------------------------------------------------
// In Python, `async def` makes a coroutine function; calling it gives a coroutine object that asyncio runs.
// Here an async function is the coroutine function, and asyncio-ts takes the function itself (a thunk), never a
// promise that already started: `run(main)`, `createTask(() => work(1))`.

async function sayAfter(delay: number, what: string, clock: () => string): Promise<string> {
  await asyncio.sleep(delay);
  console.log(`  [${clock()}] ${what}`);
  return what;
}

async function coroutines(): Promise<void> {
  section("1. Coroutine functions, awaited one after the other");
  const clock = stopwatch();
  await sayAfter(0.5, "hello", clock);
  await sayAfter(0.5, "world", clock);
  console.log(`  [${clock()}] two awaits in a row take their sum: about 1 s`);
}

// 2. The event loop ------------------------------------------------------------------------------------------------

async function eventLoop(): Promise<void> {
  section("2. The event loop: run() and loop.runUntilComplete()");
  // `run(main)` makes a loop, runs `main` as its main task, cancels what is left, and closes the loop.
  const answer = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    console.log(`  inside run(): ${loop}, current task ${asyncio.currentTask()?.getName()}`);
    return 42;
  });
  console.log(`  run() returned ${answer}`);

  // The lower-level way, as `loop = asyncio.new_event_loop(); loop.run_until_complete(main())` in Python.
  const loop = asyncio.newEventLoop();
  try {
    const order: string[] = [];
    loop.callSoon(() => order.push("callSoon"));
    loop.callLater(0.05, () => order.push("callLater(0.05)"));
    const result = await loop.runUntilComplete(async () => {
      await asyncio.sleep(0.1);
      return `loop.time() is ${loop.time().toFixed(3)} s, callbacks ran in order: ${order.join(", ")}`;
    });
    console.log(`  runUntilComplete() returned: ${result}`);
  } finally {
    loop.close();
  }
  console.log(`  after close(): loop.isClosed() is ${loop.isClosed()}`);
}

// 3. Tasks ---------------------------------------------------------------------------------------------------------

async function tasks(): Promise<void> {
  section("3. Tasks run concurrently");
  const clock = stopwatch();
  const first = asyncio.createTask(() => sayAfter(1, "task one", clock), { name: "one" });
  const second = asyncio.createTask(() => sayAfter(1, "task two", clock), { name: "two" });
  const third = asyncio.createTask(() => sayAfter(1, "task three", clock), { name: "three" });
  console.log(`  [${clock()}] started ${first.getName()}, ${second.getName()}, ${third.getName()}: ${first}`);
  await first;
  await second;
  await third;
  console.log(`  [${clock()}] three 1-second sleeps finished in about 1 second, not 3`);
}

// 4. Futures -------------------------------------------------------------------------------------------------------

async function futures(): Promise<void> {
  section("4. Futures: a result set later, by someone else");
  const clock = stopwatch();
  const loop = asyncio.getRunningLoop();
  const future = loop.createFuture<string>();
  loop.callLater(0.3, () => future.setResult("set by a callback 0.3 s later"));
  console.log(`  [${clock()}] ${future} done=${future.done()}`);
  const value = await future;
  console.log(`  [${clock()}] awaited: "${value}"; ${future} result()=${JSON.stringify(future.result())}`);
}

// 5. gather --------------------------------------------------------------------------------------------------------

async function gathering(): Promise<void> {
  section("5. gather(): run several awaitables, results in argument order");
  const clock = stopwatch();
  const results = await asyncio.gather(
    () => sayAfter(1, "gathered A (1 s)", clock),
    () => sayAfter(0.5, "gathered B (0.5 s)", clock),
    asyncio.sleep(1, "C: a sleep with a result"),
  );
  console.log(`  [${clock()}] results ${JSON.stringify(results)}: the longest wait, about 1 s in all`);
}

// 6. TaskGroup -----------------------------------------------------------------------------------------------------

async function taskGroup(): Promise<void> {
  section("6. TaskGroup: structured concurrency (async with -> .with())");
  let clock = stopwatch();
  await new asyncio.TaskGroup().with(async (tg) => {
    tg.createTask(() => sayAfter(1, "group task 1", clock));
    tg.createTask(() => sayAfter(1, "group task 2", clock));
    tg.createTask(() => sayAfter(1, "group task 3", clock));
  });
  console.log(`  [${clock()}] the group waited for all three: about 1 s`);

  clock = stopwatch();
  try {
    await new asyncio.TaskGroup().with(async (tg) => {
      tg.createTask(async () => {
        try {
          await asyncio.sleep(10);
        } catch (error) {
          console.log(`  [${clock()}] the slow task got ${(error as Error).name} when its sibling failed`);
          throw error;
        }
      });
      tg.createTask(async () => {
        await asyncio.sleep(0.2);
        throw new RangeError("bad input");
      });
    });
  } catch (error) {
    if (!(error instanceof asyncio.ExceptionGroup)) throw error;
    const names = error.exceptions.map((e) => `${(e as Error).name}: ${(e as Error).message}`);
    console.log(`  [${clock()}] ${error.name} "${error.message}" with [${names.join(", ")}]`);
  }
}

// 7. Timeouts ------------------------------------------------------------------------------------------------------

async function timeouts(): Promise<void> {
  section("7. Timeouts: timeout().with() and waitFor()");
  const clock = stopwatch();
  try {
    await asyncio.timeout(0.3).with(async (t) => {
      console.log(`  [${clock()}] inside timeout(0.3), deadline at loop time ${t.when()?.toFixed(3)}`);
      await asyncio.sleep(10);
    });
  } catch (error) {
    if (!(error instanceof asyncio.TimeoutError)) throw error;
    console.log(`  [${clock()}] the 10 s sleep was cut short: ${error.name}`);
  }

  try {
    await asyncio.waitFor(() => sayAfter(10, "never printed", clock), 0.3);
  } catch (error) {
    if (!(error instanceof asyncio.TimeoutError)) throw error;
    console.log(`  [${clock()}] waitFor(..., 0.3) gave up too: ${error.name}`);
  }
}

// 8. Cancellation --------------------------------------------------------------------------------------------------

async function cancellation(): Promise<void> {
  section("8. Cancellation: CancelledError at the await; task.signal");
  const clock = stopwatch();
  const worker = asyncio.createTask(async () => {
    const task = asyncio.currentTask()!;
    task.signal.addEventListener("abort", () => console.log(`  [${clock()}] signal aborted: hand it to fetch(), fs, timers`));
    try {
      console.log(`  [${clock()}] worker sleeps for an hour`);
      await asyncio.sleep(3600);
    } catch (error) {
      console.log(`  [${clock()}] worker got ${(error as Error).name}("${(error as Error).message}") at its await`);
      throw error; // let the cancellation through, as in Python
    } finally {
      console.log(`  [${clock()}] worker's finally block runs: clean up here`);
    }
  });
  await asyncio.sleep(0.2);
  worker.cancel("shutting down");
  try {
    await worker;
  } catch (error) {
    if (!(error instanceof asyncio.CancelledError)) throw error;
  }
  console.log(`  [${clock()}] worker.cancelled() is ${worker.cancelled()}`);

  // shield(): cancelling the waiter does not cancel the shielded work.
  const inner = asyncio.createTask(() => sayAfter(0.3, "shielded work finished anyway", clock));
  const waiter = asyncio.createTask(() => asyncio.shield(inner));
  await asyncio.sleep(0.1);
  waiter.cancel();
  await inner;
  console.log(`  [${clock()}] waiter.cancelled() is ${waiter.cancelled()}, inner.cancelled() is ${inner.cancelled()}`);
}

async function signalsAndUsing(): Promise<void> {
  section("9. AbortSignal in, await using out");
  const clock = stopwatch();

  // An AbortSignal from plain JavaScript cancels one operation, not the task awaiting it.
  const request = new AbortController();
  setTimeout(() => request.abort(new Error("the client went away")), 100);
  try {
    await asyncio.sleep(10, undefined, { signal: request.signal });
  } catch (error) {
    const task = asyncio.currentTask()!;
    console.log(`  [${clock()}] sleep: ${String(error)}; this task's cancelling() is still ${task.cancelling()}`);
  }

  // A lock guard: released at the end of the block, however the block ends.
  const lock = new asyncio.Lock();
  {
    using held = await lock.acquireGuard();
    console.log(`  [${clock()}] inside the block: lock.locked() is ${lock.locked()} (guard held: ${held.held})`);
  }
  console.log(`  [${clock()}] after the block: lock.locked() is ${lock.locked()}`);

  // A server closed and waited for when the block ends.
  {
    await using server = await asyncio.startServer((_reader, writer) => writer.close(), "127.0.0.1", 0);
    console.log(`  [${clock()}] server.isServing() is ${server.isServing()}`);
  }
  console.log(`  [${clock()}] the server was closed by await using`);
}

// ------------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const clock = stopwatch();
  await tasks();
  await futures();
  await gathering();
  await taskGroup();
  await timeouts();
  await cancellation();
  await signalsAndUsing();
  section("Done");
  console.log(`  the tour's tasks took ${clock()} in all`);
}

// run() is the entry point, as asyncio.run(main()) in Python; it is never called from inside a running loop.
await asyncio.run(coroutines);
await eventLoop();
await asyncio.run(main);
