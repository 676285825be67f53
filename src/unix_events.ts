/**
 * Signal handlers on the event loop: `loop.addSignalHandler(sig, cb, ...args)` and `loop.removeSignalHandler(sig)`.
 *
 * How these methods reach `EventLoop` without touching the kernel: this module merges their declarations into
 * the `EventLoop` interface (`declare module "./events.js"`) and assigns the implementations to
 * `EventLoop.prototype`. Importing the package (`src/index.ts`) imports this module, so every loop has them.
 * The executors (`executors.ts`) and subprocess (`base_subprocess.ts`) methods are added the same way.
 *
 * How a signal reaches a callback: each handler is one `process.on(name)` listener. Node calls it from its own
 * event loop; the listener only schedules `cb(...args)` on the asyncio loop (`callSoonThreadsafe`), so the
 * callback runs in a loop iteration like any other, with errors going to the loop's exception handler. As
 * Python does with `set_wakeup_fd`, the listener stays installed while the loop is stopped; callbacks then wait
 * for the loop to run again. Closing the loop removes every handler it installed.
 * @module
 */
import { process } from "./_internal/node.js";
import { type Callback, EventLoop } from "./events.js";
import { RuntimeError } from "./exceptions.js";
import { type ResolvedSignal, type SignalLike, resolveSignal } from "./_internal/processes/signals.js";

export type { SignalLike } from "./_internal/processes/signals.js";

declare module "./events.js" {
  interface EventLoop {
    /**
     * Calls `callback(...args)` on the loop whenever the process receives `sig` (a name such as `"SIGTERM"` or a
     * number), replacing the loop's earlier handler for that signal. While a handler is installed, Node's default
     * action for the signal (ending the process, for SIGINT and SIGTERM) does not happen.
     *
     * @throws {TypeError} `sig` is neither a name nor an integer, or `callback` is not a function or is an async
     *   function (as Python refuses coroutines: start a task from a plain callback instead).
     * @throws {RangeError} `sig` is not a signal of this platform.
     * @throws {RuntimeError} the loop is closed, or the signal cannot be caught (SIGKILL, SIGSTOP, and the fault
     *   signals SIGSEGV, SIGBUS, SIGFPE, SIGILL that Node cannot hand to JavaScript safely).
     */
    addSignalHandler<A extends unknown[]>(sig: SignalLike, callback: Callback<A>, ...args: A): void;
    /**
     * Removes the loop's handler for `sig`; returns false when it had none. The signal's default action comes back
     * once no other listener remains. Same `TypeError`/`RangeError` as `addSignalHandler` for a bad `sig`.
     */
    removeSignalHandler(sig: SignalLike): boolean;
  }
}

/** One installed handler: the process listener, and the callback it schedules. */
interface SignalEntry {
  readonly signal: ResolvedSignal;
  readonly callback: Callback;
  readonly listener: () => void;
}

// Keyed by signal number, so "SIGHUP" and 1 name the same handler, as Python keys by number.
const handlersByLoop = new WeakMap<EventLoop, Map<number, SignalEntry>>();

/** Signals Node either refuses to watch or cannot deliver to JavaScript safely. */
const UNCATCHABLE = new Set(["SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL"]);

function isAsyncFunction(fn: unknown): boolean {
  const tag = Object.prototype.toString.call(fn);
  return tag === "[object AsyncFunction]" || tag === "[object AsyncGeneratorFunction]";
}

function loopHandlers(loop: EventLoop, create: boolean): Map<number, SignalEntry> | undefined {
  let map = handlersByLoop.get(loop);
  if (map === undefined && create) {
    map = new Map();
    handlersByLoop.set(loop, map);
    loop._closeHooks.push(removeAllHandlers);
  }
  return map;
}

function removeAllHandlers(loop: EventLoop): void {
  const map = handlersByLoop.get(loop);
  if (map === undefined) return;
  for (const entry of map.values()) process.removeListener(entry.signal.name, entry.listener);
  map.clear();
}

EventLoop.prototype.addSignalHandler = function addSignalHandler<A extends unknown[]>(
  this: EventLoop,
  sig: SignalLike,
  callback: Callback<A>,
  ...args: A
): void {
  if (typeof callback !== "function") {
    throw new TypeError(`addSignalHandler: expected \`callback\` to be a function, got ${callback === null ? "null" : typeof callback}`);
  }
  if (isAsyncFunction(callback)) {
    throw new TypeError(
      "addSignalHandler: coroutine functions cannot be signal handlers; pass a plain function that starts a task, " +
        "such as `() => { createTask(onSignal); }`",
    );
  }
  const signal = resolveSignal(sig, "addSignalHandler");
  this._checkClosed();
  if (UNCATCHABLE.has(signal.name)) throw new RuntimeError(`sig ${signal.name} cannot be caught`);

  const map = loopHandlers(this, true)!;
  const previous = map.get(signal.number);
  const listener = (): void => {
    if (!this.isClosed()) this.callSoonThreadsafe(callback as Callback, ...args);
  };
  // Install the new listener before dropping the old one, so the signal never meets an empty listener list
  // (which would let its default action, such as ending the process, happen in between).
  process.on(signal.name, listener);
  if (previous !== undefined) process.removeListener(previous.signal.name, previous.listener);
  map.set(signal.number, { signal, callback: callback as Callback, listener });
};

EventLoop.prototype.removeSignalHandler = function removeSignalHandler(this: EventLoop, sig: SignalLike): boolean {
  const signal = resolveSignal(sig, "removeSignalHandler");
  const map = loopHandlers(this, false);
  const entry = map?.get(signal.number);
  if (map === undefined || entry === undefined) return false;
  map.delete(signal.number);
  process.removeListener(entry.signal.name, entry.listener);
  return true;
};

/** @internal The callback the loop runs for `sig`, or null: lets the runner remove only its own SIGINT handler. */
export function _signalHandlerCallback(loop: EventLoop, sig: SignalLike): Callback | null {
  const signal = resolveSignal(sig, "_signalHandlerCallback");
  return handlersByLoop.get(loop)?.get(signal.number)?.callback ?? null;
}
