/**
 * Explicit "who awaits whom" links for call graphs (Python 3.14's `future_add_to_awaited_by`).
 *
 * Most links are not stored at all: a task awaiting a Future is known from `task._futWaiter`, and a gather's
 * children from `GatheringFuture._children`, so the hot paths pay nothing. Links that no field records are kept
 * here: a TaskGroup's tasks are awaited by its parent task, a `shield`'s inner Future by the outer one, and
 * whatever user code registers with `futureAddToAwaitedBy`.
 *
 * Invariant: `waiter ∈ awaitedBy.get(fut)` exactly when `fut ∈ awaiting.get(waiter)`. Keys are weak, so a
 * forgotten discard never keeps a done Future alive longer than its waiter.
 */
import type { Future } from "../../futures.js";

type AnyFuture = Future<unknown>;

const awaitedBy = new WeakMap<AnyFuture, Set<AnyFuture>>();
const awaiting = new WeakMap<AnyFuture, Set<AnyFuture>>();

function addTo(map: WeakMap<AnyFuture, Set<AnyFuture>>, key: AnyFuture, value: AnyFuture): void {
  const set = map.get(key);
  if (set === undefined) map.set(key, new Set([value]));
  else set.add(value);
}

function removeFrom(map: WeakMap<AnyFuture, Set<AnyFuture>>, key: AnyFuture, value: AnyFuture): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** Records that `fut` is awaited by `waiter`. */
export function addAwaitedBy(fut: Future<unknown>, waiter: Future<unknown>): void {
  addTo(awaitedBy, fut, waiter);
  addTo(awaiting, waiter, fut);
}

/** Forgets that `fut` is awaited by `waiter`. */
export function discardAwaitedBy(fut: Future<unknown>, waiter: Future<unknown>): void {
  removeFrom(awaitedBy, fut, waiter);
  removeFrom(awaiting, waiter, fut);
}

const none: ReadonlySet<AnyFuture> = new Set();

/** The waiters registered for `fut`. */
export function registeredAwaitersOf(fut: AnyFuture): ReadonlySet<AnyFuture> {
  return awaitedBy.get(fut) ?? none;
}

/** The Futures `waiter` was registered as awaiting. */
export function registeredAwaitedFutures(waiter: AnyFuture): ReadonlySet<AnyFuture> {
  return awaiting.get(waiter) ?? none;
}
