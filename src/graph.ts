/**
 * Call graphs, as Python 3.14's `asyncio.graph`: who awaits whom, through TaskGroups, `gather`, `waitFor` and `shield`.
 *
 * `captureCallGraph(future?)` starts at a Future or Task (default: the current task) and climbs to what awaits it:
 * the task suspended on it, the gather or shield Future wrapping it, the parent task of its TaskGroup, and so on.
 * Each node carries a call stack "where we can know it": the real stack (with V8's async frames) for the current
 * task; for a suspended task in debug mode, the stack where the Future it waits on was created, when its own body
 * created it (`await sleep(1)`, an Event's waiter, a TaskGroup's exit); otherwise the task's coroutine function alone,
 * without a location. JavaScript cannot inspect a suspended async function's frames, as Python inspects coroutines.
 *
 * In debug mode, the signal `SIGUSR2` makes the process print the call graphs of every task of its loops to stderr.
 * @module
 */
import { inspect, loadWorkerThreads, process } from "./_internal/node.js";
import { currentTaskOrNull, runningLoopOrNull, runningLoops } from "./_internal/kernel/context.js";
import { addAwaitedBy, discardAwaitedBy, registeredAwaitedFutures, registeredAwaitersOf } from "./_internal/kernel/awaited_by.js";
import { type StackFrame, DUMP_SIGNAL, creatorOf, parseStack, setTaskDumper } from "./_internal/tools/debug.js";
import { type FrameSnapshot, type ProcessSnapshot, SNAPSHOT_KEY, type TaskSnapshot } from "./_internal/tools/task_snapshot.js";
import { RuntimeError } from "./exceptions.js";
import type { EventLoop } from "./events.js";
import { Future } from "./futures.js";
import { Task } from "./tasks.js";
import { GatheringFuture } from "./waiting.js";

/** One frame of a call stack, innermost first in `FutureCallGraph.callStack`. */
export interface FrameCallGraphEntry {
  /** The function's name as V8 prints it (`worker`, `TaskGroup.with`, `<anonymous>`). */
  readonly functionName: string;
  /** The file (a path, or a `node:` specifier); null when the location is unknown. */
  readonly fileName: string | null;
  readonly lineNumber: number | null;
  readonly columnNumber: number | null;
  /** An async function's frame (Python's "async" frames): V8 printed it as `async`, or it is the task's coroutine. */
  readonly isAsync: boolean;
}

/** A Future or Task, its call stack where it can be known, and the graphs of what awaits it (Python's `FutureCallGraph`). */
export interface FutureCallGraph {
  readonly future: Future<unknown>;
  readonly callStack: readonly FrameCallGraphEntry[];
  readonly awaitedBy: readonly FutureCallGraph[];
}

/** Options of `captureCallGraph`, `formatCallGraph`, `printCallGraph`. */
export interface CallGraphOptions {
  /** For the current task: how many frames to skip from the top, 1 being the caller (default 1). */
  depth?: number;
  /**
   * Keep this many frames of each call stack: a positive number keeps the outermost ones, a negative number the
   * innermost ones, 0 none (default: all), as Python's `limit`.
   */
  limit?: number | null;
}

type AnyFuture = Future<unknown>;
/** Future → the Futures and Tasks awaiting it, derived from the tasks of one loop. */
type AwaiterIndex = Map<AnyFuture, AnyFuture[]>;

/**
 * Who awaits whom on `loop`, from the fields the kernel keeps anyway: each pending task's `_futWaiter`, each pending
 * gather's children, and the links registered in `_internal/awaited_by` (TaskGroups, shield, user code).
 */
