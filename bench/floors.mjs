// What the asyncio model costs at least on Node: bare-JavaScript models of a task, each adding one thing that a task
// of ours needs to the raw baseline of a workload, measured the way that workload measures. They contain no code of
// the package; they show which targets a design with those needs can reach at all.
//
//   node bench/floors.mjs [W1|W5|W6|W7 ...]     (every model in a child process of its own, with --expose-gc;
//                                               BENCH_RUNS runs each, 5 by default, the models taken in turn)
//
// The needs, as the kernel has them (src/tasks.ts, src/events.ts):
// - own promise: each waiter has a promise of its own, settled through its resolving functions, so that waiters
//   resume one step each, in the ready queue's order (one shared promise resumes them all in one checkpoint);
// - frame: each task runs inside an AsyncLocalStorage frame of its own, which is how `currentTask()` is right after
//   any `await`, including an `await` of a promise the package never saw;
// - task object: something `cancel()` can reach, told by a `then` on the body's promise that the body ended;
// - step end: a microtask per step start and two per resumption, to learn that a step is over before the next one
//   starts (CPython runs one step at a time);
// - ready queue (W1, W6): resumptions go through a queue that one `setImmediate` drains per turn.
// Each model is kept as lean as the kernel is (no closure per resume, the data handed to a waiting read), so that a
// target the model misses is one no implementation with those needs can meet.
import { AsyncLocalStorage } from "node:async_hooks";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const N = 100_000;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const als = new AsyncLocalStorage();

function forceGc() {
  for (let i = 0; i < 3; i++) globalThis.gc();
}

