/**
 * TaskGroup: structured concurrency. `await new TaskGroup().with(async (tg) => { tg.createTask(...) })` waits for
 * every task it started; the first failure cancels the rest and the body, and all failures come out together
 * as an `ExceptionGroup`.
 * @module
 */
import { inspect } from "node:util";
import { addAwaitedBy, discardAwaitedBy } from "./_internal/kernel/awaited_by.js";
import { currentTaskOrNull, requireRunningLoop } from "./_internal/kernel/context.js";
import { type CancelledError, ExceptionGroup, KeyboardInterrupt, RuntimeError } from "./exceptions.js";
import type { EventLoop } from "./events.js";
import type { Future } from "./futures.js";
import { type Task, type TaskOptions, _asCancelledError, _checkCoroutineFunction } from "./tasks.js";

/** Errors that abort a group at once and are re-thrown bare, not in a group (Python's BaseException subclasses). */
function isBaseError(error: unknown): boolean {
  return error instanceof KeyboardInterrupt;
}

/** A group of tasks that all end before `with` returns. Enter it once. */
export class TaskGroup {
  // Invariants: `tasks` holds the group's tasks not done yet. `aborting` is set once the group started cancelling
  // them (first failure, body failure, or the parent's cancellation); no task can be added after that.
  // `parentCancelRequested` is true when the group itself cancelled the parent task to interrupt the body, and
  // must then undo it with `uncancel()` on exit.
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

  /**
   * Runs `body(tg)` and then waits for every task of the group. Resolves with the body's result. When the body or a
   * task fails, the others are cancelled, and every failure is thrown together as an `ExceptionGroup`; a
   * cancellation of the parent task from outside comes out as `CancelledError`. `RuntimeError` outside a task.
   *
   * Cancellation: cancelling the caller cancels every task of the group and waits for them before `CancelledError`
   * comes out; nothing is left running.
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
    this.entered = true;
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
    while (this.tasks.size > 0) {
      this.onCompleted ??= this.loop!.createFuture<boolean>();
      try {
        await this.onCompleted;
      } catch (e) {
        const cancelled = _asCancelledError(e);
        if (cancelled === null) throw e;
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
      if (parent.uncancel() === 0) propagateCancel = null;
    }
    if (propagateCancel !== null && this.errors.length === 0) throw propagateCancel;
    if (failed && _asCancelledError(error) === null) this.errors.push(error);
    if (this.errors.length > 0) {
      // A cancel from outside the group must survive it: keep the parent's cancel count stable and the cancel pending.
      if (parent.cancelling() > 0) {
        parent.uncancel();
        parent.cancel();
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
    if (!this.entered) throw new RuntimeError(`TaskGroup ${this} has not been entered`);
    if (this.exiting && this.tasks.size === 0) throw new RuntimeError(`TaskGroup ${this} is finished`);
    if (this.aborting) throw new RuntimeError(`TaskGroup ${this} is shutting down`);
    const task = this.loop!.createTask(fn, options);
    if (task.done()) {
      this.onTaskDone(task as Task<unknown>);
    } else {
      this.tasks.add(task as Task<unknown>);
      addAwaitedBy(task, this.parentTask!);
      task.addDoneCallback(this.onTaskDone as (t: Future<T>) => void);
    }
    return task;
  }

  private abort(): void {
    this.aborting = true;
    for (const t of this.tasks) if (!t.done()) t.cancel();
  }

  private readonly onTaskDone = (task: Future<unknown>): void => {
    this.tasks.delete(task as Task<unknown>);
    discardAwaitedBy(task, this.parentTask!);
    if (this.onCompleted !== null && this.tasks.size === 0 && !this.onCompleted.done()) this.onCompleted.setResult(true);
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
      parent.cancel();
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