function buildIndex(loop: EventLoop): AwaiterIndex {
  const index: AwaiterIndex = new Map();
  const queue: AnyFuture[] = Array.from(loop._tasks);
  const seen = new Set<AnyFuture>();
  const link = (fut: AnyFuture, waiter: AnyFuture): void => {
    if (fut.done()) return;
    const list = index.get(fut);
    if (list === undefined) index.set(fut, [waiter]);
    else if (!list.includes(waiter)) list.push(waiter);
    queue.push(fut);
  };
  for (let i = 0; i < queue.length; i++) {
    const x = queue[i]!;
    if (seen.has(x) || x.done()) continue;
    seen.add(x);
    if (x instanceof Task) {
      const w = x._futWaiter;
      // A wait of the kernel's own that is not a Future (a task's sleep) has nothing awaiting it but this task.
      if (w instanceof Future && w._loop === loop) link(w, x);
    }
    if (x instanceof GatheringFuture) for (const child of x._children) link(child, x);
    for (const fut of registeredAwaitedFutures(x)) link(fut, x);
  }
  return index;
}

function awaitersOf(fut: AnyFuture, index: AwaiterIndex): AnyFuture[] {
  const out: AnyFuture[] = [];
  for (const w of registeredAwaitersOf(fut)) if (!w.done()) out.push(w);
  for (const w of index.get(fut) ?? []) if (!out.includes(w)) out.push(w);
  return out;
}

// ------------------------------------------------------------------ call stacks

const PLUMBING = /^new |(^|\.)(createFuture|_newFuture)$/;

/**
 * V8 names a method call after its receiver: the task calls its coroutine function as `task._coro()` ("Task.worker"),
 * and a namespace import's functions are "Module.sleep". Only the function's own name is shown.
 */
const RECEIVER = /^(Task|Module|Object)\./;

/**
 * Frames of a task's body: no `node:` frames, nothing from where the loop started the body (`attachBody`) on; the
 * frame the loop called is the task's coroutine function, an async frame when that function is async.
 */
function bodyFrames(frames: StackFrame[], dropPlumbing: boolean, task: Task<unknown>): FrameCallGraphEntry[] {
  let start = 0;
  // A creation stack begins in the constructors and factories of the Future itself.
  if (dropPlumbing) while (start < frames.length && frames[start]!.internal && PLUMBING.test(frames[start]!.functionName)) start++;
  const out: FrameCallGraphEntry[] = [];
  // A resumed body runs from Node's microtask or tick processing, whose `node:` frames sit below it.
  let bottom = frames.length - 1;
  while (bottom >= 0 && frames[bottom]!.fileName.startsWith("node:")) bottom--;
  for (let i = start; i < frames.length; i++) {
    const f = frames[i]!;
    if (f.internal && f.functionName === "attachBody") {
      const last = out[out.length - 1];
      if (last !== undefined && !last.isAsync) out[out.length - 1] = { ...last, isAsync: coroutineEntry(task).isAsync };
      break;
    }
    if (f.fileName.startsWith("node:")) continue;
    if (i === bottom && !f.isAsync) {
      // The bottom of a resumed body's stack: the coroutine function itself, when the names agree.
      const coro = coroutineEntry(task);
      if (coro.isAsync && f.functionName.replace(RECEIVER, "") === coro.functionName) {
        out.push({ ...coro, fileName: f.fileName, lineNumber: f.lineNumber, columnNumber: f.columnNumber });
        break;
      }
    }
    out.push({
      functionName: f.functionName.replace(RECEIVER, ""),
      fileName: f.fileName,
      lineNumber: f.lineNumber,
      columnNumber: f.columnNumber,
      isAsync: f.isAsync,
    });
  }
  return out;
}

function coroutineEntry(task: Task<unknown>): FrameCallGraphEntry {
  const coro = task.getCoro() as { name?: string; constructor?: { name?: string } };
  return {
    functionName: coro.name || "<anonymous>",
    fileName: null,
    lineNumber: null,
    columnNumber: null,
    isAsync: coro.constructor?.name === "AsyncFunction",
  };
}

