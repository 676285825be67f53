/**
 * The scenario language of the differential test: a small, JSON-serialisable AST of concurrent programs that
 * `emit_python.ts` turns into a CPython 3.13 asyncio program and `emit_js.ts` into the same program written with
 * asyncio-ts, line by line. `generate.ts` makes random programs of it.
 *
 * Conventions shared by both emitters:
 * - Every print is one line: a step marker (`"t3 s2"`: function t3, its second printing statement) and values
 *   passed through `show()`, which formats the same way in both languages.
 * - Every timer is a *site* with a residue r (0 <= r < `Program.sites`) and a gap g: when it is armed at slot s
 *   (`s = round((loop.time() - T0) / SLOT)`), its deadline is the first slot k >= s + g with k % sites == r.
 *   Distinct sites never share a deadline, and deadlines are at least one slot (50 ms) from now and each other.
 * @module
 */

/** Bumped whenever the generator or the emitters change what a stored program means. */
export const SCENARIO_VERSION = 2;

/** The synchronization primitives a program can declare. */
export type PrimKind = "lock" | "sem" | "bsem" | "event" | "cond" | "barrier" | "queue" | "lifo" | "pq";

/** The queue kinds: FIFO, LIFO, and priority (whose items are `[priority, unique number]` pairs). */
export const QUEUE_KINDS: readonly PrimKind[] = ["queue", "lifo", "pq"];

/**
 * A primitive created at the start of main: `size` is the semaphore value, barrier parties or queue maxsize. A
 * Condition comes with a counter `<name>_n` that every notify increments, for `wait_for` predicates.
 */
export interface Prim {
  kind: PrimKind;
  name: string;
  size: number;
}

/** A timer site (see the module comment). */
export interface Timer {
  site: number;
  gap: number;
}

/** Values a print can show. */
export type Expr =
  | { k: "done" | "cancelled" | "cancelling"; task: string }
  | { k: "selfCancelling" }
  | { k: "locked" | "isSet" | "qsize" | "nWaiting" | "broken"; prim: string }
  | { k: "now" };

/**
 * The helper coroutines every program has: `ret`/`nested` return at once, `raise` raises at once, `yield` and
 * `sleep` suspend (sleep(0), or a timed sleep at `timer`), `yieldRaise` suspends then raises, `cancelSelf` cancels
 * the task running it (with its argument as message), then suspends (so it ends cancelled; only used as a `gather` item, which runs in its own task).
 */
export type HelperName = "ret" | "nested" | "raise" | "yield" | "yieldRaise" | "sleep" | "cancelSelf";

/** A call of a helper coroutine with a string argument. */
export interface HelperCall {
  fn: HelperName;
  arg: string;
  timer?: Timer;
}

/** Something a statement can await: a top-level task, a helper coroutine, or `shield(task)`. */
export type AwaitTarget = { k: "task"; task: string } | { k: "helper"; call: HelperCall } | { k: "shield"; task: string };

/** Exception classes a handler can catch (Python spelling; `Exception` does not catch CancelledError). */
export type CatchClass = "CancelledError" | "Boom" | "TimeoutError" | "ExceptionGroup" | "Exception";

/**
 * An `except` clause: prints the exception, then re-raises it, swallows it (optionally calling `uncancel()`), or
 * raises `Boom(label)` in its place ("convert"; "quietConvert" does so without printing).
 */
export interface Handler {
  cls: CatchClass;
  label: string;
  action: "reraise" | "swallow" | "uncancel" | "convert" | "quietConvert";
  v: string;
}

/** A function run as a task: `body_<name>`, returning `"<name> ok"` unless its body ends by raising. */
export interface TaskDef {
  name: string;
  body: Stmt[];
  returns: boolean;
}

/**
 * Statements. `label` is the step marker printed; `v` names a variable unique in the program. Of the less obvious
 * ones: `qTaskDone` and `semRelease` print "ok" or the ValueError raised; `condWaitFor` waits (holding the
 * condition) until the condition's counter reaches `n`; `evPulse` sets then clears an Event; `reschedule` moves
 * the deadline of the enclosing `timeout` block named `cm` to the timer's deadline (null: to now, so that it
 * expires at the loop's next iteration).
 */
export type Stmt =
  | { k: "print"; label: string; exprs: Expr[] }
  | { k: "sleep0" }
  | { k: "sleep"; timer: Timer }
  | { k: "call"; label: string; v: string; call: HelperCall }
  | { k: "create"; task: string }
  | { k: "await"; label: string; v: string; target: AwaitTarget }
  | { k: "cancel"; label: string; task: string; msg: string | null }
  | { k: "raise"; msg: string }
  | { k: "try"; body: Stmt[]; handlers: Handler[]; fin: Stmt[] | null }
  | { k: "hold"; prim: string; label: string; body: Stmt[] }
  | { k: "evWait"; label: string; v: string; prim: string }
  | { k: "evSet" | "evClear"; prim: string }
  | { k: "condWait"; label: string; prim: string }
  | { k: "condNotify"; prim: string; all: boolean }
  | { k: "qPut"; label: string; prim: string; item: number | [number, number]; nowait: boolean }
  | { k: "qGet"; label: string; v: string; prim: string; nowait: boolean }
  | { k: "qShutdown"; prim: string; immediate: boolean }
  | { k: "qTaskDone"; label: string; v: string; prim: string }
  | { k: "qJoin"; label: string; prim: string }
  | { k: "condWaitFor"; label: string; v: string; prim: string; n: number }
  | { k: "semRelease"; label: string; v: string; prim: string }
  | { k: "evPulse"; prim: string }
  | { k: "barrierReset"; prim: string }
  | { k: "reschedule"; cm: string; timer: Timer | null }
  | { k: "barrierWait"; label: string; v: string; prim: string }
  | { k: "barrierAbort"; prim: string }
  | { k: "gather"; label: string; v: string; items: AwaitTarget[]; returnExceptions: boolean }
  | { k: "wait"; label: string; v: string; tasks: string[]; returnWhen: ReturnWhen; timer: Timer | null }
  | { k: "waitFor"; label: string; v: string; target: AwaitTarget; timer: Timer }
  | { k: "asCompleted"; label: string; v: string; tasks: string[]; timer: Timer | null; form: "sync" | "async" }
  | { k: "timeout"; label: string; v: string; timer: Timer; body: Stmt[] }
  | { k: "taskGroup"; label: string; v: string; children: TaskDef[]; body: Stmt[] };

/** `asyncio.wait`'s `return_when`. */
export type ReturnWhen = "FIRST_COMPLETED" | "FIRST_EXCEPTION" | "ALL_COMPLETED";

/** One generated program. `tasks` are created by main's `create` statements, in order. */
export interface Program {
  version: number;
  seed: number;
  sites: number;
  prims: Prim[];
  tasks: TaskDef[];
  main: Stmt[];
}

/** The final state of a primitive, as print expressions. */
export function primState(p: Prim): Expr[] {
  switch (p.kind) {
    case "event":
      return [{ k: "isSet", prim: p.name }];
    case "queue":
    case "lifo":
    case "pq":
      return [{ k: "qsize", prim: p.name }];
    case "barrier":
      return [{ k: "nWaiting", prim: p.name }, { k: "broken", prim: p.name }];
    default:
      return [{ k: "locked", prim: p.name }];
  }
}