function memory() {
  forceGc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A stand-in for a Task: about as many fields as ours (a Task takes 120 B of heap, this 136 B), and the two methods its body's promise calls. */
class TaskModel {
  constructor(fn) {
    this.fn = fn;
    this.state = 0;
    this.result = undefined;
    this.callbacks = null;
    this.waiter = null;
    this.name = null;
    this.loop = null;
    this.next = null;
    this.prev = null;
    this.cancels = 0;
    this.mustCancel = false;
    this.scope = null;
    this.ended = null;
  }
  done(value) {
    this.state = 1;
    this.result = value;
  }
  failed(error) {
    this.state = 2;
    this.result = error;
  }
}

function bodyDone(value) {
  als.getStore().done(value);
}

function bodyFailed(error) {
  als.getStore().failed(error);
}

/**
 * Starts `fn` as a modelled task: its own frame, a task object, a `then` on the body's promise. The frame is entered
 * with `enterWith`, which makes one copy of the context per task (`run` makes one more when it leaves, on Node 24);
 * the caller restores its own frame afterwards (`inOwnFrame`).
 */
function startTask(fn) {
  const task = new TaskModel(fn);
  als.enterWith(task);
  task.ended = fn().then(bodyDone, bodyFailed);
  return task;
}

/** Runs `body` and restores the caller's frame afterwards, however many frames `body` entered. */
function inOwnFrame(body) {
  return als.run(undefined, body);
}

// ------------------------------------------------------------------ W7: memory per waiting task

const W7 = {
  unit: "B/task (RSS; heap)",
  models: {
    "raw: the workload's baseline (one shared promise)": async () => {
      const r = await (await workload("w7_memory")).baseline();
      return { value: r.value, heap: r.heapBytesPerTask };
    },
    "+ own promise per waiter": async () => {
      const waiters = [];
      const wait = () => new Promise((resolve) => waiters.push(resolve));
      return waitingMemory(
        () => (async () => void (await wait()))(),
        () => waiters.forEach((resolve) => resolve()),
      );
    },
    "+ own promise, frame per task": async () => {
      const waiters = [];
      const wait = () => new Promise((resolve) => waiters.push(resolve));
      return waitingMemory(
        () => {
          als.enterWith({});
          return (async () => void (await wait()))();
        },
        () => waiters.forEach((resolve) => resolve()),
      );
    },
    "+ own promise, frame, task object with a then on its body": async () => {
      const waiters = [];
      const wait = () => new Promise((resolve) => waiters.push(resolve));
      return waitingMemory(
        () => startTask(async () => void (await wait())),
        () => waiters.forEach((resolve) => resolve()),
      );
    },
    "asyncio-ts: the workload itself (tasks waiting on an Event)": async () => {
      const r = await (await workload("w7_memory")).ours(await asyncio());
      return { value: r.value, heap: r.heapBytesPerTask };
    },
  },
};

async function waitingMemory(start, release) {
  await nextTurn();
  const before = memory();
  const all = new Array(N);
  inOwnFrame(() => {
    for (let i = 0; i < N; i++) all[i] = start();
  });
  await nextTurn();
  const after = memory();
  release();
  await nextTurn();
  return { value: (after.rss - before.rss) / N, heap: (after.heap - before.heap) / N };
}

// ------------------------------------------------------------------ W1: spawn

/**
 * W1's shape: N functions started at once, each yields once through `setImmediate` and returns its index. `start`
 * returns the function's promise, or a modelled task, whose end is awaited.
 */
async function spawnTime(start) {
  const t0 = performance.now();
  const all = new Array(N);
  inOwnFrame(() => {
    for (let i = 0; i < N; i++) all[i] = start(i);
  });
  const tasks = all[0] instanceof TaskModel;
  const results = await Promise.all(tasks ? all.map((t) => t.ended) : all);
  const last = tasks ? all[N - 1].result : results[N - 1];
  if (last !== N - 1) throw new Error("W1 model: wrong results");
  return { value: ((performance.now() - t0) * 1000) / N };
}

const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A yield as ours is: the resume goes on a ready queue that one `setImmediate` drains per turn (the raw baseline
 * pays a `setImmediate` per yield); with `checks`, each resume is followed by that many step-end checks.
 */
function queuedYield(checks) {
  let ready = [];
  const drain = () => {
    const batch = ready;
    ready = [];
    for (const resume of batch) {
      resume();
      if (checks > 0) stepEnd(checks);
    }
  };
  return () =>
    new Promise((resolve) => {
      if (ready.length === 0) setImmediate(drain);
      ready.push(resolve);
    });
}

/** Resolves once the step end of a modelled task was checked (`checks` microtasks, as the driver would). */
function stepEnd(checks) {
  let p = SETTLED;
  for (let i = 0; i < checks; i++) p = p.then(noop);
  return p;
}
const SETTLED = Promise.resolve();
const noop = () => {};

const W1 = {
  unit: "µs/task",
  models: {
    "raw: the workload's baseline": async () => (await workload("w1_spawn")).baseline(),
    "+ frame per task": () =>
      spawnTime((i) => {
        als.enterWith({});
        return (async () => {
          await yieldOnce();
          return i;
        })();
      }),
    "+ frame, task object with a then on its body": () =>
      spawnTime((i) =>
        startTask(async () => {
          await yieldOnce();
          return i;
        }),
      ),
    "+ frame, task object, yields through a ready queue": () => {
      const yieldQueued = queuedYield(0);
      return spawnTime((i) =>
        startTask(async () => {
          await yieldQueued();
          return i;
        }),
      );
    },
    "+ frame, task object, ready queue, step-end checks (1 at the start, 2 at the end)": () => {
      const yieldQueued = queuedYield(2);
      return spawnTime((i) => {
        const task = startTask(async () => {
          await yieldQueued();
          return i;
        });
        stepEnd(1);
        return task;
      });
    },
    "asyncio-ts: the workload itself": async () => (await workload("w1_spawn")).ours(await asyncio()),
  },
};

// ------------------------------------------------------------------ W5: timers

/** A sleep of `ms` through a `setTimeout` of its own, as the raw baseline sleeps. */
const sleepTimeout = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sleeps through one binary heap of deadlines with one Node timer armed for the earliest, as the loop keeps its
 * timers (a `setTimeout` per sleep costs more than a heap entry).
 */
function heapSleeper() {
  const keys = [];
  const fns = [];
  let armed = null;
  let armedAt = Infinity;
  const swap = (a, b) => {
    [keys[a], keys[b]] = [keys[b], keys[a]];
    [fns[a], fns[b]] = [fns[b], fns[a]];
  };
  const push = (when, fn) => {
    let i = keys.push(when) - 1;
    fns.push(fn);
    while (i > 0 && keys[(i - 1) >> 1] > keys[i]) {
      swap(i, (i - 1) >> 1);
      i = (i - 1) >> 1;
    }
  };
  const pop = () => {
    const fn = fns[0];
    const last = keys.length - 1;
    swap(0, last);
    keys.pop();
    fns.pop();
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < keys.length && keys[l] < keys[m]) m = l;
      if (r < keys.length && keys[r] < keys[m]) m = r;
      if (m === i) break;
      swap(i, m);
      i = m;
    }
    return fn;
  };
  const arm = (when) => {
    if (armed !== null) clearTimeout(armed);
    armedAt = when;
    armed = setTimeout(fire, Math.max(1, Math.ceil(when - performance.now())));
  };
  const fire = () => {
    armed = null;
    armedAt = Infinity;
    const now = performance.now();
    while (keys.length > 0 && keys[0] <= now) pop()();
    if (keys.length > 0) arm(keys[0]);
  };
  return (ms) =>
    new Promise((resolve) => {
      const when = performance.now() + ms;
      push(when, resolve);
      if (when < armedAt) arm(when);
    });
}

