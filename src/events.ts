/**
 * The event loop: its own ready queue and timer heap, driven by Node's event loop.
 *
 * How the loop is driven:
 * - One iteration moves the due timers to the ready queue, then runs the items that were ready when it began, in
 *   FIFO order (those scheduled meanwhile wait for the next iteration, as in CPython).
 * - An item is a callback, or a task step: a task's start, or its resumption by a Future it awaited. A step runs
 *   from there until the task suspends on something not yet done, or its body ends. Nothing else of the loop runs
 *   meanwhile. The driver (`_drive`) learns that a step is over in one of two ways:
 *   - fast: the task suspended on one of our own awaitables (a Future, or a wait of our primitives) or its body
 *     ended, and the jobs the step queued have run (one or two microtasks after it began; see `_checkStepEnd`);
 *   - otherwise (a task awaiting a foreign promise, say): from a `process.nextTick` queued from a microtask, which
 *     Node runs exactly once the microtask queue is empty.
 *   Microtasks that plain callbacks released (a promise they resolved) drain before the next step starts.
 * - Iterations follow each other without a Node turn between them while work is ready, for at most
 *   `MAX_TURN_MS` of real time; then the next one waits for a `setImmediate`, so Node's I/O and timers are never
 *   held back longer than that (plus the iteration that crossed the bound).
 * - When nothing is ready and timers are pending, exactly one Node timer is armed for the earliest deadline. Node's
 *   timers can fire a little early by `performance.now()`, so a timer that fires early re-arms itself: a
 *   `TimerHandle` never runs before its `when()` by `loop.time()`.
 * @module
 */
import { AsyncResource, inspect, performance, process } from "./_internal/node.js";
import "./_internal/dispose.js";
import { Deque } from "./_internal/kernel/deque.js";
import { PendingList } from "./_internal/kernel/task_list.js";
import { TimerHeap } from "./_internal/kernel/timer_heap.js";
import { checkLoopContext, debugIteration, reportPendingTasks, reportSlowStep, runTimed } from "./_internal/tools/debug.js";
import {
  type Frame,
  RUN_DEFER,
  RUN_DONE,
  RUN_STEP,
  type RunResult,
  type Runnable,
  frameStorage,
  requireRunningLoop,
  runningLoopOrNull,
  runningLoops,
} from "./_internal/kernel/context.js";
import { type CancelledError, RuntimeError } from "./exceptions.js";
import type { Future, FutureState, _TaskWait } from "./futures.js";
import type { Task, TaskOptions } from "./tasks.js";
import { _newFuture, _resumeTaskWait, type _UnretrievedReport } from "./futures.js";
import { _NO_TASK_OPTIONS, _newTask, _ensureFutureOn } from "./tasks.js";
import { checkSeconds, checkOptions } from "./_internal/validate.js";

/** What a callback scheduled on the loop looks like. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
export type Callback<A extends unknown[] = any[]> = (...args: A) => unknown;

/** The context given to exception handlers; keys as in Python (`message`, `exception`, `future`, `task`, `handle`, ...). */
export interface ExceptionContext {
  message?: string;
  exception?: unknown;
  future?: Future<unknown>;
  task?: Task<unknown>;
  handle?: Handle;
  [key: string]: unknown;
}

/** `loop.setExceptionHandler(handler)`: called with the loop and a context whenever something fails unobserved. */
export type ExceptionHandler = (loop: EventLoop, context: ExceptionContext) => void;

/** `loop.setTaskFactory(factory)`: makes the Task for `loop.createTask(fn, options)`. */
export type TaskFactory = <T>(loop: EventLoop, coro: () => PromiseLike<T> | T, options: TaskOptions) => Task<T>;

/** A snapshot of async context, as returned by `AsyncLocalStorage.snapshot()`: runs `fn` inside it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
export type ContextRunner = <R>(fn: (...args: any[]) => R, ...args: any[]) => R;

let timerSequence = 0;

function describeCallback(cb: Callback, args: readonly unknown[]): string {
  const name = cb.name || "<anonymous>";
  const shown = args.map((a) => inspect(a, { depth: 0, breakLength: Infinity })).join(", ");
  return `${name}(${shown})`;
}

function checkCallback(cb: unknown, method: string): void {
  if (typeof cb !== "function") {
    throw new TypeError(`${method}: expected \`callback\` to be a function, got ${cb === null ? "null" : typeof cb}`);
  }
}

/** A callback scheduled with `callSoon`; `cancel()` keeps it from running. */
export class Handle {
  /** @internal */ _callback: Callback | null;
  /** @internal */ _args: unknown[];
  /** @internal */ _cancelled = false;
  /** @internal */ readonly _loop: EventLoop;

