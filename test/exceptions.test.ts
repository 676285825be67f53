import { test } from "node:test";
import * as net from "node:net";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import assert from "node:assert/strict";
import * as asyncio from "../src/index.js";
import { isInstance } from "./helpers/expect.js";

/** Every error class of the public API, with a way to build one. */
const classes: [string, () => Error][] = [
  ["CancelledError", () => new asyncio.CancelledError("m")],
  ["TimeoutError", () => new asyncio.TimeoutError("m")],
  ["InvalidStateError", () => new asyncio.InvalidStateError("m")],
  ["IncompleteReadError", () => new asyncio.IncompleteReadError(new Uint8Array(0), 1)],
  ["LimitOverrunError", () => new asyncio.LimitOverrunError("m", 0)],
  ["QueueEmpty", () => new asyncio.QueueEmpty("m")],
  ["QueueFull", () => new asyncio.QueueFull("m")],
  ["QueueShutDown", () => new asyncio.QueueShutDown("m")],
  ["BrokenBarrierError", () => new asyncio.BrokenBarrierError("m")],
  ["SendfileNotAvailableError", () => new asyncio.SendfileNotAvailableError("m")],
  ["RuntimeError", () => new asyncio.RuntimeError("m")],
  ["ExceptionGroup", () => new asyncio.ExceptionGroup("m", [new Error("x")])],
  ["KeyboardInterrupt", () => new asyncio.KeyboardInterrupt("m")],
  ["ConnectionResetError", () => new asyncio.ConnectionResetError("m")],
  ["BrokenPipeError", () => new asyncio.BrokenPipeError("m")],
  ["ConnectionAbortedError", () => new asyncio.ConnectionAbortedError("m")],
  ["ConnectionRefusedError", () => new asyncio.ConnectionRefusedError("m")],
];

for (const [name, make] of classes) {
  test(`${name} is an exported Error whose name is "${name}"`, () => {
    const cls = (asyncio as unknown as Record<string, abstract new (...args: any[]) => Error>)[name];
    assert.ok(typeof cls === "function", `${name} is exported`);
    const error = make();
    isInstance(error, cls, name);
    isInstance(error, Error, name);
    assert.equal(error.name, name);
    assert.equal(error.constructor, cls);
    assert.equal(Object.prototype.toString.call(error), "[object Error]");
    assert.equal(typeof error.stack, "string");
    assert.match(String(error), new RegExp(`^${name}`));
  });
}

test("the error classes are distinct: none is an instance of another", () => {
  const errors = classes.map(([, make]) => make());
  for (const a of errors) {
    for (const b of errors) {
      if (a === b) continue;
      assert.equal(a instanceof (b.constructor as new () => Error), false, `${a.name} is not a ${b.name}`);
    }
  }
});

// ---------------------------------------------------------------- connection errors

/** Each connection error class and the Node error codes it stands for. */
const connectionClasses: [string, new (message?: string) => asyncio.ConnectionError, string[]][] = [
  ["ConnectionResetError", asyncio.ConnectionResetError, ["ECONNRESET"]],
  ["BrokenPipeError", asyncio.BrokenPipeError, ["EPIPE", "ESHUTDOWN"]],
  ["ConnectionAbortedError", asyncio.ConnectionAbortedError, ["ECONNABORTED"]],
  ["ConnectionRefusedError", asyncio.ConnectionRefusedError, ["ECONNREFUSED"]],
];

/** An error shaped as Node's system errors are: a plain Error with a `code`. */
function nodeError(code: string): Error {
  return Object.assign(new Error(`read ${code}`), { code, errno: -1, syscall: "read" });
}

