/**
 * The base of every primitive that waits (locks, queues, limiters), as CPython's `mixins.py`: binding to one loop,
 * the queue of waiter Futures each primitive keeps, woken first in, first out, and the `Guard` that `acquireGuard()`
 * hands out. Each primitive decides whom to
 * wake; this module keeps the waiter's life (queued, woken or failed, unlisted) the same everywhere.
 * @module
 */
import { inspect } from "./_internal/node.js";
import { type EventLoop, getRunningLoop } from "./events.js";
import type { Future } from "./futures.js";
import { CancelledError, RuntimeError } from "./exceptions.js";
import type { Deque } from "./_internal/kernel/deque.js";
import type { AbortLink } from "./_internal/abort.js";
import { describe } from "./_internal/validate.js";

/** @internal Removes `item` from `waiters` if present: O(1) at the head (the usual case), O(n) elsewhere. */
export function _removeWaiter<T>(waiters: Deque<T>, item: T): void {
  if (waiters.peekFirst() === item) waiters.shift();
  else if (waiters.length > 0) waiters.remove(item);
}

/**
 * Binds an object to the loop it first waits on, as CPython's `_LoopBoundMixin`: it can be created anywhere, and once
 * a waiter of it has been created on a loop, waiting on it from another loop is a `RuntimeError`. Not exported: the
 * base of the locks and queues, it shows in the published types only as a base class without public members.
 */
export abstract class _LoopBound {
  #loop: EventLoop | null = null;

  /** @internal The running loop, checked against the one this object is bound to (binding it the first time). */
  protected _getLoop(): EventLoop {
    const loop = getRunningLoop();
    if (this.#loop === null) this.#loop = loop;
    else if (this.#loop !== loop) throw new RuntimeError(`${String(this)} is bound to a different event loop`);
    return loop;
  }

  /**
   * @internal Queues a waiter Future on `waiters` and returns the promise of the wait. The waiter leaves the queue
   * however the wait ends; then `onWoken()` runs if it was woken, `onFailed(fut)` if the wait failed (cancelled,
   * possibly right after being woken). A loop error comes back as a rejected promise.
   */
  protected _queueWaiter(
    waiters: Deque<Future<boolean>>,
    onWoken: () => void,
    onFailed: (fut: Future<boolean>) => void,
    link: AbortLink | null = null,
    ownLink = false,
  ): Promise<true> {
    let fut: Future<boolean>;
    try {
      fut = this._getLoop().createFuture<boolean>();
    } catch (error) {
      if (ownLink) link?.dispose();
      return Promise.reject(error);
    }
    waiters.push(fut);
    if (link !== null) return this.#queueLinked(waiters, fut, onWoken, onFailed, link, ownLink);
    return fut._wait(
      () => {
        _removeWaiter(waiters, fut);
        onWoken();
        return true as const;
      },
      (error: unknown) => {
        _removeWaiter(waiters, fut);
        onFailed(fut);
        throw error;
      },
    );
  }

  /** `_queueWaiter` for a wait an abort may cancel: woken but aborted before it resumed, it fails as if cancelled. */
  #queueLinked(
    waiters: Deque<Future<boolean>>,
    fut: Future<boolean>,
    onWoken: () => void,
    onFailed: (fut: Future<boolean>) => void,
    link: AbortLink,
    ownLink: boolean,
  ): Promise<true> {
    link.track(fut);
    return fut.then(
      () => {
        _removeWaiter(waiters, fut);
        if (ownLink) link.dispose();
        if (link.message !== null) {
          onFailed(fut);
          throw new CancelledError(link.message);
        }
        onWoken();
        return true as const;
      },
      (error: unknown) => {
        _removeWaiter(waiters, fut);
        if (ownLink) link.dispose();
        onFailed(fut);
        throw error;
      },
    );
  }

  /** The words between the brackets of the readable form: `locked, waiters: 2`. */
  protected abstract _reprInfo(): string;

  toString(): string {
    return `${this.constructor.name} [${this._reprInfo()}]`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * What `acquireGuard()` resolves with: holds what was acquired until disposed. `using held = await lock.acquireGuard()`
 * releases at the end of the block; `[Symbol.dispose]()`, `[Symbol.asyncDispose]()` and `release()` release once, a
 * second call does nothing.
 */
export class Guard implements Disposable, AsyncDisposable {
  #release: (() => void) | null;

  /** A guard that calls `release` on its first disposal (for primitives that hand out guards). */
  constructor(release: () => void) {
    if (typeof release !== "function") throw new TypeError(`Guard: expected \`release\` to be a function, got ${describe(release)}`);
    this.#release = release;
  }

  /** Whether the guard still holds (not disposed yet). */
  get held(): boolean {
    return this.#release !== null;
  }

  /** Releases what the guard holds, once; later calls do nothing. */
  release(): void {
    const release = this.#release;
    if (release === null) return;
    this.#release = null;
    release();
  }

  /** `using`: releases once. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** `await using`: releases once. */
  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.release();
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }
}