  /** @internal Use `loop.callSoon()`. */
  constructor(callback: Callback, args: unknown[], loop: EventLoop) {
    this._callback = callback;
    this._args = args;
    this._loop = loop;
  }

  /** Keeps the callback from running; does nothing when it already ran. */
  cancel(): void {
    if (!this._cancelled) {
      this._cancelled = true;
      this._callback = null;
      this._args = [];
    }
  }

  /** Whether `cancel()` was called. */
  cancelled(): boolean {
    return this._cancelled;
  }

  /** The loop this handle belongs to. */
  getLoop(): EventLoop {
    return this._loop;
  }

  /** @internal Runs the callback; an exception goes to the loop's exception handler, never up. */
  _run(): RunResult {
    const cb = this._callback;
    if (cb === null) return RUN_DONE;
    try {
      cb(...this._args);
    } catch (exception) {
      this._report(exception);
    }
    return RUN_DONE;
  }

  /** @internal What the callback threw goes to the loop's exception handler. */
  _report(exception: unknown): void {
    this._loop.callExceptionHandler({ message: `Exception in callback ${this.describe()}`, exception, handle: this });
  }

  /** @internal */
  describe(): string {
    return this._callback === null ? "<cancelled>" : describeCallback(this._callback, this._args);
  }

  toString(): string {
    return `<${this.constructor.name} ${this._cancelled ? "cancelled" : this.describe()}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** A callback scheduled for a time with `callLater`/`callAt`; ordered by `when()`, ties in scheduling order. */
export class TimerHandle extends Handle {
  /** @internal */ readonly _when: number;
  /** @internal Tie-breaker: timers with the same `when` run in the order they were scheduled. */
  readonly _seq: number = timerSequence++;
  /** @internal True while the handle sits in the loop's timer heap. */
  _scheduled = false;

  /** @internal Use `loop.callLater()` or `loop.callAt()`. */
  constructor(when: number, callback: Callback, args: unknown[], loop: EventLoop) {
    super(callback, args, loop);
    this._when = when;
  }

  /** The loop time (seconds) at which the callback is due. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (!this._cancelled) {
      super.cancel();
      if (this._scheduled) this._loop._timerHandleCancelled();
    }
  }

  override toString(): string {
    return `<TimerHandle when=${this._when.toFixed(3)} ${this._cancelled ? "cancelled" : this.describe()}>`;
  }
}

const NO_ARGS: unknown[] = [];

/** A timer the library schedules for itself (`loop._timerAt`): calls `fn(arg)`, without an argument array. */
class OneArgTimer extends TimerHandle {
  constructor(
    when: number,
    callback: Callback,
    private readonly _arg: unknown,
    loop: EventLoop,
  ) {
    super(when, callback, NO_ARGS, loop);
  }

  override _run(): RunResult {
    const cb = this._callback;
    if (cb === null) return RUN_DONE;
    try {
      cb(this._arg);
    } catch (exception) {
      this._report(exception);
    }
    return RUN_DONE;
  }

  /** @internal */
  override describe(): string {
    return this._callback === null ? "<cancelled>" : describeCallback(this._callback, [this._arg]);
  }
}

/** What a `_TaskSleep` would call as a timer; it never is (the sleep runs itself), but it names the timer in a listing. */
function wakeSleepingTask(): void {}

/**
 * @internal `sleep(delay > 0)` from a task outside any cancel scope, debug mode off: one object that is the timer, what
 * the task waits on, and the task's resumption. CPython's sleep makes a Future, a timer that sets it, and the task's
 * wakeup callback; this keeps their order of events: the timer fires in one iteration and the task resumes in the next,
 * as the Future's done callback would. `cancel(msg)` (from `task.cancel()`, which finds it as the task's `_futWaiter`,
 * or from `waitFor` and `gather` through `_linkCancel`) drops the timer and queues the resumption at once, which throws
 * `CancelledError(msg)`; a cancel once the timer fired is decided when the task resumes, as for any wakeup.
 */
export class _TaskSleep extends TimerHandle implements _TaskWait {
  // Invariants: while `_state` is "PENDING" the timer has not fired: it sits in the heap (`_scheduled`) or, due, in the
  // ready queue. Once it is "FINISHED" or "CANCELLED" the resumption is in the ready queue, until `_resolve` is null.
  // `_voidDue` is set when a cancel came while the due timer sat in the ready queue: that run does nothing.
  /** @internal */ _state: FutureState = "PENDING";
  /** @internal */ _resolve: ((value: unknown) => void) | null = null;
  /** @internal */ _reject: ((reason: unknown) => void) | null = null;
  /** @internal */ _voidDue = false;
  /** @internal Absent until a cancel with a message. */ declare _cancelMessage: string | undefined;

  constructor(
    readonly task: Task<unknown>,
    when: number,
    readonly value: unknown,
  ) {
    super(when, wakeSleepingTask, NO_ARGS, task._loop);
  }

  override _run(): RunResult {
    if (this._state === "PENDING") {
      // The timer fired: the task resumes in the next iteration, as a Future's done callback would.
      this._state = "FINISHED";
      this._loop._enqueue(this);
      return RUN_DONE;
    }
    if (this._voidDue) {
      this._voidDue = false;
      return RUN_DONE;
    }
    return _resumeTaskWait(this);
  }

  /** @internal */
  _finish(cancelled: CancelledError | null): void {
    if (cancelled !== null) this._reject!(cancelled);
    else this._resolve!(this.value);
    this._resolve = this._reject = null;
  }

  /** Cancels the sleep: false once the timer fired. */
  override cancel(msg?: string): boolean {
    if (this._state !== "PENDING") return false;
    this._state = "CANCELLED";
    if (msg !== undefined) this._cancelMessage = msg;
    this._cancelled = true;
    if (this._scheduled) this._loop._timerHandleCancelled();
    else this._voidDue = true;
    this._loop._enqueue(this);
    return true;
  }

  /** Shown as the Future CPython's sleep would have the task wait on. */
  override toString(): string {
    return `<Future ${this._state.toLowerCase()}>`;
  }
}

/** Node's timers hold at most this many milliseconds; longer waits are re-armed when they fire. */
const MAX_NODE_DELAY_MS = 2 ** 31 - 1;

/**
 * Real milliseconds for which iterations may follow each other without a Node turn between them. Node's I/O
 * callbacks and timers wait at most this long, plus the iteration that crosses it.
 */
const MAX_TURN_MS = 1;

/** The clock is read for `MAX_TURN_MS` once at least this many items ran since the last reading. */
const ITEMS_PER_CLOCK_READING = 16;

/** A settled promise: `then` on it queues a microtask. */
const SETTLED = Promise.resolve();

function isDebugEnv(): boolean {
  const v = process.env.ASYNCIO_DEBUG;
  return v !== undefined && v !== "" && v !== "0";
}

function defaultLog(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : text + "\n");
}

/** The event loop; `newEventLoop()` makes one, `run()` makes and closes one for you. */
export class EventLoop {
  // Invariants:
  // - `_ready` holds what runs in this iteration (its first `_todo` items) and the next; `_timers` holds
  //   TimerHandles with `_scheduled` set.
  // - `_inIteration` is true from the start of an iteration until its last item ran and its last step ended;
  //   meanwhile nothing queues another iteration (the end of this one decides what comes next).
  // - `_stepTask` is the task whose step runs (set when it starts, cleared once the step is over).
  // - `_stepParked` is cleared when a step begins (`_beginStep`) and set during it by the step's task suspending on
  //   our awaitable or ending. A `then` counts only once `_stepOwnCode` is false and only when given two functions:
  //   V8 calls `then` for `await future` from a job, after the code that awaited, with the two resolving functions of
  //   a promise; a `then` called by the task's own code (`future.then(cb)`, `Promise.race([future])`) does not prove
  //   that the task suspended. `_stepOwnCode` is true from the step's start until the body's first part returned (a
  //   start) or the driver's first check ran (a resumption, whose code runs in the microtask before). What is left:
  //   the task's own `then(a, b)` (or `Promise.race`) after that window, followed by more microtasks before it
  //   suspends, lets the next step begin early (docs/python-differences.md says so).
  // - `_dirty`: a plain callback ran since the microtask queue last drained; no step starts before it drains.
  // - `_immediate` is non-null exactly when a setImmediate is queued for the next iteration. While it is set,
  //   nothing queues another.
  // - `_nodeTimer` is armed (for `_nodeTimerWhen`) only while running, no iteration is queued and a timer is pending.
  /** @internal */ readonly _ready = new Deque<Runnable>(64);
  /** @internal */ readonly _timers = new TimerHeap();
  /** @internal */ _timerCancelledCount = 0;
  /** @internal */ _running = false;
  /** @internal */ _stopping = false;
  /** @internal */ _closed = false;
  /** @internal Debug mode; on by default when the environment has `ASYNCIO_DEBUG=1`. */
  _debug = isDebugEnv();
  /** @internal Tasks not yet done, for `allTasks()`; strong, so a pending task is never lost to GC. */
  readonly _tasks = new PendingList<Task<unknown>>();
  /** @internal Failed futures whose exception nobody has retrieved yet. */
  readonly _unretrieved = new Set<_UnretrievedReport>();
  /** @internal The async-context frame iterations run in. */
  readonly _frame: Frame = { _frameLoop: this, _frameTask: null };
  /** Callbacks and task steps slower than this many seconds are logged in debug mode. */
  slowCallbackDuration = 0.1;
  /** @internal */ _inIteration = false;
  /** @internal How many items of the current iteration have not run yet. */
  _todo = 0;
  /** @internal */ _dirty = false;
  /** @internal */ _stepTask: Task<unknown> | null = null;
  /** @internal The running step's task may be running its own code first (see the invariants). */
  _stepOwnCode = false;
  /** @internal The running step's task suspended on our awaitable, or its body ended (see the invariants). */
  _stepParked = false;
  /** @internal How many checks of the running step the driver made (`_checkStepEnd`). */
  private _stepChecks = 0;
  /** @internal Real time (ms) at which the Node turn running the current iterations began. */
  private _turnStart = 0;
  /** @internal Items run since the clock was last read for `MAX_TURN_MS`. */
  private _itemsSinceClock = 0;
  /** @internal Real time (ms) at which the current step began, in debug mode. */
  private _stepStart = 0;

  private _exceptionHandler: ExceptionHandler | null = null;
  private _taskFactory: TaskFactory | null = null;
  /** @internal */ protected _immediate: NodeJS.Immediate | null = null;
  /** @internal */ protected _nodeTimer: NodeJS.Timeout | null = null;
  /** @internal */ protected _nodeTimerWhen = Infinity;
  private _keepAlive: NodeJS.Timeout | null = null;
  /** @internal The async context iterations run in (captured by runForever). */
  protected _scope: AsyncResource | null = null;
  private _onStopped: (() => void) | null = null;
  /** @internal Where log lines go; tests may replace it. */
  _log: (text: string) => void = defaultLog;

  /** @internal */
  protected readonly _iterate = (): void => {
    this._immediate = null;
    this._scope!.runInAsyncScope(this._runOnce, this);
  };

  /** @internal */
  protected readonly _onNodeTimer = (): void => {
    this._nodeTimer = null;
    this._nodeTimerWhen = Infinity;
    if (this._immediate !== null || !this._running || this._inIteration) return;
    const top = this._peekTimer();
    if (top !== undefined && top._when > this.time()) {
      this._armNodeTimer(top._when);
      return;
    }
    this._scope!.runInAsyncScope(this._runOnce, this);
  };

  // ---------------------------------------------------------------- scheduling

  /** Schedules `callback(...args)` for the next iteration; callbacks run in FIFO order. */
  callSoon<A extends unknown[]>(callback: Callback<A>, ...args: A): Handle {
    if (this._closed) this._raiseClosed();
    if (this._debug) checkLoopContext(this);
    checkCallback(callback, "callSoon");
    const handle = new Handle(callback as Callback, args, this);
    this._enqueue(handle);
    return handle;
  }

  /** As `callSoon`, safe to call from any async context; wakes an idle loop. */
  callSoonThreadsafe<A extends unknown[]>(callback: Callback<A>, ...args: A): Handle {
    if (this._closed) this._raiseClosed();
    checkCallback(callback, "callSoonThreadsafe");
    const handle = new Handle(callback as Callback, args, this);
    this._enqueue(handle);
    return handle;
  }

  /** Schedules `callback(...args)` to run `delay` seconds from now (a negative delay means now). `NaN` → `RangeError`. */
  callLater<A extends unknown[]>(delay: number, callback: Callback<A>, ...args: A): TimerHandle {
    checkSeconds(delay, "delay", "callLater");
    return this._callAt(this.time() + delay, callback, args, "callLater");
  }

  /** Schedules `callback(...args)` at loop time `when` (seconds, as `loop.time()`). `NaN` → `RangeError`. */
  callAt<A extends unknown[]>(when: number, callback: Callback<A>, ...args: A): TimerHandle {
    checkSeconds(when, "when", "callAt");
    return this._callAt(when, callback, args, "callAt");
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a callback of any arguments, checked against them where it is scheduled
  private _callAt(when: number, callback: Callback<any>, args: unknown[], method: string): TimerHandle {
    if (this._closed) this._raiseClosed();
    if (this._debug) checkLoopContext(this);
    checkCallback(callback, method);
    const timer = new TimerHandle(when, callback, args, this);
    this._addTimer(timer);
    return timer;
  }

  /** @internal `callAt(when, fn, arg)` for the library's own timers (a sleep): no checks, no argument array. */
  _timerAt<A>(when: number, fn: (arg: A) => void, arg: A): TimerHandle {
    if (this._closed) this._raiseClosed();
    const timer = new OneArgTimer(when, fn as Callback, arg, this);
    this._addTimer(timer);
    return timer;
  }

  /** @internal Puts a new `timer` (checked by its maker) in the heap, arming the Node timer if it is the earliest. */
  _addTimer(timer: TimerHandle): void {
    const when = timer._when;
    timer._scheduled = true;
    this._timers.push(timer);
    if (this._running && this._immediate === null && !this._inIteration && when < this._nodeTimerWhen) {
      this._armNodeTimer(when);
    }
  }

  /** Monotonic time in seconds, the clock of `callAt` and timeouts. */
  time(): number {
    return performance.now() / 1000;
  }

  /** @internal Puts a runnable (a Future delivering callbacks, a Task starting) on the ready queue. */
  _enqueue(item: Runnable): void {
    this._ready.push(item);
    if (this._immediate === null && this._running && !this._inIteration) this._scheduleIteration();
  }

  /** @internal */
  _timerHandleCancelled(): void {
    this._timerCancelledCount++;
    // Cancelled timers are dropped lazily; compact when they are most of the heap (e.g. many finished timeouts).
    if (this._timerCancelledCount > 64 && this._timerCancelledCount * 2 > this._timers.length) {
      this._timers.filter((t) => {
        if (t._cancelled) t._scheduled = false;
        return !t._cancelled;
      });
      this._timerCancelledCount = 0;
    }
  }

  /** @internal The earliest timer not cancelled (cancelled ones on top are dropped), or undefined. */
  protected _peekTimer(): TimerHandle | undefined {
    const heap = this._timers;
    let top = heap.peek();
    while (top !== undefined && top._cancelled) {
      heap.pop();
      top._scheduled = false;
      this._timerCancelledCount--;
      top = heap.peek();
    }
    return top;
  }

  /** @internal Queues one iteration with setImmediate, dropping an armed Node timer (the iteration re-arms it). */
  protected _scheduleIteration(): void {
    if (this._nodeTimer !== null) {
      clearTimeout(this._nodeTimer);
      this._nodeTimer = null;
      this._nodeTimerWhen = Infinity;
    }
    this._immediate = setImmediate(this._iterate);
  }

  /**
   * @internal Arms the one Node timer for loop time `when`. The virtual-time loop overrides this (and `time()`)
   * to jump its clock instead of waiting.
   */
  protected _armNodeTimer(when: number): void {
    if (when === Infinity) return;
    if (this._nodeTimer !== null) clearTimeout(this._nodeTimer);
    const ms = Math.min(MAX_NODE_DELAY_MS, Math.max(1, Math.ceil((when - this.time()) * 1000)));
    this._nodeTimerWhen = when;
    this._nodeTimer = setTimeout(this._onNodeTimer, ms);
  }

  /** @internal Starts an iteration from a Node callback (immediate, timer); the driver takes it from there. */
  _runOnce(): void {
    if (this._inIteration || !this._running) return;
    this._turnStart = performance.now();
    this._itemsSinceClock = 0;
    this._dirty = false;
    this._beginIteration();
    this._drive();
  }

  /** @internal Moves the due timers to the ready queue and fixes how many items this iteration runs. */
  private _beginIteration(): void {
    this._inIteration = true;
    const ready = this._ready;
    const heap = this._timers;
    if (heap.length > 0) {
      const now = this.time();
      for (let top = this._peekTimer(); top !== undefined && top._when <= now; top = this._peekTimer()) {
        heap.pop();
        top._scheduled = false;
        ready.push(top);
      }
    }
    this._todo = ready.length;
    this._itemsSinceClock += this._todo;
    if (this._debug) debugIteration(this);
  }

  /**
   * @internal Runs the iteration's items in order. When one starts a task step it returns; `_afterStep` calls it
   * again once the microtask queue has drained, that is once the step has ended. At the end of an iteration it
   * starts the next one at once while work is ready and the turn is young (see `MAX_TURN_MS`).
   */
  private _drive(): void {
    const ready = this._ready;
    for (;;) {
      while (this._todo > 0) {
        const item = ready.shift()!;
        this._todo--;
        const r = this._debug ? this._runTimed(item) : item._run();
        if (r === RUN_DONE) {
          this._dirty = true;
          continue;
        }
        if (r !== RUN_STEP) {
          // RUN_STEP_MORE: the item's remainder is now first in the queue; RUN_DEFER: the item itself goes back.
          this._todo++;
          if (r === RUN_DEFER) {
            ready.unshift(item);
            this._awaitDrain();
            return;
          }
        }
        this._awaitStepEnd();
        return;
      }
      if (this._dirty) {
        // Let what the last callbacks released run before the iteration ends.
        this._awaitDrain();
        return;
      }
      if (!this._endIteration()) return;
      this._beginIteration();
    }
  }

  /** @internal A step of `task` begins (its start or its resumption). */
  _beginStep(task: Task<unknown>): void {
    this._stepTask = task;
    this._stepOwnCode = true;
    this._stepParked = false;
  }

  /** @internal `task` suspended on our awaitable or its body ended: if its step is the one running, it is over. */
  _stepOver(task: Task<unknown>): void {
    if (this._stepTask === task) this._stepParked = true;
  }

  /** Calls `_afterStep` once the step that just began is over (see the module's header). */
  private _awaitStepEnd(): void {
    this._stepChecks = 0;
    void SETTLED.then(this._checkStepEnd);
  }

  /** Calls `_afterStep` once the microtask queue has drained (after plain callbacks: no step to watch). */
  private _awaitDrain(): void {
    void SETTLED.then(this._queueAfterStep);
  }

  /**
   * A microtask after a step began, and if need be a second one. A resumed task's code runs in the microtask before
   * the first check, so the jobs it queued (V8's `then` for `await future`, the reaction to the body's end) have run
   * only by the second; a start ran its body's first part synchronously, so they have run by the first unless the
   * body ran on through awaits that did not suspend. The step is over once its task suspended on our awaitable or
   * ended; if neither is seen by the second check, the tick decides, once the microtask queue is empty.
   */
  private readonly _checkStepEnd = (): void => {
    if (this._stepParked && !this._stepOwnCode) {
      this._afterStep();
    } else if (this._stepChecks++ === 0) {
      // A resumption, or a start whose body ran on through awaits that did not suspend: look once more.
      this._stepOwnCode = false;
      void SETTLED.then(this._checkStepEnd);
    } else {
      process.nextTick(this._afterStep);
    }
  };

  /** A microtask queued after callbacks ran: the tick it queues runs once the microtask queue is empty. */
  private readonly _queueAfterStep = (): void => {
    process.nextTick(this._afterStep);
  };

  private readonly _afterStep = (): void => {
    if (this._debug && this._stepTask !== null) reportSlowStep(this, this._stepTask, performance.now() - this._stepStart);
    this._stepTask = null;
    this._dirty = false;
    this._drive();
  };

  /** @internal Debug mode: runs one item, timing it if it is a callback; a step is timed until it has ended. */
  private _runTimed(item: Runnable): RunResult {
    const t0 = performance.now();
    const r = runTimed(this, item);
    if (r !== RUN_DONE && r !== RUN_DEFER) this._stepStart = t0;
    return r;
  }

  /**
   * @internal The iteration is over (every step of it ended): stop if asked, else say whether the next one starts
   * at once (true), or schedule it, or arm the Node timer for the next deadline and go idle.
   */
  private _endIteration(): boolean {
    this._inIteration = false;
    if (this._stopping) {
      this._finishRunning();
      return false;
    }
    if (this._ready.length > 0 || this._timerDue()) {
      if (this._itemsSinceClock < ITEMS_PER_CLOCK_READING) return true;
      this._itemsSinceClock = 0;
      if (performance.now() - this._turnStart < MAX_TURN_MS) return true;
      if (this._immediate === null) this._scheduleIteration();
    } else if (this._immediate === null) {
      const top = this._peekTimer();
      if (top !== undefined && top._when < this._nodeTimerWhen) this._armNodeTimer(top._when);
    }
    this._afterIteration();
    return false;
  }

  private _timerDue(): boolean {
    if (this._timers.length === 0) return false;
    const top = this._peekTimer();
    return top !== undefined && top._when <= this.time();
  }

  /** @internal Called when an iteration ended and the next one is not started at once. */
  protected _afterIteration(): void {}

  // ---------------------------------------------------------------- running

  /**
   * Runs the loop until `stop()` is called; the promise settles after the iteration in which `stop()` took effect.
   * Rejects with `RuntimeError` when the loop is closed, already running, or another loop runs in this async context.
   */
  runForever(): Promise<void> {
    try {
      this._checkRunnable();
    } catch (e) {
      return Promise.reject(e);
    }
    this._running = true;
    runningLoops.add(this);
    // Iterations (and so every callback and task start) run in the async context this call was made in,
    // plus our frame; a Node timer or immediate scheduled from elsewhere never leaks its context in.
    this._scope = frameStorage.run(this._frame, () => new AsyncResource("asyncio-ts.EventLoop"));
    this._keepAlive = setInterval(() => {}, MAX_NODE_DELAY_MS);
    const stopped = new Promise<void>((resolve) => {
      this._onStopped = resolve;
    });
    this._scheduleIteration();
    return stopped;
  }

  /**
   * Runs the loop until `future` is done and returns its result (throws its exception). A coroutine function is
   * wrapped in a Task, a promise in a Future. Rejects with `RuntimeError` when the loop is closed or already running.
   */
  async runUntilComplete<T>(future: PromiseLike<T> | (() => PromiseLike<T> | T)): Promise<T> {
    this._checkRunnable();
    const fut = _ensureFutureOn(future, this);
    const stopWhenDone = (): void => this.stop();
    fut.addDoneCallback(stopWhenDone);
    try {
      await this.runForever();
    } finally {
      fut.removeDoneCallback(stopWhenDone);
    }
    if (!fut.done()) throw new RuntimeError("Event loop stopped before Future completed.");
    return fut.result();
  }

  private _checkRunnable(): void {
    if (this._closed) this._raiseClosed();
    if (this._running) throw new RuntimeError("This event loop is already running");
    if (runningLoopOrNull() !== null) {
      throw new RuntimeError("Cannot run the event loop while another loop is running");
    }
  }

  private readonly _finishRunning = (): void => {
    this._stopping = false;
    this._running = false;
    runningLoops.delete(this);
    if (this._immediate !== null) clearImmediate(this._immediate);
    if (this._nodeTimer !== null) clearTimeout(this._nodeTimer);
    if (this._keepAlive !== null) clearInterval(this._keepAlive);
    this._immediate = null;
    this._nodeTimer = null;
    this._nodeTimerWhen = Infinity;
    this._keepAlive = null;
    this._scope?.emitDestroy();
    this._scope = null;
    const done = this._onStopped;
    this._onStopped = null;
    done?.();
  };

  /** Asks a running loop to stop after the current iteration (before `runForever`, it runs one iteration). */
  stop(): void {
    this._stopping = true;
    if (this._running && this._immediate === null && !this._inIteration) this._scheduleIteration();
  }

  /** Whether the loop is running. */
  isRunning(): boolean {
    return this._running;
  }

  /** Whether `close()` was called. */
  isClosed(): boolean {
    return this._closed;
  }

  /**
   * Closes the loop: drops pending callbacks and timers, reports never-retrieved exceptions, shuts the default
   * executor down without waiting. Idempotent. `RuntimeError` on a running loop.
   */
  close(): void {
    if (this._running) throw new RuntimeError("Cannot close a running event loop");
    if (this._closed) return;
    this._closed = true;
    this._ready.clear();
    for (const t of this._timers.items) t._scheduled = false;
    this._timers.clear();
    this._timerCancelledCount = 0;
    for (const report of Array.from(this._unretrieved)) report.report();
    reportPendingTasks(this);
    this._closeHooks.forEach((hook) => hook(this));
  }

  /** `using loop = newEventLoop()`: `close()` at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal Extra work done by `close()` (executors, transports), registered by the modules that own it. */
  readonly _closeHooks: ((loop: EventLoop) => void)[] = [];

  /** @internal */
  _raiseClosed(): never {
    throw new RuntimeError("Event loop is closed");
  }

  /** @internal For modules that must refuse work on a closed loop. */
  _checkClosed(): void {
    if (this._closed) this._raiseClosed();
  }

  // ---------------------------------------------------------------- futures and tasks

  /** A new pending Future bound to this loop. */
  createFuture<T = unknown>(): Future<T> {
    return _newFuture<T>(this);
  }

  /**
   * Wraps the coroutine function `fn` in a Task scheduled on this loop (through the task factory, if one is set).
   * Passing a started promise throws `TypeError`: pass `() => work()`, not `work()`.
   */
  createTask<T>(fn: () => PromiseLike<T> | T, options: TaskOptions | null = _NO_TASK_OPTIONS): Task<T> {
    this._checkClosed();
    if (typeof options !== "object" || options === null) options = checkOptions(options, "loop.createTask") ?? {};
    // A factory of the user's own gets an options object it may change.
    if (this._taskFactory !== null) return this._taskFactory(this, fn, options === _NO_TASK_OPTIONS ? {} : options);
    return _newTask(fn, this, options);
  }

  /** Sets the factory `createTask` uses (`eagerTaskFactory`, or your own); `null` restores the default. */
  setTaskFactory(factory: TaskFactory | null): void {
    if (factory !== null && typeof factory !== "function") {
      throw new TypeError(`setTaskFactory: expected \`factory\` to be a function or null, got ${typeof factory}`);
    }
    this._taskFactory = factory;
  }

  /** The task factory set with `setTaskFactory`, or null. */
  getTaskFactory(): TaskFactory | null {
    return this._taskFactory;
  }

  // ---------------------------------------------------------------- errors and debug

  /** Sets the handler called with `(loop, context)` for errors nobody observes; `null` restores the default. */
  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== "function") {
      throw new TypeError(`setExceptionHandler: expected \`handler\` to be a function or null, got ${typeof handler}`);
    }
    this._exceptionHandler = handler;
  }

  /** The handler set with `setExceptionHandler`, or null. */
  getExceptionHandler(): ExceptionHandler | null {
    return this._exceptionHandler;
  }

  /** Logs the context (message, exception with its stack, and the other keys) to stderr. */
  defaultExceptionHandler(context: ExceptionContext): void {
    const message = context.message || "Unhandled exception in event loop";
    const lines = [message];
    for (const key of Object.keys(context).sort()) {
      if (key === "message" || key === "exception") continue;
      const value = context[key];
      lines.push(`${key}: ${typeof value === "string" ? value : inspect(value, { depth: 1 })}`);
    }
    const exc = context.exception;
    if (exc !== undefined) {
      lines.push(exc instanceof Error && exc.stack ? exc.stack : `exception: ${inspect(exc)}`);
    }
    this._log(lines.join("\n"));
  }

  /** Calls the exception handler (or the default one); an error thrown by the handler itself is logged, not raised. */
  callExceptionHandler(context: ExceptionContext): void {
    const handler = this._exceptionHandler;
    if (handler === null) {
      try {
        this.defaultExceptionHandler(context);
      } catch {
        // Logging must never break the loop.
      }
      return;
    }
    try {
      handler(this, context);
    } catch (exception) {
      try {
        this.defaultExceptionHandler({ message: "Unhandled error in exception handler", exception, context });
      } catch {
        // As above.
      }
    }
  }

  /** Turns debug mode on or off (slow-callback logging, creation stacks). */
  setDebug(enabled: boolean): void {
    this._debug = Boolean(enabled);
  }

  /** Whether debug mode is on. */
  getDebug(): boolean {
    return this._debug;
  }

  // ---------------------------------------------------------------- executors (see executors.ts)

  /**
   * Shuts the default executor down and waits for it, at most `timeout` seconds (`null`: no limit), after which its
   * workers are ended and that is reported. From then on `runInExecutor(null, ...)` throws `RuntimeError`.
   */
  async shutdownDefaultExecutor(timeout: number | null = null): Promise<void> {
    if (timeout !== null && (typeof timeout !== "number" || Number.isNaN(timeout))) {
      throw new TypeError(`shutdownDefaultExecutor: expected \`timeout\` to be a number of seconds or null, got ${String(timeout)}`);
    }
    this._executorShutdownCalled = true;
    const hook = this._shutdownDefaultExecutorHook;
    if (hook !== null) await hook(this, timeout);
  }

  /** @internal Set by `shutdownDefaultExecutor()`, even when no default executor was ever made. */
  _executorShutdownCalled = false;

  /** @internal Installed by the executors module when a default executor exists. */
  _shutdownDefaultExecutorHook: ((loop: EventLoop, timeout: number | null) => Promise<void>) | null = null;

  toString(): string {
    return `<EventLoop running=${this._running} closed=${this._closed} debug=${this._debug}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// ------------------------------------------------------------------ the current loop

let currentEventLoop: EventLoop | null = null;

/** The loop running in the current async context. `RuntimeError('no running event loop')` outside one. */
export function getRunningLoop(): EventLoop {
  return requireRunningLoop();
}

/**
 * The running loop; outside one, the loop set with `setEventLoop`. Never creates a loop (as Python 3.14):
 * `RuntimeError` when no loop runs here and none is set.
 */
export function getEventLoop(): EventLoop {
  return _runningOrSetLoop("There is no current event loop");
}

/**
 * @internal The loop for a Future made where no Future gives one (`gather`, `ensureFuture`): the running loop, else
 * the loop set with `setEventLoop`; `RuntimeError(message)` with neither.
 */
export function _runningOrSetLoop(message = "no running event loop"): EventLoop {
  const loop = runningLoopOrNull() ?? currentEventLoop;
  if (loop === null) throw new RuntimeError(message);
  return loop;
}

/** Sets the loop `getEventLoop()` returns outside a running loop (`null` to forget it). */
export function setEventLoop(loop: EventLoop | null): void {
  if (loop !== null && !(loop instanceof EventLoop)) {
    throw new TypeError(`setEventLoop: expected \`loop\` to be an EventLoop or null, got ${typeof loop}`);
  }
  currentEventLoop = loop;
}

/** A new, not running, event loop. */
export function newEventLoop(): EventLoop {
  return new EventLoop();
}