/**
 * W5's shape: N functions started at once, each sleeps its delay of the workload (`sleep(ms)`, a `setTimeout` each
 * unless told otherwise, as the raw baseline does); the figure is the wall time over one second. `start(i, body)`
 * starts function `i`, whose body is `body(i, checks)`.
 */
async function timersOverhead(start, sleep = sleepTimeout) {
  const { delays, SEED } = await import("./workloads/w5_timers.mjs");
  const d = delays(SEED);
  const lateness = new Float64Array(N);
  // The baseline's body: sleep, and note how late it woke; then `checks` step-end checks, if any.
  const sleepNoting = async (i, checks = 0) => {
    const ms = d[i] * 1000;
    const deadline = performance.now() + ms;
    await sleep(ms);
    lateness[i] = (performance.now() - deadline) / 1000;
    if (checks > 0) stepEnd(checks);
  };
  const t0 = performance.now();
  const all = new Array(N);
  inOwnFrame(() => {
    for (let i = 0; i < N; i++) all[i] = start(i, sleepNoting);
  });
  await Promise.all(all[0] instanceof TaskModel ? all.map((t) => t.ended) : all);
  return { value: performance.now() - t0 - 1000 };
}

const W5 = {
  unit: "ms over 1 s",
  models: {
    "raw: the workload's baseline": async () => (await workload("w5_timers")).baseline(),
    "+ frame per task": () =>
      timersOverhead((i, sleep) => {
        als.enterWith({});
        return sleep(i);
      }),
    "+ frame, task object with a then on its body": () => timersOverhead((i, sleep) => startTask(() => sleep(i))),
    "+ frame, task object, step-end checks (1 at the start, 2 at the end)": () =>
      timersOverhead((i, sleep) => {
        const task = startTask(() => sleep(i, 2));
        stepEnd(1);
        return task;
      }),
    "+ frame, task object, step-end checks, one timer heap instead of a setTimeout each": () =>
      timersOverhead((i, sleep) => {
        const task = startTask(() => sleep(i, 2));
        stepEnd(1);
        return task;
      }, heapSleeper()),
    "asyncio-ts: the workload itself": async () => (await workload("w5_timers")).ours(await asyncio()),
  },
};

// ------------------------------------------------------------------ W6: echo, streams

/**
 * An echo server whose handler is written as a streams handler is (`for (;;) { data = await read(); write(data);
 * await drain() }`), over a bare `node:net` socket. `wake(resume)` is how a read waiting for data is resumed
 * once the data event came; `frame` runs each handler in an AsyncLocalStorage frame of its own.
 */
async function streamsShapedServer({ frame = false, wake = (resume, value) => resume(value) } = {}) {
  const { measure } = await import("./workloads/w6_echo.mjs");
  const net = await import("node:net");
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on("error", () => {});
    const chunks = [];
    let ended = false;
    let resumeRead = null;
    // A read waiting gets the data (or null at the end) as its promise's value; otherwise the data is buffered.
    const deliver = (value) => {
      const resume = resumeRead;
      resumeRead = null;
      wake(resume, value);
    };
    sock.on("data", (chunk) => {
      if (resumeRead !== null) deliver(chunk);
      else chunks.push(chunk);
    });
    sock.on("end", () => {
      ended = true;
      if (resumeRead !== null) deliver(null);
    });
    const read = () => {
      if (chunks.length > 0) return Promise.resolve(chunks.shift());
      if (ended) return Promise.resolve(null);
      return new Promise((resolve) => (resumeRead = resolve));
    };
    const drain = () => (sock.writableNeedDrain ? new Promise((resolve) => sock.once("drain", resolve)) : SETTLED);
    const handler = async () => {
      for (;;) {
        const data = await read();
        if (data === null) break;
        sock.write(data);
        await drain();
      }
      sock.end();
    };
    if (frame) als.run({}, handler);
    else handler();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const r = await measure(server.address().port);
  server.close();
  return { value: r.rtPerSec, cpu: r.cpuUsPerRt, mb64: r.mbPerSec, cpu64: r.cpuUsPerRt64K };
}

/**
 * A ready queue run once per batch of events, from `setImmediate`, as a loop iteration is: resumes go through it, one
 * at a time, each followed by `stepChecks` microtasks before the next (the step-end checks).
 */
