// W2 switch: 10 tasks, each doing 100,000 `await sleep(0)`, all at once; the cost of one yield to the loop.
const TASKS = 10;
const YIELDS = 100_000;

export default {
  id: "W2",
  title: "10 tasks × 100,000 sleep(0)",
  unit: "ns/yield",
  higherIsBetter: false,

  async ours(asyncio) {
    const ms = await asyncio.run(async () => {
      const worker = async () => {
        for (let i = 0; i < YIELDS; i++) await asyncio.sleep(0);
      };
      const t0 = performance.now();
      const tasks = [];
      for (let t = 0; t < TASKS; t++) tasks.push(asyncio.createTask(worker));
      await asyncio.gather(...tasks);
      return performance.now() - t0;
    });
    return (ms * 1e6) / (TASKS * YIELDS);
  },

  async baseline() {
    const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));
    const worker = async () => {
      for (let i = 0; i < YIELDS; i++) await yieldOnce();
    };
    const t0 = performance.now();
    const all = [];
    for (let t = 0; t < TASKS; t++) all.push(worker());
    await Promise.all(all);
    return ((performance.now() - t0) * 1e6) / (TASKS * YIELDS);
  },
};
