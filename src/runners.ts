/**
 * Runners: `run(main)` and `Runner`, the entry points that create a loop, run a main task on it, and clean up.
 * @module
 */
import { process } from "./_internal/node.js";
import "./_internal/dispose.js";
import { runningLoopOrNull } from "./_internal/kernel/context.js";
import { CancelledError, KeyboardInterrupt, RuntimeError } from "./exceptions.js";
import { type EventLoop, newEventLoop, setEventLoop } from "./events.js";
import { type Task, _checkCoroutineFunction } from "./tasks.js";
import { gather } from "./waiting.js";
import { _signalHandlerCallback } from "./unix_events.js";
import { checkSignal } from "./_internal/abort.js";
import { checkOptions } from "./_internal/validate.js";
import type { ContextRunner } from "./events.js";

/** Options of `run` and `Runner`. */
export interface RunnerOptions {
  /** Debug mode for the loop (default: on when the environment variable `ASYNCIO_DEBUG=1`). */
  debug?: boolean;
  /** Makes the loop (default: `newEventLoop()`, also set as the current loop while the runner lives). */
  loopFactory?: () => EventLoop;
}

/** Options of `run`: those of `Runner`, and a `signal` for the main task. */
export interface RunOptions extends RunnerOptions {
  /** Aborting it cancels the main task as `task.cancel(msg)` would; already aborted, the body never runs. */
  signal?: AbortSignal | null;
}

/** Options of `Runner.run`. */
export interface RunnerRunOptions {
  /** Runs the task in this async context (`AsyncLocalStorage.snapshot()`). */
  context?: ContextRunner;
  /** Aborting it cancels the task as `task.cancel(msg)` would; already aborted, the body never runs. */
  signal?: AbortSignal | null;
}

/** Seconds `close()` waits for the default executor's running jobs (CPython's THREAD_JOIN_TIMEOUT). */
const EXECUTOR_JOIN_TIMEOUT = 300;

type RunnerState = "created" | "initialized" | "closed";

/**
 * Runs several coroutine functions on one loop: `await new Runner().with(async (r) => { await r.run(a); await r.run(b) })`.
 * `close()` cancels what is left, waits for it, shuts the default executor down and closes the loop.
 */
export class Runner {
  private state: RunnerState = "created";
  private loop: EventLoop | null = null;
  private setLoop = false;
  private interruptCount = 0;
  private readonly debug: boolean | undefined;
  private readonly loopFactory: (() => EventLoop) | undefined;

  constructor(options?: RunnerOptions | null) {
    options = checkOptions(options, "Runner") ?? {};
    if (options.loopFactory !== undefined && typeof options.loopFactory !== "function") {
      throw new TypeError(`Runner: expected \`loopFactory\` to be a function, got ${typeof options.loopFactory}`);
    }
    this.debug = options.debug;
    this.loopFactory = options.loopFactory;
  }

  /** The runner's loop, created on first use. `RuntimeError` once closed. */
  getLoop(): EventLoop {
    this.lazyInit();
    return this.loop!;
  }

  /**
   * Runs `fn` as a task on the runner's loop and returns its result. Ctrl-C (SIGINT) while it runs cancels the task,
   * and `run` then rejects with `KeyboardInterrupt`; a second Ctrl-C ends the process at once.
   * `RuntimeError` when called where a loop is already running.
   *
   * Cancellation: if the task is cancelled (not by Ctrl-C), `run` rejects with `CancelledError`.
   */
  run<T>(fn: () => PromiseLike<T> | T, options?: RunnerRunOptions | null): Promise<T> {
    const checked = checkOptions(options, "Runner.run") ?? {};
    const signal = checked.signal === undefined ? null : checkSignal(checked.signal, "Runner.run");
    return this.runTask(fn, checked.context, signal);
  }

  private async runTask<T>(fn: () => PromiseLike<T> | T, context: ContextRunner | undefined, signal: AbortSignal | null): Promise<T> {
    _checkCoroutineFunction(fn, "Runner.run");
    if (runningLoopOrNull() !== null) throw new RuntimeError("Runner.run() cannot be called from a running event loop");
    this.lazyInit();
    const loop = this.loop!;
    const taskOptions: { context?: ContextRunner; signal?: AbortSignal } = {};
    if (context) taskOptions.context = context;
    if (signal !== null) taskOptions.signal = signal;
    const task = loop.createTask(fn, taskOptions);
    const removeSigint = this.installSigint(task as Task<unknown>);
    this.interruptCount = 0;
    try {
      return await loop.runUntilComplete(task);
    } catch (error) {
      if (error instanceof CancelledError && this.interruptCount > 0 && task.uncancel() === 0) {
        throw new KeyboardInterrupt();
      }
      throw error;
    } finally {
      removeSigint();
    }
  }

