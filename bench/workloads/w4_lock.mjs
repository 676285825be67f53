// W4 lock: 1,000 tasks each acquire and release one Lock 100 times, with one sleep(0) while holding it.
const TASKS = 1_000;
const ROUNDS = 100;

function check(count, maxHolders) {
  if (count !== TASKS * ROUNDS) throw new Error(`W4: ${count} acquisitions, expected ${TASKS * ROUNDS}`);
  if (maxHolders !== 1) throw new Error(`W4: ${maxHolders} tasks held the lock at once`);
}

/** The baseline: a minimal FIFO mutex with promise waiters; release hands the lock straight to the next waiter. */
class RawMutex {
  constructor() {
    this.locked = false;
    this.waiters = [];
    this.head = 0;
  }

  acquire() {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release() {
    if (this.head < this.waiters.length) {
      const next = this.waiters[this.head];
      this.waiters[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.head);
        this.head = 0;
      }
      next();
    } else {
      this.locked = false;
    }
  }
}

export default {
  id: "W4",
  title: "lock contention, 1,000 tasks × 100 acquisitions",
  unit: "µs/acquire",
  higherIsBetter: false,

  async ours(asyncio) {
    const { ms, count, maxHolders } = await asyncio.run(async () => {
      const lock = new asyncio.Lock();
      let count = 0;
      let holders = 0;
      let maxHolders = 0;
      const worker = async () => {
        for (let r = 0; r < ROUNDS; r++) {
          await lock.acquire();
          try {
            holders++;
            if (holders > maxHolders) maxHolders = holders;
            count++;
            await asyncio.sleep(0);
            holders--;
          } finally {
            lock.release();
          }
        }
      };
      const t0 = performance.now();
      const tasks = [];
      for (let t = 0; t < TASKS; t++) tasks.push(asyncio.createTask(worker));
      await asyncio.gather(...tasks);
      return { ms: performance.now() - t0, count, maxHolders };
    });
    check(count, maxHolders);
    return (ms * 1e3) / (TASKS * ROUNDS);
  },

  async baseline() {
    const mutex = new RawMutex();
    const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));
    let count = 0;
    let holders = 0;
    let maxHolders = 0;
    const worker = async () => {
      for (let r = 0; r < ROUNDS; r++) {
        await mutex.acquire();
        try {
          holders++;
          if (holders > maxHolders) maxHolders = holders;
          count++;
          await yieldOnce();
          holders--;
        } finally {
          mutex.release();
        }
      }
    };
    const t0 = performance.now();
    const all = [];
    for (let t = 0; t < TASKS; t++) all.push(worker());
    await Promise.all(all);
    const ms = performance.now() - t0;
    check(count, maxHolders);
    return (ms * 1e3) / (TASKS * ROUNDS);
  },
};