for (const [name, cls, codes] of connectionClasses) {
  test(`${name} matches Node's errors whose code is ${codes.join(" or ")}, and only those`, () => {
    for (const code of codes) {
      const error = nodeError(code);
      assert.equal(error instanceof cls, true, `${code} is a ${name}`);
      assert.equal(error instanceof asyncio.ConnectionError, true, `${code} is a ConnectionError`);
    }
    for (const [otherName, , otherCodes] of connectionClasses) {
      if (otherName === name) continue;
      for (const code of otherCodes) assert.equal(nodeError(code) instanceof cls, false, `${code} is not a ${name}`);
    }
    assert.equal(nodeError("ETIMEDOUT") instanceof cls, false);
    assert.equal(new Error("no code") instanceof cls, false);
    assert.equal(({ code: codes[0] } as unknown) instanceof cls, true, "any object with the code matches, as a thrown value may be");
    for (const value of [null, undefined, codes[0], 42]) assert.equal((value as unknown as object) instanceof cls, false);
  });

  test(`a new ${name} is a ConnectionError and carries its code`, () => {
    const error = new cls("lost");
    assert.equal(error instanceof asyncio.ConnectionError, true);
    assert.equal(error.code, codes[0]);
    assert.equal(error.message, "lost");
  });
}

test("ConnectionError matches none of Node's other errors, and a subclass of it matches only its own instances", () => {
  assert.equal(nodeError("ENOENT") instanceof asyncio.ConnectionError, false);
  assert.equal(new asyncio.CancelledError() instanceof asyncio.ConnectionError, false);
  class ProtocolGone extends asyncio.ConnectionError {}
  assert.equal(nodeError("ECONNRESET") instanceof ProtocolGone, false);
  assert.equal(new ProtocolGone("x") instanceof ProtocolGone, true);
  assert.equal(new ProtocolGone("x") instanceof asyncio.ConnectionError, true);
  assert.equal(new asyncio.ConnectionError("x").code, undefined);
});

test("a refused connection's own Node error is a ConnectionRefusedError, unwrapped", async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await asyncio.run(async () => {
    const error = await asyncio.openConnection("127.0.0.1", port).then(
      () => assert.fail("the connection should be refused"),
      (e: unknown) => e,
    );
    assert.equal(error instanceof asyncio.ConnectionRefusedError, true);
    assert.equal(error instanceof asyncio.ConnectionError, true);
    assert.equal((error as NodeJS.ErrnoException).code, "ECONNREFUSED");
    assert.equal((error as Error).name, "Error", "Node's error is passed through as it is");
  });
});

test("a peer's reset surfaces as a ConnectionResetError from a stream read", async () => {
  await asyncio.run(async () => {
    const server = await asyncio.startServer(
      (_reader, writer) => {
        const sock = writer.getExtraInfo("socket") as net.Socket;
        sock.resetAndDestroy();
      },
      "127.0.0.1",
      0,
    );
    const port = server.sockets[0]!.getsockname()[1];
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", port);
    const error = await reader.read(10).then(
      () => assert.fail("the read should fail with the reset"),
      (e: unknown) => e,
    );
    assert.equal(error instanceof asyncio.ConnectionResetError, true);
    assert.equal(error instanceof asyncio.BrokenPipeError, false);
    writer.close();
    server.close();
    await server.waitClosed();
  });
});

test("CancelledError, TimeoutError and KeyboardInterrupt keep their message and default to an empty one", () => {
  for (const cls of [asyncio.CancelledError, asyncio.TimeoutError, asyncio.KeyboardInterrupt]) {
    assert.equal(new cls("why").message, "why");
    assert.equal(new cls().message, "");
  }
});

test("a thrown asyncio TimeoutError is not a CancelledError", () => {
  const error = new asyncio.TimeoutError();
  assert.equal(error instanceof asyncio.CancelledError, false);
});

test("IncompleteReadError carries the partial bytes and the expected count", () => {
  const partial = new Uint8Array([1, 2, 3]);
  const error = new asyncio.IncompleteReadError(partial, 10);
  assert.equal(error.partial, partial);
  assert.equal(error.expected, 10);
  assert.equal(error.message, "3 bytes read on a total of 10 expected bytes");
});

test("IncompleteReadError with no expected count says the separator was not found before EOF", () => {
  const error = new asyncio.IncompleteReadError(new Uint8Array([1]), null);
  assert.equal(error.expected, null);
  assert.equal(error.message, "1 bytes read before EOF, without the separator");
  assert.doesNotMatch(error.message, /undefined/);
});

test("LimitOverrunError carries its message and how many bytes to consume", () => {
  const error = new asyncio.LimitOverrunError("Separator is not found, and chunk exceed the limit", 65536);
  assert.equal(error.consumed, 65536);
  assert.equal(error.message, "Separator is not found, and chunk exceed the limit");
});