  /** Cancels the tasks still pending and waits for them, shuts the default executor down, closes the loop. Idempotent. */
  async close(): Promise<void> {
    if (this.state !== "initialized") return;
    const loop = this.loop!;
    try {
      await cancelAllTasks(loop);
      // As CPython's runner: wait up to 300 s for executor jobs, then end the workers and report it.
      await loop.runUntilComplete(() => loop.shutdownDefaultExecutor(EXECUTOR_JOIN_TIMEOUT));
    } finally {
      if (this.setLoop) setEventLoop(null);
      loop.close();
      this.loop = null;
      this.state = "closed";
    }
  }

  /** `await using runner = new Runner()`: `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Runs `body(runner)` and closes the runner afterwards, whatever happens. */
  async with<R>(body: (runner: Runner) => PromiseLike<R> | R): Promise<R> {
    if (typeof body !== "function") throw new TypeError(`Runner.with: expected \`body\` to be a function, got ${typeof body}`);
    try {
      return await body(this);
    } finally {
      await this.close();
    }
  }

  private lazyInit(): void {
    if (this.state === "closed") throw new RuntimeError("Runner is closed");
    if (this.state === "initialized") return;
    if (this.loopFactory === undefined) {
      this.loop = newEventLoop();
      setEventLoop(this.loop);
      this.setLoop = true;
    } else {
      this.loop = this.loopFactory();
    }
    if (this.debug !== undefined) this.loop.setDebug(this.debug);
    this.state = "initialized";
  }

  /**
   * Ctrl-C cancels the main task once; the second one ends the process as Node's default action would. Built on
   * `loop.addSignalHandler`, so the handler runs as a loop callback. Installed only when nobody else listens for
   * SIGINT (as CPython only replaces the default handler), and removed afterwards only if it is still ours.
   */
  private installSigint(task: Task<unknown>): () => void {
    const loop = this.loop!;
    if (process.listenerCount("SIGINT") > 0) return () => {};
    const onSigint = (): void => {
      this.interruptCount++;
      if (this.interruptCount === 1 && !task.done()) {
        task.cancel();
        return;
      }
      // Hand the signal back to Node's default action, which ends the process at once.
      loop.removeSignalHandler("SIGINT");
      process.kill(process.pid, "SIGINT");
    };
    loop.addSignalHandler("SIGINT", onSigint);
    return () => {
      if (!loop.isClosed() && _signalHandlerCallback(loop, "SIGINT") === onSigint) loop.removeSignalHandler("SIGINT");
    };
  }
}

/** Cancels every pending task of `loop`, waits for all, and reports those that failed with something else. */
async function cancelAllTasks(loop: EventLoop): Promise<void> {
  const toCancel = Array.from(loop._tasks);
  if (toCancel.length === 0) return;
  for (const t of toCancel) t.cancel();
  await loop.runUntilComplete(gather(...toCancel, { returnExceptions: true }));
  for (const t of toCancel) {
    if (t.cancelled()) continue;
    const exception = t.exception();
    if (exception !== null) {
      loop.callExceptionHandler({ message: "unhandled exception during asyncio.run() shutdown", exception, task: t });
    }
  }
}

/**
 * Runs `main` as the main task of a new loop and returns its result; then cancels and awaits every task still
 * pending, shuts the default executor down and closes the loop. Ctrl-C cancels `main` and `run` rejects with
 * `KeyboardInterrupt`. `RuntimeError` when a loop already runs in this async context.
 */
export function run<T>(main: () => PromiseLike<T> | T, options?: RunOptions | null): Promise<T> {
  const checked = checkOptions(options, "run") ?? {};
  const signal = checked.signal === undefined ? null : checkSignal(checked.signal, "run");
  return runMain(main, checked, signal);
}

async function runMain<T>(main: () => PromiseLike<T> | T, options: RunnerOptions, signal: AbortSignal | null): Promise<T> {
  if (runningLoopOrNull() !== null) throw new RuntimeError("asyncio.run() cannot be called from a running event loop");
  _checkCoroutineFunction(main, "run");
  return new Runner(options).with((runner) => runner.run(main, signal === null ? undefined : { signal }));
}