/** The stack of a Future that is not the current task (see the module comment). */
function suspendedStack(fut: AnyFuture): FrameCallGraphEntry[] {
  if (!(fut instanceof Task) || fut.done()) return [];
  const waiter = fut._futWaiter;
  if (waiter instanceof Future && !waiter.done() && waiter._sourceTraceback !== undefined && creatorOf(waiter) === fut) {
    const frames = bodyFrames(parseStack(waiter._sourceTraceback), true, fut);
    if (frames.length > 0) return frames;
  }
  return [coroutineEntry(fut)];
}

/** The current stack from the caller of `entry` on, skipping `depth - 1` more frames. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
function currentStack(task: Task<unknown>, entry: (...args: any[]) => unknown, depth: number): FrameCallGraphEntry[] {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 200;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, entry);
  Error.stackTraceLimit = saved;
  return bodyFrames(parseStack(holder.stack).slice(depth - 1), false, task);
}

function trim<T>(stack: T[], limit: number | null): T[] {
  if (limit === null) return stack;
  if (limit === 0) return [];
  return limit > 0 ? stack.slice(-limit) : stack.slice(0, -limit);
}

// ------------------------------------------------------------------ capture

/** How a graph gets the call stack of each Future in it. */
type StackOf = (fut: AnyFuture) => FrameCallGraphEntry[];

function build(fut: AnyFuture, stackOf: StackOf, index: AwaiterIndex, path: Set<AnyFuture>): FutureCallGraph {
  path.add(fut);
  const awaitedBy: FutureCallGraph[] = [];
  for (const w of awaitersOf(fut, index)) {
    // A cycle (tasks awaiting each other) is shown once.
    if (!path.has(w)) awaitedBy.push(build(w, stackOf, index, path));
  }
  path.delete(fut);
  return { future: fut, callStack: stackOf(fut), awaitedBy };
}

function checkOptions(options: CallGraphOptions, method: string): { depth: number; limit: number | null } {
  const depth = options.depth ?? 1;
  const limit = options.limit ?? null;
  if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 1) {
    throw new RangeError(`${method}: expected \`depth\` to be an integer from 1 and up, got ${String(depth)}`);
  }
  if (limit !== null && (typeof limit !== "number" || !Number.isInteger(limit))) {
    throw new TypeError(`${method}: expected \`limit\` to be an integer or null, got ${String(limit)}`);
  }
  return { depth, limit };
}

function capture(
  future: AnyFuture | null | undefined,
  options: CallGraphOptions,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parameter list of any[] is what lets every function's own signature through
  entry: (...args: any[]) => unknown,
  method: string,
): FutureCallGraph | null {
  const { depth, limit } = checkOptions(options, method);
  const loop = runningLoopOrNull();
  const current = loop === null ? null : currentTaskOrNull();
  let root: AnyFuture;
  if (future !== undefined && future !== null) {
    if (!(future instanceof Future)) {
      throw new TypeError(`${inspect(future, { depth: -1 })} object does not appear to be compatible with asyncio.Future`);
    }
    root = future;
  } else {
    if (loop === null) {
      throw new RuntimeError(`${method}() is called outside of a running event loop and no *future* to introspect was provided`);
    }
    if (current === null) return null;
    root = current;
  }
  // The running task, wherever it appears in the graph, shows its real stack.
  const running = current !== null ? currentStack(current, entry, depth) : [];
  const stackOf: StackOf = (fut) => trim(fut === current ? running : suspendedStack(fut), limit);
  return build(root, stackOf, buildIndex(root._loop), new Set());
}

/**
 * The call graph of `future` (default: the current task): the Future, its call stack, and the graphs of what awaits
 * it. Null when no Future is given and no task is running. `RuntimeError` outside a running loop without a Future;
 * `TypeError` for something that is not a Future.
 */
export function captureCallGraph(future?: Future<unknown> | null, options: CallGraphOptions = {}): FutureCallGraph | null {
  return capture(future, options, captureCallGraph, "captureCallGraph");
}

// ------------------------------------------------------------------ rendering

const ids = new WeakMap<AnyFuture, number>();
let nextId = 1;