// ---------------------------------------------------------------- ExceptionGroup

test("ExceptionGroup extends AggregateError and keeps message and exceptions", () => {
  const a = new Error("a");
  const b = new TypeError("b");
  const eg = new asyncio.ExceptionGroup("several", [a, b]);
  isInstance(eg, AggregateError);
  isInstance(eg, Error);
  assert.equal(eg.message, "several");
  assert.equal(eg.name, "ExceptionGroup");
  assert.deepEqual([...eg.exceptions], [a, b]);
});

test("ExceptionGroup's exceptions and AggregateError's errors are the same array", () => {
  const eg = new asyncio.ExceptionGroup("m", [new Error("a"), new Error("b")]);
  assert.equal(eg.exceptions, eg.errors);
});

test("ExceptionGroup accepts any iterable of errors", () => {
  const a = new Error("a");
  const b = new Error("b");
  const fromSet = new asyncio.ExceptionGroup("set", new Set([a, b]));
  assert.deepEqual([...fromSet.exceptions], [a, b]);
  function* gen(): Generator<Error> {
    yield a;
    yield b;
  }
  const fromGenerator = new asyncio.ExceptionGroup("gen", gen());
  assert.deepEqual([...fromGenerator.exceptions], [a, b]);
});

test("new ExceptionGroup with no exceptions throws RangeError", () => {
  assert.throws(() => new asyncio.ExceptionGroup("empty", []), RangeError);
});

test("new ExceptionGroup with a message that is not a string or without an iterable throws TypeError", () => {
  assert.throws(() => new asyncio.ExceptionGroup(42 as unknown as string, [new Error("x")]), TypeError);
  assert.throws(() => new asyncio.ExceptionGroup("m", 5 as unknown as Error[]), TypeError);
  assert.throws(() => new asyncio.ExceptionGroup("m", null as unknown as Error[]), TypeError);
});

class AppError extends Error {
  override name = "AppError";
}
class DbError extends AppError {
  override name = "DbError";
}

/** outer: [RangeError "1", inner: [TypeError "2", RangeError "3"]] */
function sample(): {
  eg: asyncio.ExceptionGroup;
  v1: RangeError;
  t2: TypeError;
  r3: RangeError;
  inner: asyncio.ExceptionGroup;
} {
  const v1 = new RangeError("1");
  const t2 = new TypeError("2");
  const r3 = new RangeError("3");
  const inner = new asyncio.ExceptionGroup("inner", [t2, r3]);
  const eg = new asyncio.ExceptionGroup("outer", [v1, inner]);
  return { eg, v1, t2, r3, inner };
}

test("split with a class keeps the nesting and the messages on both sides", () => {
  const { eg, v1, t2, r3 } = sample();
  const [match, rest] = eg.split(RangeError);
  isInstance(match, asyncio.ExceptionGroup, "match");
  isInstance(rest, asyncio.ExceptionGroup, "rest");
  assert.equal(match.message, "outer");
  assert.equal(match.exceptions[0], v1);
  const matchInner = match.exceptions[1];
  isInstance(matchInner, asyncio.ExceptionGroup, "nested match");
  assert.equal(matchInner.message, "inner");
  assert.deepEqual([...matchInner.exceptions], [r3]);
  assert.equal(rest.message, "outer");
  assert.equal(rest.exceptions.length, 1);
  const restInner = rest.exceptions[0];
  isInstance(restInner, asyncio.ExceptionGroup, "nested rest");
  assert.equal(restInner.message, "inner");
  assert.deepEqual([...restInner.exceptions], [t2]);
});

test("split with a predicate calls it on nested groups as well as on leaves", () => {
  const { eg } = sample();
  const seen: string[] = [];
  const [match, rest] = eg.split((e) => {
    seen.push((e as Error).name);
    return false;
  });
  assert.deepEqual(seen, ["ExceptionGroup", "RangeError", "ExceptionGroup", "TypeError", "RangeError"]);
  assert.equal(match, null);
  isInstance(rest, asyncio.ExceptionGroup, "rest");
});

