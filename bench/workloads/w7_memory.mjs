// W7 memory: 100,000 tasks all waiting on one Event; the RSS each waiting task costs, measured after a forced GC
// (the runner starts every child with --expose-gc). Until asyncio-ts has an Event, the tasks await one shared loop
// Future instead, which is what an Event's waiters come down to; the details say which one ran.
const N = 100_000;

function forceGc() {
  if (typeof globalThis.gc !== "function") throw new Error("W7 needs --expose-gc (bench/run.mjs passes it)");
  for (let i = 0; i < 3; i++) globalThis.gc();
}

function snapshot() {
  forceGc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

function report(before, after, extra) {
  return {
    value: (after.rss - before.rss) / N,
    heapBytesPerTask: (after.heap - before.heap) / N,
    ...extra,
  };
}

export default {
  id: "W7",
  title: "100,000 tasks waiting on one Event",
  unit: "B/task (RSS)",
  higherIsBetter: false,

  async ours(asyncio) {
    return asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const hasEvent = typeof asyncio.Event === "function";
      const event = hasEvent ? new asyncio.Event() : null;
      const future = hasEvent ? null : loop.createFuture();
      const waitOnce = hasEvent ? () => event.wait() : () => future;
      await asyncio.sleep(0);
      const before = snapshot();
      const tasks = new Array(N);
      for (let i = 0; i < N; i++) {
        tasks[i] = asyncio.createTask(async () => {
          await waitOnce();
        });
      }
      // Two turns of the loop: every task starts and suspends on the Event.
      await asyncio.sleep(0);
      await asyncio.sleep(0);
      const after = snapshot();
      if (hasEvent) event.set();
      else future.setResult(true);
      await asyncio.gather(...tasks);
      return report(before, after, { primitive: hasEvent ? "Event" : "Future" });
    });
  },

  async baseline() {
    let release;
    const shared = new Promise((resolve) => {
      release = resolve;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const before = snapshot();
    const all = new Array(N);
    for (let i = 0; i < N; i++) {
      all[i] = (async () => {
        await shared;
      })();
    }
    await new Promise((resolve) => setImmediate(resolve));
    const after = snapshot();
    release(true);
    await Promise.all(all);
    return report(before, after, {});
  },
};
