/**
 * Keeping the event loop responsive while CPU-bound work runs: `toThread`, a `ThreadPoolExecutor`, a
 * `ProcessPoolExecutor`, and cancelling a job that would run for too long.
 *
 * Run it with `npm run example examples/cpu_offload.ts`. A heartbeat task prints a dot every 100 ms; it keeps
 * printing while the workers are busy, which it could not do if the work ran on the loop's thread.
 */
import { availableParallelism } from "node:os";
import * as asyncio from "asyncio-ts";

/**
 * Counts the primes in [from, to). It is sent to a worker as its source text, so it uses nothing from this module:
 * only its arguments and globals.
 */
function countPrimes(from: number, to: number): number {
  let count = 0;
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

async function heartbeat(): Promise<never> {
  for (;;) {
    await asyncio.sleep(0.1);
    process.stdout.write(".");
  }
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await work();
  console.log(`\n${label}: ${String(result)} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return result;
}

async function main(): Promise<void> {
  const beat = asyncio.createTask(heartbeat);
  const limit = 3_000_000;

  // 1. One call off the loop, on the loop's default executor (worker threads).
  await timed("toThread, one worker", () => asyncio.toThread(countPrimes, 0, limit));

  // 2. The same work split into slices, run in parallel on a pool of threads.
  const workers = Math.max(2, availableParallelism());
  const slices = Array.from({ length: workers * 2 }, (_, i) => [Math.floor((limit * i) / (workers * 2)), Math.floor((limit * (i + 1)) / (workers * 2))] as const);
  await new asyncio.ThreadPoolExecutor({ maxWorkers: workers }).with((pool) =>
    timed(`ThreadPoolExecutor, ${workers} workers`, async () => {
      const loop = asyncio.getRunningLoop();
      const counts = await asyncio.gather(...slices.map(([a, b]) => loop.runInExecutor(pool, countPrimes, a, b)));
      return counts.reduce((x, y) => x + y, 0);
    }),
  );

  // 3. Child processes instead of threads: the same API, separate memory.
  await new asyncio.ProcessPoolExecutor({ maxWorkers: workers }).with((pool) =>
    timed(`ProcessPoolExecutor, ${workers} processes`, async () => {
      const loop = asyncio.getRunningLoop();
      const counts = await asyncio.gather(...slices.map(([a, b]) => loop.runInExecutor(pool, countPrimes, a, b)));
      return counts.reduce((x, y) => x + y, 0);
    }),
  );

  // 4. A job that takes too long: the timeout cancels the waiting task, and with cancel: "terminate" the worker
  //    running the job is ended too (by default it would run on to its end, as a Python thread does).
  await new asyncio.ThreadPoolExecutor({ maxWorkers: 1, cancel: "terminate" }).with(async (pool) => {
    const loop = asyncio.getRunningLoop();
    try {
      await asyncio.timeout(0.3).with(() => loop.runInExecutor(pool, countPrimes, 0, 1e12));
    } catch (error) {
      if (!(error instanceof asyncio.TimeoutError)) throw error;
      console.log("\ncounting to 1e12 was cut short after 0.3 s; its worker was ended");
    }
    console.log(`the pool started a new worker for the next job: ${await loop.runInExecutor(pool, countPrimes, 0, 100)} primes below 100`);
  });

  beat.cancel();
}

await asyncio.run(main);
