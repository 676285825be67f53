/**
 * The program every executor worker runs, as JavaScript source: a worker thread evaluates it (`eval: true`), a
 * worker process gets it with `-e`. Plain JavaScript that runs as a script or as a module, so it needs no loader.
 *
 * Protocol, one job at a time per worker, in the order sent:
 * - in:  `{ jobId, kind: "source", source, args }` or `{ jobId, kind: "module", url, exportName, args }`; a job
 *   sent to a thread while its previous one runs also has `claim` (see `drain` below).
 * - out: `{ jobId, ok: true, value }` or `{ jobId, ok: false, error }`, where `error` is what `describeError` makes:
 *   `{ thrown: true, value }` for a thrown non-Error, else `{ className, name, message, stack, props, cause?, errors? }`.
 * - the initializer, when the pool has one, comes first: `{ init: true, kind, source | url, exportName, args }`. Jobs
 *   wait for it to end; if it fails the worker answers `{ initError: error }` once and runs no job.
 */
export const WORKER_SOURCE = String.raw`"use strict";
// Valid as CommonJS and as a module: a worker thread inherits the parent's flags, and with --input-type=module
// its evaluated source is a module, where require does not exist.
(async () => {
const cjs = typeof require === "function";
const threads = cjs ? require("node:worker_threads") : await import("node:worker_threads");
const inThread = !threads.isMainThread;
const port = inThread ? threads.parentPort : process;
const send = inThread ? (m) => threads.parentPort.postMessage(m) : (m) => process.send(m);

// Compilers that keep function names (esbuild's keepNames, which tsx turns on) wrap nested functions and
// classes in __name(...); a function sent as source may carry such calls, so give them something to call.
if (typeof globalThis.__name !== "function") {
  globalThis.__name = (target, value) => {
    try { Object.defineProperty(target, "name", { value, configurable: true }); } catch {}
    return target;
  };
}
// Functions sent as source see the globals only; give them require for synchronous access to node: modules.
if (typeof globalThis.require !== "function") {
  globalThis.require = cjs ? require : (await import("node:module")).createRequire(process.cwd() + "/");
}

const compiled = new Map();
function compile(source) {
  const cached = compiled.get(source);
  if (cached !== undefined) return cached;
  let fn;
  try {
    fn = (0, eval)("(" + source + "\n)");
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    // A method in shorthand form (name(x) { ... }) is only valid inside an object literal.
    let holder;
    try { holder = (0, eval)("({" + source + "\n})"); } catch { throw error; }
    fn = holder[Object.keys(holder)[0]];
  }
  if (typeof fn !== "function") throw new TypeError("the source sent to the worker does not evaluate to a function");
  if (compiled.size >= 256) compiled.delete(compiled.keys().next().value);
  compiled.set(source, fn);
  return fn;
}

async function loadExport(url, exportName) {
  const mod = await import(url);
  const fn = mod[exportName];
  if (typeof fn !== "function") {
    throw new TypeError("export " + JSON.stringify(exportName) + " of " + url + " is not a function (got " + typeof fn + ")");
  }
  return fn;
}

function cloneable(value) {
  try { structuredClone(value); return true; } catch { return false; }
}

function describeError(error, depth) {
  const isErrorLike = error instanceof Error ||
    (error !== null && typeof error === "object" && typeof error.message === "string" && typeof error.stack === "string");
  if (!isErrorLike) return { thrown: true, value: cloneable(error) ? error : String(error) };
  const props = {};
  for (const key of Object.keys(error)) {
    if (key === "name" || key === "message" || key === "stack" || key === "cause" || key === "errors") continue;
    if (cloneable(error[key])) props[key] = error[key];
  }
  const ctor = error.constructor;
  const out = {
    className: typeof ctor === "function" && ctor.name ? ctor.name : "Error",
    name: String(error.name),
    message: String(error.message),
    stack: typeof error.stack === "string" ? error.stack : "",
    props,
  };
  if (depth < 8 && "cause" in error) out.cause = describeError(error.cause, depth + 1);
  if (depth < 8 && Array.isArray(error.errors)) out.errors = error.errors.map((e) => describeError(e, depth + 1));
  return out;
}

// The initializer's run (a promise), once the pool sent one; jobs wait for it. Set when it failed.
let initializing = null;
let initFailed = false;
async function initialize(message) {
  try {
    const fn = message.kind === "module" ? await loadExport(message.url, message.exportName) : compile(message.source);
    await fn(...message.args);
  } catch (error) {
    initFailed = true;
    send({ initError: describeError(error, 0) });
  }
}

async function handle(message) {
  if (message === null || typeof message !== "object") return;
  if (message.init === true) {
    initializing = initialize(message);
    return;
  }
  if (typeof message.jobId !== "number") return;
  if (initializing !== null) {
    await initializing;
    if (initFailed) return;
  }
  const jobId = message.jobId;
  let reply;
  try {
    const fn = message.kind === "module" ? await loadExport(message.url, message.exportName) : compile(message.source);
    reply = { jobId, ok: true, value: await fn(...message.args) };
  } catch (error) {
    reply = { jobId, ok: false, error: describeError(error, 0) };
  }
  try {
    send(reply);
  } catch (error) {
    // The result cannot be copied to the caller (a function, a class instance with private state, ...).
    send({ jobId, ok: false, error: describeError(error, 0) });
  }
}

// Jobs run one at a time, in the order they came. The pool may send a thread its next job while the current one
// runs, with a token t (the message's claim field) that it also stores in a shared cell. The thread starts that job
// by swapping t for 0 in the cell. When the cell holds -t, the pool took the job back first (to give it to another
// worker, or because it was cancelled while it waited here): the thread drops it and sets the cell to 0. Anything
// else there belongs to a later job, sent once the pool let this one go: the thread runs it.
const claimCell = inThread && threads.workerData !== null && typeof threads.workerData === "object" && threads.workerData.claim
  ? new Int32Array(threads.workerData.claim)
  : null;
const inbox = [];
let draining = false;
async function drain() {
  draining = true;
  try {
    while (inbox.length > 0) {
      const message = inbox.shift();
      if (message !== null && typeof message === "object" && typeof message.claim === "number" && claimCell !== null &&
          Atomics.compareExchange(claimCell, 0, message.claim, 0) === -message.claim) {
        Atomics.compareExchange(claimCell, 0, -message.claim, 0);
        continue;
      }
      await handle(message);
    }
  } finally {
    draining = false;
  }
}

port.on("message", (message) => {
  inbox.push(message);
  if (!draining) drain();
});
if (!inThread) process.on("disconnect", () => process.exit(0));
})();
`;
