/**
 * TaskGroup: structured concurrency. `await new TaskGroup().with(async (tg) => { tg.createTask(...) })` waits for
 * every task it started; the first failure cancels the rest and the body, and all failures come out together
 * as an `ExceptionGroup`.
 * @module
 */
import { inspect } from "./_internal/node.js";
import { addAwaitedBy, discardAwaitedBy } from "./_internal/kernel/awaited_by.js";
import { currentTaskOrNull, requireRunningLoop } from "./_internal/kernel/context.js";
import { type CancelledError, ExceptionGroup, KeyboardInterrupt, RuntimeError, _asCancelledError } from "./exceptions.js";
import type { EventLoop } from "./events.js";
import type { Future } from "./futures.js";
import { type Task, type TaskOptions, _checkCoroutineFunction } from "./tasks.js";
import { type CancelScope, type _Parked, _exemptFromScopes, _rearm, _requestCancel, _scopeOf, _withdraw } from "./cancel_scopes.js";

/** What `TaskGroup.start` hands its function: call `started(value)` once the task is ready. */
export interface TaskStatus<V = void> {
  /**
   * Tells the `start()` call that the task is ready: `start()` resolves with `value` and the task runs on in the
   * group. `RuntimeError` when called a second time; does nothing once the `start()` call was cancelled.
   */
  started(value?: V): void;
}

/** Errors that abort a group at once and are re-thrown bare, not in a group (Python's BaseException subclasses). */
function isBaseError(error: unknown): boolean {
  return error instanceof KeyboardInterrupt;
}

/** A group of tasks that all end before `with` returns. Enter it once. */
export class TaskGroup {
  // Invariants: `tasks` holds the group's tasks not done yet. `aborting` is set once the group started cancelling
  // them (first failure, body failure, or the parent's cancellation); no task can be added after that.
  // `parentCancelRequested` is true when the group itself cancelled the parent task to interrupt the body, and
  // must then undo it with `uncancel()` on exit. `pendingStarts` counts `start()` calls whose task has not called
  // `started()` nor ended: the group stays open for them. `origin` is the parent's innermost cancel scope at entry.
  private entered = false;
  private exiting = false;
  private aborting = false;
  private loop: EventLoop | null = null;
  private parentTask: Task<unknown> | null = null;
  private parentCancelRequested = false;
  private readonly tasks = new Set<Task<unknown>>();
  private readonly errors: unknown[] = [];
  private baseError: unknown = undefined;
  private onCompleted: Future<boolean> | null = null;
  private pendingStarts = 0;
  private cancelOnEnter = false;
  private cancelMessage: string | undefined = undefined;
  private origin: CancelScope | null = null;
  private parked: _Parked | null = null;

  /**
   * Runs `body(tg)` and then waits for every task of the group. Resolves with the body's result. When the body or a
   * task fails, the others are cancelled, and every failure is thrown together as an `ExceptionGroup`; a
   * cancellation of the parent task from outside comes out as `CancelledError`. `RuntimeError` outside a task.
   *
   * Cancellation: cancelling the caller cancels every task of the group and waits for them before `CancelledError`
   * comes out; nothing is left running. After `cancel()`, `with` ends without `CancelledError`: it resolves
   * `undefined` when the body was cancelled (its value when it had returned), or throws the group's real failures.
   */
  async with<R>(body: (tg: TaskGroup) => PromiseLike<R> | R): Promise<R> {
    if (typeof body !== "function") throw new TypeError(`TaskGroup.with: expected \`body\` to be a function, got ${typeof body}`);
    this.enter();
    let result: R | undefined;
    let error: unknown;
    let failed = false;
    try {
      result = await body(this);
    } catch (e) {
      failed = true;
      error = e;
    }
    await this.exit(failed, error);
    return result as R;
  }

  private enter(): void {
    if (this.entered) throw new RuntimeError(`TaskGroup ${this} has already been entered`);
    this.loop = requireRunningLoop();
    const parent = currentTaskOrNull();
    if (parent === null) throw new RuntimeError(`TaskGroup ${this} cannot determine the parent task`);
    this.parentTask = parent;
    this.origin = _scopeOf(parent);
    this.entered = true;
    if (this.cancelOnEnter) this.cancel(this.cancelMessage);
  }

