/**
 * The argument checks every module shares: how a value is described in an error message, the checks of seconds
 * and timeouts, and the two duck-type tests (iterable, promise-like). Error messages name the method and the
 * argument: "wait: expected `timeout` to be a number of seconds or null, got "5" (string)".
 * @module
 */

/**
 * A short description of a value for error messages: `-1 (number)`, `"3" (string)`, `null`, `an array`,
 * `a function`, `a Socket`, `an object`.
 */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  switch (typeof value) {
    case "string":
      return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (string)`;
    case "number":
    case "boolean":
    case "symbol":
      return `${String(value)} (${typeof value})`;
    case "bigint":
      return `${String(value)}n (bigint)`;
    case "function":
      return "a function";
  }
  if (Array.isArray(value)) return "an array";
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === "string" && name !== "" && name !== "Object" ? `a ${name}` : "an object";
}

/** A number of seconds: `TypeError` for a non-number, `RangeError` for `NaN`. */
export function checkSeconds(value: unknown, name: string, method: string): number {
  if (typeof value !== "number") throw new TypeError(`${method}: expected \`${name}\` to be a number of seconds, got ${describe(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${method}: expected \`${name}\` to be a number of seconds, got NaN`);
  return value;
}

/** A number of seconds, or `null`/`undefined` for none (returned as `null`): asyncio's `timeout=None`. */
export function checkSecondsOrNull(value: unknown, name: string, method: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number") {
    throw new TypeError(`${method}: expected \`${name}\` to be a number of seconds or null, got ${describe(value)}`);
  }
  if (Number.isNaN(value)) throw new RangeError(`${method}: expected \`${name}\` to be a number of seconds or null, got NaN`);
  return value;
}

/** Whether `value` can be iterated with `for ... of`. */
export function isIterable(value: unknown): value is Iterable<unknown> {
  return value !== null && value !== undefined && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function";
}

/** Whether `value` is a thenable (a promise, a Future, any object with a `then` method). */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * `options` checked as an options argument of `method`: undefined and null mean none; anything but an object is a
 * `TypeError` (so `createTask(fn, "name")` does not silently drop the name).
 */
export function checkOptions<O extends object>(options: O | null | undefined, method: string): O | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== "object") {
    throw new TypeError(`${method}: expected \`options\` to be an object, got ${describe(options)}`);
  }
  return options;
}

/** The body of a `.with(body)` (Python's `async with`): a function, else `TypeError` naming `owner.with`. */
export function checkBody(body: unknown, owner: string): void {
  if (typeof body !== "function") {
    throw new TypeError(`${owner}.with: expected \`body\` to be a function, got ${describe(body)}`);
  }
}
