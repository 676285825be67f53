// Helpers for tests that drive an event loop by hand.
import assert from "node:assert/strict";
import * as asyncio from "../../src/index.js";

type Loop = asyncio.EventLoop;

/** Runs `body` with a fresh loop that is always closed afterwards. */
export async function withLoop<T>(body: (loop: Loop) => Promise<T> | T): Promise<T> {
  const loop = asyncio.newEventLoop();
  try {
    return await body(loop);
  } finally {
    if (!loop.isRunning()) loop.close();
  }
}

/** Runs exactly one iteration of a loop that is not running. */
export async function runOnce(loop: Loop): Promise<void> {
  loop.stop();
  await loop.runForever();
}

/** Records every context given to the loop's exception handler. */
export function captureHandler(loop: Loop): asyncio.ExceptionContext[] {
  const seen: asyncio.ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => {
    seen.push(context);
  });
  return seen;
}

/** Lets the running loop run `n` iterations (each `sleep(0)` yields exactly once). */
export async function tick(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await asyncio.sleep(0);
}

/** Lets the running loop iterate until `predicate()` holds; fails after `limit` iterations. */
export async function until(predicate: () => boolean, limit = 50): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (predicate()) return;
    await asyncio.sleep(0);
  }
  assert.fail(`condition not reached after ${limit} loop iterations: ${predicate.toString()}`);
}

/** A new pending Future of the running loop. */
export function newFuture<T = void>(): asyncio.Future<T> {
  return asyncio.getRunningLoop().createFuture<T>();
}