test("split with a predicate that matches a nested group takes that group whole", () => {
  const { eg, v1, inner } = sample();
  const [match, rest] = eg.split((e) => e === inner);
  isInstance(match, asyncio.ExceptionGroup, "match");
  assert.deepEqual([...match.exceptions], [inner]);
  isInstance(rest, asyncio.ExceptionGroup, "rest");
  assert.deepEqual([...rest.exceptions], [v1]);
});

test("split gives null for the rest when everything matches", () => {
  const { eg } = sample();
  const [match, rest] = eg.split(Error);
  isInstance(match, asyncio.ExceptionGroup, "match");
  assert.equal(match.message, "outer");
  assert.equal(rest, null);
});

test("split gives null for the match when nothing matches", () => {
  const { eg } = sample();
  const [match, rest] = eg.split(SyntaxError);
  assert.equal(match, null);
  isInstance(rest, asyncio.ExceptionGroup, "rest");
  assert.equal(rest.exceptions.length, 2);
});

test("split by a class matches subclasses too", () => {
  const db = new DbError("db");
  const app = new AppError("app");
  const other = new Error("other");
  const eg = new asyncio.ExceptionGroup("m", [db, app, other]);
  const [match, rest] = eg.split(AppError);
  assert.deepEqual([...match!.exceptions], [db, app]);
  assert.deepEqual([...rest!.exceptions], [other]);
  const [onlyDb] = eg.split(DbError);
  assert.deepEqual([...onlyDb!.exceptions], [db]);
});

test("split by ExceptionGroup itself matches the whole group", () => {
  const { eg } = sample();
  const [match, rest] = eg.split(asyncio.ExceptionGroup);
  assert.equal(match, eg);
  assert.equal(rest, null);
});

test("split keeps the group's cause on the derived groups", () => {
  const cause = new Error("root");
  const eg = new asyncio.ExceptionGroup("m", [new RangeError("r"), new TypeError("t")]);
  eg.cause = cause;
  const [match, rest] = eg.split(RangeError);
  assert.equal(match!.cause, cause);
  assert.equal(rest!.cause, cause);
});

test("the groups split returns are ExceptionGroups that can be split again", () => {
  const { eg, r3 } = sample();
  const [match] = eg.split(RangeError);
  const [again] = match!.split((e) => e === r3);
  isInstance(again, asyncio.ExceptionGroup, "match of the match");
  const nested = again.exceptions[0];
  isInstance(nested, asyncio.ExceptionGroup, "nested");
  assert.deepEqual([...nested.exceptions], [r3]);
});

test("subgroup with a class keeps only the matching leaves, nesting kept", () => {
  const { eg, t2 } = sample();
  const sub = eg.subgroup(TypeError);
  isInstance(sub, asyncio.ExceptionGroup, "subgroup");
  assert.equal(sub.message, "outer");
  assert.equal(sub.exceptions.length, 1);
  const nested = sub.exceptions[0];
  isInstance(nested, asyncio.ExceptionGroup, "nested");
  assert.equal(nested.message, "inner");
  assert.equal(nested.exceptions.length, 1);
  assert.equal(nested.exceptions[0], t2);
});

test("subgroup with a predicate keeps only the leaves it accepts", () => {
  const { eg, v1, r3 } = sample();
  const sub = eg.subgroup((e) => e instanceof RangeError);
  isInstance(sub, asyncio.ExceptionGroup, "subgroup");
  assert.equal(sub.exceptions[0], v1);
  const nested = sub.exceptions[1];
  isInstance(nested, asyncio.ExceptionGroup, "nested");
  assert.deepEqual([...nested.exceptions], [r3]);
});

test("subgroup gives null when nothing matches", () => {
  const { eg } = sample();
  assert.equal(eg.subgroup(SyntaxError), null);
  assert.equal(
    eg.subgroup(() => false),
    null,
  );
});

test("subgroup with a predicate accepting the group itself returns the whole group", () => {
  const { eg } = sample();
  assert.equal(
    eg.subgroup((e) => e instanceof asyncio.ExceptionGroup),
    eg,
  );
});

