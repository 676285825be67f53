// W1 spawn: 100,000 tasks, each awaits one sleep(0) and returns its index; gather them all and check the sum.
const N = 100_000;
const EXPECTED = (N * (N - 1)) / 2;

function check(results) {
  let sum = 0;
  for (const x of results) sum += x;
  if (sum !== EXPECTED) throw new Error(`W1: sum is ${sum}, expected ${EXPECTED}`);
}

function report(ms) {
  return { value: (ms * 1000) / N, peakRssMB: process.resourceUsage().maxRSS / 1024 };
}

export default {
  id: "W1",
  title: "spawn 100,000 tasks, sleep(0) each, gather",
  unit: "µs/task",
  higherIsBetter: false,

  async ours(asyncio) {
    const ms = await asyncio.run(async () => {
      const t0 = performance.now();
      const tasks = new Array(N);
      for (let i = 0; i < N; i++) {
        tasks[i] = asyncio.createTask(async () => {
          await asyncio.sleep(0);
          return i;
        });
      }
      check(await asyncio.gather(...tasks));
      return performance.now() - t0;
    });
    return report(ms);
  },

  async baseline() {
    const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    const promises = new Array(N);
    for (let i = 0; i < N; i++) {
      promises[i] = (async () => {
        await yieldOnce();
        return i;
      })();
    }
    check(await Promise.all(promises));
    return report(performance.now() - t0);
  },
};