/** A stable number per Future, in the place of Python's `id()`. */
function numberOf(fut: AnyFuture): number {
  let id = ids.get(fut);
  if (id === undefined) {
    id = nextId++;
    ids.set(fut, id);
  }
  return id;
}

/** The id that call graphs print for a Future. */
function idOf(fut: AnyFuture): string {
  return `0x${numberOf(fut).toString(16)}`;
}

/** A string as Python's `repr` writes it. */
function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
  if (quote === "'") out = out.replace(/'/g, "\\'");
  return quote + out + quote;
}

function frameLine(f: FrameCallGraphEntry): string {
  const name = `${f.isAsync ? "async " : ""}${f.functionName}()`;
  if (f.fileName === null) return `in ${name}`;
  return `File ${pyRepr(f.fileName)}, line ${f.lineNumber}, in ${name}`;
}

function render(graph: FutureCallGraph, buf: string[], level: number): void {
  const add = (line: string): void => {
    buf.push("    ".repeat(level) + line);
  };
  const fut = graph.future;
  if (fut instanceof Task) add(`* Task(name=${pyRepr(fut.getName())}, id=${idOf(fut)})`);
  else add(`* Future(id=${idOf(fut)})`);
  if (graph.callStack.length > 0) {
    add("  + Call stack:");
    for (const f of graph.callStack) add(`  |   ${frameLine(f)}`);
  }
  if (graph.awaitedBy.length > 0) {
    add("  + Awaited by:");
    for (const parent of graph.awaitedBy) render(parent, buf, level + 1);
  }
}

function renderGraph(graph: FutureCallGraph | null): string {
  if (graph === null) return "";
  const buf: string[] = [];
  render(graph, buf, 0);
  return buf.join("\n");
}

/**
 * The call graph of `future` (default: the current task) as text, in Python's layout:
 *
 * ```text
 * * Task(name='worker', id=0x3)
 *   + Call stack:
 *   |   File '/app/main.ts', line 12, in async worker()
 *   + Awaited by:
 *       * Task(name='main', id=0x1)
 * ```
 *
 * "" when no Future is given and no task is running.
 */
export function formatCallGraph(future?: Future<unknown> | null, options: CallGraphOptions = {}): string {
  return renderGraph(capture(future, options, formatCallGraph, "formatCallGraph"));
}

/** Writes `formatCallGraph(future, options)` and a newline to `options.file` (default stdout). */
export function printCallGraph(
  future?: Future<unknown> | null,
  options: CallGraphOptions & { file?: { write(text: string): unknown } } = {},
): void {
  const text = renderGraph(capture(future, options, printCallGraph, "printCallGraph"));
  (options.file ?? process.stdout).write(text + "\n");
}

/**
 * Records that `fut` is awaited by `waiter` (Python's `future_add_to_awaited_by`), for code that waits through
 * done callbacks rather than `await`, so call graphs can show the link. Does nothing unless both are Futures.
 */
export function futureAddToAwaitedBy(fut: Future<unknown>, waiter: Future<unknown>): void {
  if (fut instanceof Future && waiter instanceof Future) addAwaitedBy(fut, waiter);
}

/** Forgets a link recorded with `futureAddToAwaitedBy`. Does nothing unless both are Futures. */
export function futureDiscardFromAwaitedBy(fut: Future<unknown>, waiter: Future<unknown>): void {
  if (fut instanceof Future && waiter instanceof Future) discardAwaitedBy(fut, waiter);
}

// ------------------------------------------------------------------ the dump signal