test("split and subgroup refuse a matcher that is neither a class nor a function", () => {
  const { eg } = sample();
  assert.throws(() => eg.split(42 as unknown as asyncio.ExceptionMatcher), TypeError);
  assert.throws(() => eg.subgroup("RangeError" as unknown as asyncio.ExceptionMatcher), TypeError);
});

test("the ExceptionGroup of a failed TaskGroup can be split by error class", async () => {
  const error = await asyncio
    .run(() =>
      new asyncio.TaskGroup().with((tg) => {
        tg.createTask(async () => {
          throw new RangeError("bad value");
        });
        tg.createTask(async () => {
          throw new TypeError("bad type");
        });
      }),
    )
    .then(
      () => null,
      (e: unknown) => e,
    );
  isInstance(error, asyncio.ExceptionGroup);
  const [ranges, rest] = error.split(RangeError);
  assert.deepEqual(
    ranges!.exceptions.map((e) => (e as Error).message),
    ["bad value"],
  );
  assert.deepEqual(
    rest!.exceptions.map((e) => (e as Error).message),
    ["bad type"],
  );
});

// ---------------------------------------------------------------- how a group is printed

/** An error whose stack is one known line, so that a rendering can be compared whole. */
function named<T extends Error>(error: T, frame: string): T {
  error.stack = `${error.name}: ${error.message}\n    at ${frame}`;
  return error;
}

test("an ExceptionGroup is shown with each sub-error once, numbered and nested as Python prints a group", () => {
  const inner = named(new asyncio.ExceptionGroup("inner", [named(new TypeError("b"), "b.ts:1")]), "inner.ts:1");
  const outer = named(new asyncio.ExceptionGroup("outer", [named(new RangeError("a"), "a.ts:1"), inner]), "outer.ts:1");
  assert.equal(
    inspect(outer),
    [
      "ExceptionGroup: outer (2 sub-exceptions)",
      "    at outer.ts:1",
      "+-+---------------- 1 ----------------",
      "  | RangeError: a",
      "  |     at a.ts:1",
      "  +---------------- 2 ----------------",
      "  | ExceptionGroup: inner (1 sub-exception)",
      "  |     at inner.ts:1",
      "  +-+---------------- 1 ----------------",
      "    | TypeError: b",
      "    |     at b.ts:1",
      "    +------------------------------------",
    ].join("\n"),
  );
});

test("a group of more than 15 errors shows the first 15 and counts the others, as Python", () => {
  const errors = Array.from({ length: 17 }, (_, i) => named(new Error(`e${i}`), `f${i}.ts:1`));
  const text = inspect(new asyncio.ExceptionGroup("many", errors));
  assert.match(text, /\| Error: e14\n/);
  assert.doesNotMatch(text, /e15|e16/);
  assert.match(text, /\+---------------- \.\.\. ----------------\n {2}\| and 2 more exceptions\n {2}\+-{36}$/);
});

test("exceptions is the errors array itself, not an own property shown a second time", () => {
  const group = new asyncio.ExceptionGroup("g", [new Error("x")]);
  assert.equal(group.exceptions, group.errors);
  assert.equal(Object.keys(group).includes("exceptions"), false);
  assert.equal(inspect(group, { customInspect: false }).match(/Error: x/g)?.length, 1);
});

test("an uncaught ExceptionGroup prints each sub-error once, nested, and the process exits with code 1", () => {
  const fixture = fileURLToPath(new URL("./fixtures/uncaught-group.ts", import.meta.url));
  const result = spawnSync(process.execPath, ["--import", "tsx", fixture], { encoding: "utf8", timeout: 60_000 });
  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stderr.match(/RangeError: first failure/g)?.length, 1, result.stderr);
  assert.equal(result.stderr.match(/TypeError: nested failure/g)?.length, 1, result.stderr);
  assert.match(result.stderr, /ExceptionGroup: unhandled errors in a TaskGroup \(2 sub-exceptions\)/);
  assert.match(result.stderr, /^ {2}\| ExceptionGroup: unhandled errors in a TaskGroup \(1 sub-exception\)$/m);
  assert.match(result.stderr, /^ {4}\| TypeError: nested failure$/m);
  assert.doesNotMatch(result.stderr, /\[errors\]|exceptions: \[/);
});