  private async exit(failed: boolean, error: unknown): Promise<void> {
    this.exiting = true;
    const parent = this.parentTask!;
    if (failed && isBaseError(error) && this.baseError === undefined) this.baseError = error;
    let propagateCancel: CancelledError | null = failed ? _asCancelledError(error) : null;
    if (failed && !this.aborting) {
      // The body failed, or our parent is being cancelled: stop every task.
      this.abort();
    }
    // The wait may be cancelled more than once (the parent cancelled repeatedly), hence the loop.
    let lastCancel: CancelledError | null = null;
    while (this.tasks.size > 0 || this.pendingStarts > 0) {
      this.onCompleted ??= this.loop!.createFuture<boolean>();
      // Once every task is cancelled, a cancelled scope around the group must not turn this wait into a spin.
      if (this.aborting && parent._cancelScope !== null) _exemptFromScopes(this.onCompleted);
      try {
        await this.onCompleted;
      } catch (e) {
        const cancelled = _asCancelledError(e);
        if (cancelled === null) throw e;
        lastCancel = cancelled;
        if (!this.aborting) {
          // The parent task was cancelled while the body was done and the group waited.
          propagateCancel = cancelled;
          this.abort();
        }
      }
      this.onCompleted = null;
    }
    if (this.baseError !== undefined) throw this.baseError;
    if (this.parentCancelRequested) {
      // We cancelled our parent to interrupt the body: undo that, and swallow the CancelledError if it was ours alone.
      _withdraw(this.parked);
      this.parked = null;
      if (parent.uncancel() === 0) propagateCancel = null;
      // After `cancel()`, a cancellation from outside that reached the wait is not ours: it must not be dropped.
      else propagateCancel ??= lastCancel;
    }
    if (propagateCancel !== null && this.errors.length === 0) throw propagateCancel;
    if (failed && _asCancelledError(error) === null) this.errors.push(error);
    if (this.errors.length > 0) {
      // A cancel from outside the group must survive it: keep the parent's cancel count stable and the cancel pending.
      if (parent.cancelling() > 0) {
        if (parent._cancelScope === null) {
          parent.uncancel();
          parent.cancel();
        } else {
          _rearm(parent, this.origin);
        }
      }
      const errors = this.errors.splice(0);
      throw new ExceptionGroup("unhandled errors in a TaskGroup", errors);
    }
  }

  /**
   * Starts `fn` as a task of the group. `RuntimeError` before `with`, once the group finished, or while it is
   * shutting down after a failure.
   */
  createTask<T>(fn: () => PromiseLike<T> | T, options?: TaskOptions): Task<T> {
    _checkCoroutineFunction(fn, "TaskGroup.createTask");
    this.checkOpen();
    const task = this.loop!.createTask(fn, options);
    this.adopt(task as Task<unknown>);
    return task;
  }

  private checkOpen(): void {
    if (!this.entered) throw new RuntimeError(`TaskGroup ${this} has not been entered`);
    if (this.exiting && this.tasks.size === 0 && this.pendingStarts === 0) throw new RuntimeError(`TaskGroup ${this} is finished`);
    if (this.aborting) throw new RuntimeError(`TaskGroup ${this} is shutting down`);
  }

  /** Makes `task` one of the group's tasks (cancelled at once if the group is shutting down). */
  private adopt(task: Task<unknown>): void {
    if (task.done()) {
      this.onTaskDone(task);
      return;
    }
    this.tasks.add(task);
    addAwaitedBy(task, this.parentTask!);
    task.addDoneCallback(this.onTaskDone);
    if (this.aborting) task.cancel(this.cancelMessage);
  }

  /**
   * Starts `fn(status)` as a task and waits until it calls `status.started(value)`; resolves with `value`, and the
   * task runs on in the group (Trio's `nursery.start`). If the task fails before `started()`, `start()` throws that
   * error and nothing else (the group does not see it; its other tasks go on); if it returns before, `start()`
   * throws `RuntimeError`. `RuntimeError` before `with`, once the group finished, or while it is shutting down.
   *
   * Cancellation: cancelling the caller before `started()` cancels the task; `start()` waits for it to end, then
   * throws the `CancelledError` (or the error the task ended with). The group stays open while a start is pending.
   */
  async start<V = void>(fn: (status: TaskStatus<V>) => unknown, options?: TaskOptions): Promise<V> {
    _checkCoroutineFunction(fn, "TaskGroup.start");
    this.checkOpen();
    const loop = this.loop!;
    const status = new StartStatus<V>(this, loop.createFuture<V>());
    this.pendingStarts++;
    try {
      const child = loop.createTask(() => fn(status), options) as Task<unknown>;
      const caller = currentTaskOrNull();
      status.attach(child, caller);
      try {
        return await status.ready;
      } catch (error) {
        const cancelled = _asCancelledError(error);
        if (cancelled === null || status.state === "started") throw error;
        // The caller was cancelled before `started()`: the task goes with it.
        status.state = "abandoned";
        await cancelAndJoin(child, caller);
        if (child._state === "FINISHED" && child._hasException) {
          const failure = child.exception();
          if (caller !== null && caller.cancelling() > 0) {
            if (caller._cancelScope === null) {
              caller.uncancel();
              caller.cancel();
            } else {
              _rearm(caller, _scopeOf(caller));
            }
          }
          throw failure;
        }
        throw cancelled;
      }
    } finally {
      this.pendingStarts--;
      this.wakeExit();
    }
  }

  /** @internal The task of a `start()` called `started()`: it joins the group. */
  _adoptStarted(task: Task<unknown>): void {
    this.adopt(task);
  }

