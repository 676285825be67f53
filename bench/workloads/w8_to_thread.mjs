// W8 toThread: 100,000 calls of a trivial function on a pool of worker threads, all in flight at once, against
// piscina with the same number of threads; the cost of one call (and calls per second in the details).
import { availableParallelism } from "node:os";

const N = 100_000;
const WORKERS = Math.max(2, availableParallelism());
const WARMUP = 2_000;
const EXPECTED = (N * (N + 1)) / 2;

function check(results) {
  let sum = 0;
  for (const x of results) sum += x;
  if (sum !== EXPECTED) throw new Error(`W8: sum is ${sum}, expected ${EXPECTED}`);
}

function report(ms) {
  return { value: (ms * 1000) / N, callsPerSecond: (N * 1000) / ms, workers: WORKERS };
}

const addOne = (x) => x + 1;

export default {
  id: "W8",
  title: "100,000 toThread calls of a trivial function (baseline: piscina)",
  unit: "µs/call",
  higherIsBetter: false,

  async ours(asyncio) {
    const executor = new asyncio.ThreadPoolExecutor({ maxWorkers: WORKERS, minWorkers: WORKERS });
    try {
      const ms = await asyncio.run(async () => {
        asyncio.getRunningLoop().setDefaultExecutor(executor);
        const warm = [];
        for (let i = 0; i < WARMUP; i++) warm.push(asyncio.toThread(addOne, i));
        await Promise.all(warm);
        const t0 = performance.now();
        const calls = new Array(N);
        for (let i = 0; i < N; i++) calls[i] = asyncio.toThread(addOne, i);
        check(await Promise.all(calls));
        return performance.now() - t0;
      });
      return report(ms);
    } finally {
      await executor.shutdown();
    }
  },

  async baseline() {
    const { Piscina } = await import("piscina");
    const pool = new Piscina({
      filename: new URL("../workers/trivial.mjs", import.meta.url).href,
      minThreads: WORKERS,
      maxThreads: WORKERS,
    });
    try {
      const warm = [];
      for (let i = 0; i < WARMUP; i++) warm.push(pool.run(i));
      await Promise.all(warm);
      const t0 = performance.now();
      const calls = new Array(N);
      for (let i = 0; i < N; i++) calls[i] = pool.run(i);
      check(await Promise.all(calls));
      return report(performance.now() - t0);
    } finally {
      await pool.destroy();
    }
  },
};
