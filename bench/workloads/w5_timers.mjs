// W5 timers: 100,000 tasks each sleep a seeded uniform random time in [0, 1) s. Reports the wall time past 1 s
// (the overhead), how late the sleepers woke (mean, p99) and the share woken before their deadline.
// Ours measures with loop.time(), the clock its timers run on; the setTimeout baseline with performance.now().
const N = 100_000;

/** A small seeded generator (mulberry32), so both sides and every run sleep the same delays. */
/** The seed of the delays both sides sleep. */
export const SEED = 20240601;

export function delays(seed) {
  let a = seed >>> 0;
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

/** Lateness in seconds per sleeper (negative = woke early). */
function report(wallMs, lateness) {
  const sorted = Float64Array.from(lateness).sort();
  let sum = 0;
  let early = 0;
  for (const x of sorted) {
    sum += x;
    if (x < 0) early++;
  }
  return {
    value: wallMs - 1000,
    meanLateMs: (sum / N) * 1000,
    p99LateMs: sorted[Math.min(N - 1, Math.floor(N * 0.99))] * 1000,
    earlyShare: early / N,
  };
}

export default {
  id: "W5",
  title: "100,000 timers, sleep(U(0,1))",
  unit: "ms overhead",
  higherIsBetter: false,

  async ours(asyncio) {
    const d = delays(SEED);
    const lateness = new Float64Array(N);
    const wallMs = await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const t0 = performance.now();
      const tasks = new Array(N);
      for (let i = 0; i < N; i++) {
        tasks[i] = asyncio.createTask(async () => {
          const deadline = loop.time() + d[i];
          await asyncio.sleep(d[i]);
          lateness[i] = loop.time() - deadline;
        });
      }
      await asyncio.gather(...tasks);
      return performance.now() - t0;
    });
    return report(wallMs, lateness);
  },

  async baseline() {
    const d = delays(SEED);
    const lateness = new Float64Array(N);
    const t0 = performance.now();
    const all = new Array(N);
    for (let i = 0; i < N; i++) {
      all[i] = (async () => {
        const ms = d[i] * 1000;
        const deadline = performance.now() + ms;
        await new Promise((resolve) => setTimeout(resolve, ms));
        lateness[i] = (performance.now() - deadline) / 1000;
      })();
    }
    await Promise.all(all);
    return report(performance.now() - t0, lateness);
  },
};
