/**
 * Small assertions shared by the runtime tests.
 *
 * Prefer these (or `assert.equal(x, true)`) to a bare `assert.ok(x)`: when a bare `assert.ok` fails, Node re-reads
 * and parses the source to quote the expression, which under tsx can take minutes.
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";

/** Awaits `p` and returns what it rejected with; fails when it resolves. */
export async function rejection(p: PromiseLike<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await p;
  } catch (error) {
    return error;
  }
  assert.fail(`expected a rejection, got a result: ${inspect(value, { depth: 1 })}`);
}

/**
 * As `rejection`, typed loosely, for tests that read the fields of the error they expect (`code`, `cause`, ...).
 */
export function looseRejection(p: PromiseLike<unknown>): Promise<any> {
  return rejection(p);
}

/** Asserts `value instanceof cls` (and narrows its type); the message names what was found instead. */
export function isInstance<T>(value: unknown, cls: abstract new (...args: any[]) => T, what = "value"): asserts value is T {
  if (!(value instanceof cls)) {
    assert.fail(`expected ${what} to be a ${cls.name}, got ${inspect(value, { depth: 1 })}`);
  }
}

/** Asserts `value` is not an instance of `cls`. */
export function notInstance(value: unknown, cls: abstract new (...args: any[]) => unknown, what = "value"): void {
  if (value instanceof cls) {
    assert.fail(`expected ${what} not to be a ${cls.name}, got ${inspect(value, { depth: 1 })}`);
  }
}