/** Every pending task of `loop`, as the graphs of the tasks that await no other task (each graph climbs to the roots). */
function dumpLoop(loop: EventLoop): string {
  const index = buildIndex(loop);
  const tasks = Array.from(loop._tasks).filter((t) => !t.done());
  const awaitsATask = new Set<AnyFuture>();
  const markAbove = (fut: AnyFuture, seen: Set<AnyFuture>): void => {
    for (const w of awaitersOf(fut, index)) {
      if (seen.has(w)) continue;
      seen.add(w);
      if (w instanceof Task) awaitsATask.add(w);
      else markAbove(w, seen);
    }
  };
  for (const t of tasks) markAbove(t, new Set([t]));
  const lines = [`Call graphs of the ${tasks.length} pending tasks of ${loop} (${DUMP_SIGNAL}):`];
  const shown = new Set<AnyFuture>();
  const collect = (g: FutureCallGraph): void => {
    shown.add(g.future);
    g.awaitedBy.forEach(collect);
  };
  // Leaves first; then whatever they did not reach (tasks awaiting each other in a cycle).
  for (const pass of [true, false]) {
    for (const t of tasks) {
      if (shown.has(t) || (pass && awaitsATask.has(t))) continue;
      const graph = build(t, suspendedStack, index, new Set());
      collect(graph);
      lines.push(renderGraph(graph));
    }
  }
  return lines.join("\n");
}

setTaskDumper(dumpLoop);

// ------------------------------------------------------------------ the snapshot of `asyncio-ts ps`

/** V8's note on a function called under another name (`main [as _coro]`): the task calling its coroutine. */
const ALIAS = / \[as [^\]]*\]$/;

function frameSnapshot(f: FrameCallGraphEntry): FrameSnapshot {
  return { name: f.functionName.replace(ALIAS, ""), file: f.fileName, line: f.lineNumber };
}

/** The tasks awaiting `fut`: its awaiters that are tasks, and those of the gathers and shields between. */
function awaitingTasks(fut: AnyFuture, index: AwaiterIndex): Task<unknown>[] {
  const out: Task<unknown>[] = [];
  const seen = new Set<AnyFuture>([fut]);
  const climb = (x: AnyFuture): void => {
    for (const w of awaitersOf(x, index)) {
      if (seen.has(w)) continue;
      seen.add(w);
      if (w instanceof Task) out.push(w);
      else climb(w);
    }
  };
  climb(fut);
  return out;
}

/**
 * Every pending task of the running loops of this thread, as JSON (see `_internal/tools/task_snapshot.ts`). Called through
 * the inspector by `asyncio-ts ps`, possibly in the middle of a busy loop's code: then the stack below this call is
 * where that code is, and the task it belongs to shows it as its own stack.
 */
function taskSnapshot(): string {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 200;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, taskSnapshot);
  Error.stackTraceLimit = saved;
  // The expression the inspector evaluated sits on top, in a script without a file.
  const below = parseStack(holder.stack).filter((f) => f.fileName !== "<anonymous>");
  const current = currentTaskOrNull();
  const running = current !== null ? bodyFrames(below, false, current) : [];
  const stackOf = (task: Task<unknown>): FrameSnapshot[] => (task === current ? running : suspendedStack(task)).map(frameSnapshot);
  const snapshot: ProcessSnapshot = {
    pid: process.pid,
    threadId: loadWorkerThreads().threadId,
    busyAt: below
      .filter((f) => !f.fileName.startsWith("node:"))
      .map((f) => ({ name: f.functionName.replace(RECEIVER, "").replace(ALIAS, ""), file: f.fileName, line: f.lineNumber })),
    loops: [],
  };
  for (const loop of runningLoops) {
    if (loop._closed) continue;
    const index = buildIndex(loop);
    const tasks: TaskSnapshot[] = [];
    for (const task of loop._tasks) {
      if (task.done()) continue;
      tasks.push({
        id: numberOf(task),
        name: task.getName(),
        stack: stackOf(task),
        awaitedBy: awaitingTasks(task, index).map((t) => ({ id: numberOf(t), stack: stackOf(t) })),
        running: task === current,
      });
    }
    snapshot.loops.push({ tasks });
  }
  return JSON.stringify(snapshot);
}

Object.defineProperty(globalThis, Symbol.for(SNAPSHOT_KEY), { value: taskSnapshot, configurable: true, writable: true });