  /**
   * Cancels every task of the group not done yet, and the body (Python 3.15): `with` then ends without
   * `CancelledError`, still throwing an `ExceptionGroup` for real failures. Before `with`, the group is cancelled
   * on entry; idempotent, also after the group ended.
   */
  cancel(msg?: string): void {
    if (!this.entered) {
      this.cancelOnEnter = true;
      this.cancelMessage = msg;
      return;
    }
    if (this.exiting && this.tasks.size === 0 && this.pendingStarts === 0) return;
    if (this.aborting) return;
    this.cancelMessage = msg;
    this.abort();
    if (!this.parentCancelRequested && !this.parentTask!.done()) {
      this.parentCancelRequested = true;
      this.parked = _requestCancel(this.parentTask!, this.origin, msg);
    }
  }

  private abort(): void {
    this.aborting = true;
    for (const t of this.tasks) if (!t.done()) t.cancel(this.cancelMessage);
  }

  private wakeExit(): void {
    if (this.onCompleted !== null && this.tasks.size === 0 && this.pendingStarts === 0 && !this.onCompleted.done()) {
      this.onCompleted.setResult(true);
    }
  }

  private readonly onTaskDone = (task: Future<unknown>): void => {
    this.tasks.delete(task as Task<unknown>);
    discardAwaitedBy(task, this.parentTask!);
    this.wakeExit();
    if (task.cancelled()) return;
    const error = task.exception();
    if (error === null) return;
    this.errors.push(error);
    if (isBaseError(error) && this.baseError === undefined) this.baseError = error;
    const parent = this.parentTask!;
    if (parent.done()) {
      this.loop!.callExceptionHandler({
        message: `Task ${task} has errored out but its parent task ${parent} is already completed`,
        exception: error,
        task: task as Task<unknown>,
      });
      return;
    }
    if (!this.aborting && !this.parentCancelRequested) {
      // The parent is not being cancelled: cancel it ourselves to interrupt the body, and remember to undo it.
      this.abort();
      this.parentCancelRequested = true;
      this.parked = _requestCancel(parent, this.origin);
    }
  };

  toString(): string {
    const info: string[] = [];
    if (this.tasks.size) info.push(`tasks=${this.tasks.size}`);
    if (this.errors.length) info.push(`errors=${this.errors.length}`);
    if (this.aborting) info.push("cancelling");
    else if (this.entered) info.push("entered");
    return `<TaskGroup${info.length ? " " + info.join(" ") : ""}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** Waits until `task` has ended after cancelling it; further cancellations of the waiter only repeat the cancel. */
async function cancelAndJoin(task: Task<unknown>, caller: Task<unknown> | null): Promise<void> {
  task.cancel();
  while (!task.done()) {
    const ended = task._loop.createFuture<void>();
    const release = (): void => {
      if (!ended.done()) ended.setResult();
    };
    task.addDoneCallback(release);
    if (caller !== null && caller._cancelScope !== null) _exemptFromScopes(ended as Future<unknown>);
    try {
      await ended;
    } catch (error) {
      if (_asCancelledError(error) === null) throw error;
      task.cancel();
    } finally {
      task.removeDoneCallback(release);
    }
  }
}

/** The `TaskStatus` of one `start()` call. */
class StartStatus<V> implements TaskStatus<V> {
  // Invariants: "waiting" until the task calls `started()` ("started") or ends, or the caller gives up on it
  // ("abandoned"); `ready` settles once, when the state leaves "waiting" (the caller's cancel aside).
  state: "waiting" | "started" | "abandoned" = "waiting";
  private child: Task<unknown> | null = null;
  private caller: Task<unknown> | null = null;
  private earlyValue: { value: V | undefined } | null = null;

  constructor(
    private readonly group: TaskGroup,
    readonly ready: Future<V>,
  ) {}

  /** Called once the task exists (an eager task may have called `started()` already). */
  attach(child: Task<unknown>, caller: Task<unknown> | null): void {
    this.child = child;
    this.caller = caller;
    if (this.earlyValue !== null) {
      const { value } = this.earlyValue;
      this.earlyValue = null;
      this.group._adoptStarted(child);
      this.ready.setResult(value as V);
      return;
    }
    if (child.done()) {
      this.onChildDone(child);
      return;
    }
    if (caller !== null) addAwaitedBy(child, caller);
    child.addDoneCallback(this.onChildDone);
  }

  started(value?: V): void {
    if (this.state === "started") throw new RuntimeError("TaskStatus.started() was called twice");
    if (this.state === "abandoned") return;
    if (this.ready.cancelled()) {
      // The caller was cancelled and has not resumed yet: it will cancel this task.
      this.state = "abandoned";
      return;
    }
    this.state = "started";
    const child = this.child;
    if (child === null) {
      this.earlyValue = { value };
      return;
    }
    child.removeDoneCallback(this.onChildDone);
    if (this.caller !== null) discardAwaitedBy(child, this.caller);
    this.group._adoptStarted(child);
    if (!this.ready.done()) this.ready.setResult(value as V);
  }

  private readonly onChildDone = (child: Future<unknown>): void => {
    if (this.caller !== null) discardAwaitedBy(child, this.caller);
    if (this.state !== "waiting" || this.ready.done()) return;
    if (child.cancelled()) {
      this.ready.setException(child._makeCancelledError());
    } else {
      const error = child.exception();
      this.ready.setException(error !== null ? error : new RuntimeError("the task of TaskGroup.start() returned without calling started()"));
    }
  };
}