function readyQueue({ stepChecks = 0 } = {}) {
  let ready = []; // resume, value, resume, value, ...
  let batch = [];
  let i = 0;
  let scheduled = false;
  const next = () => {
    while (i < batch.length) {
      const resume = batch[i];
      const value = batch[i + 1];
      i += 2;
      resume(value);
      if (stepChecks > 0) {
        let p = SETTLED;
        for (let k = 1; k < stepChecks; k++) p = p.then(noop);
        p.then(next);
        return;
      }
    }
  };
  const iterate = () => {
    scheduled = false;
    batch = ready;
    ready = [];
    i = 0;
    next();
  };
  return (resume, value) => {
    ready.push(resume, value);
    if (!scheduled) {
      scheduled = true;
      setImmediate(iterate);
    }
  };
}

const W6 = {
  unit: "round trips/s at 1 KiB; the server's CPU µs per round trip; mb64/cpu64: MB/s and CPU µs per round trip at 64 KiB",
  higherIsBetter: true,
  models: {
    "raw: the workload's baseline (on data → write)": async () => {
      const r = await (await workload("w6_echo")).baseline();
      return { value: r.value, cpu: r.rawCpuUsPerRt, mb64: r.rawMBps64K, cpu64: r.rawCpuUsPerRt64K };
    },
    "streams-shaped handler: await read(), write, await drain()": () => streamsShapedServer(),
    "+ frame per connection": () => streamsShapedServer({ frame: true }),
    "+ frame, resumes through a ready queue run from setImmediate": () => streamsShapedServer({ frame: true, wake: readyQueue() }),
    "+ frame, ready queue, step-end checks (two per resumption)": () =>
      streamsShapedServer({ frame: true, wake: readyQueue({ stepChecks: 2 }) }),
    "asyncio-ts: the workload's streams server": async () => {
      const r = await (await workload("w6_echo")).ours(await asyncio());
      return {
        value: r.value,
        cpu: r.streamsCpuUsPerRt,
        mb64: r.streamsMBps64K,
        cpu64: r.streamsCpuUsPerRt64K,
        protocols: r.protocolsRtPerSec,
        protocolsCpu: r.protocolsCpuUsPerRt,
        protocolsMb64: r.protocolsMBps64K,
      };
    },
  },
};

// ------------------------------------------------------------------ the runner

async function workload(name) {
  return (await import(`./workloads/${name}.mjs`)).default;
}

async function asyncio() {
  return import("../dist/index.js");
}

const WORKLOADS = { W1, W5, W6, W7 };

async function runChild(id, name) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["child", id, name], { execArgv: ["--expose-gc"] });
    let result = null;
    child.on("message", (m) => (result = m));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`${id} "${name}" exited with ${code}`))));
  });
}

function format(x) {
  return x < 100 ? x.toFixed(2) : x.toFixed(0);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

if (process.argv[2] === "child") {
  const [, , , id, name] = process.argv;
  process.send(await WORKLOADS[id].models[name]());
  process.disconnect();
} else {
  const ids = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(WORKLOADS);
  console.log(`Node ${process.version}, median of ${RUNS} runs per model, taken in turn; in brackets the lowest and highest ratio of one round`);
  for (const id of ids) {
    const w = WORKLOADS[id];
    if (w === undefined) throw new Error(`no floors for ${id}; known: ${Object.keys(WORKLOADS).join(", ")}`);
    console.log(`\n${id} (${w.unit})`);
    // Round robin over the models, so that a change of the machine's load touches all of them alike.
    const names = Object.keys(w.models);
    const runsOf = new Map(names.map((name) => [name, []]));
    for (let i = 0; i < RUNS; i++) for (const name of names) runsOf.get(name).push(await runChild(id, name));
    const rawRuns = runsOf.get(names[0]);
    const ratioOf = (value, rawValue) => (w.higherIsBetter ? rawValue / value : value / rawValue);
    for (const name of names) {
      const runs = runsOf.get(name);
      const value = median(runs.map((r) => r.value));
      const ratio = ratioOf(value, median(rawRuns.map((r) => r.value)));
      // The spread: each run against the raw run of the same round, so that a verdict never rests on one draw.
      const perRound = runs.map((r, i) => ratioOf(r.value, rawRuns[i].value));
      const spread = `${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}`;
      const extras = Object.keys(runs[0])
        .filter((k) => k !== "value")
        .map((k) => `  ${k} ${format(median(runs.map((r) => r[k])))}`)
        .join("");
      console.log(`  ${name.padEnd(72)} ${format(value).padStart(7)}  ${ratio.toFixed(2)}x (${spread})${extras}`);
    }
  }
}
