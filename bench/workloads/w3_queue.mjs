// W3 queue: one producer puts 1,000,000 ints into a Queue(100), one consumer gets them; the cost of one item.
const ITEMS = 1_000_000;
const MAXSIZE = 100;
const EXPECTED = (ITEMS * (ITEMS - 1)) / 2;

function check(sum) {
  if (sum !== EXPECTED) throw new Error(`W3: consumer summed ${sum}, expected ${EXPECTED}`);
}

/** The baseline: a minimal bounded queue over a ring buffer, with promise waiters, awaited on every put and get. */
class RawQueue {
  constructor(maxsize) {
    this.maxsize = maxsize;
    this.buf = new Array(maxsize);
    this.head = 0;
    this.size = 0;
    this.getters = [];
    this.putters = [];
  }

  async put(item) {
    while (this.size === this.maxsize) await new Promise((resolve) => this.putters.push(resolve));
    this.buf[(this.head + this.size) % this.maxsize] = item;
    this.size++;
    if (this.getters.length > 0) this.getters.shift()();
  }

  async get() {
    while (this.size === 0) await new Promise((resolve) => this.getters.push(resolve));
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.maxsize;
    this.size--;
    if (this.putters.length > 0) this.putters.shift()();
    return item;
  }
}

export default {
  id: "W3",
  title: "bounded queue, 1,000,000 items",
  unit: "ns/item",
  higherIsBetter: false,

  async ours(asyncio) {
    const { ms, sum } = await asyncio.run(async () => {
      const q = new asyncio.Queue(MAXSIZE);
      const t0 = performance.now();
      const producer = asyncio.createTask(async () => {
        for (let i = 0; i < ITEMS; i++) await q.put(i);
      });
      const consumer = asyncio.createTask(async () => {
        let s = 0;
        for (let i = 0; i < ITEMS; i++) s += await q.get();
        return s;
      });
      const [, s] = await asyncio.gather(producer, consumer);
      return { ms: performance.now() - t0, sum: s };
    });
    check(sum);
    return (ms * 1e6) / ITEMS;
  },

  async baseline() {
    const q = new RawQueue(MAXSIZE);
    const t0 = performance.now();
    const producer = (async () => {
      for (let i = 0; i < ITEMS; i++) await q.put(i);
    })();
    const consumer = (async () => {
      let s = 0;
      for (let i = 0; i < ITEMS; i++) s += await q.get();
      return s;
    })();
    const [, sum] = await Promise.all([producer, consumer]);
    const ms = performance.now() - t0;
    check(sum);
    return (ms * 1e6) / ITEMS;
  },
};
