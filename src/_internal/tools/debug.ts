/**
 * Debug mode (`run(main, { debug: true })`, `loop.setDebug(true)`, `ASYNCIO_DEBUG=1`): everything here runs only
 * when a loop is in debug mode, so a loop not in debug mode pays one boolean test per operation.
 *
 * - Creation stacks of Futures and Tasks (`_sourceTraceback`), and "created at file:line" in their repr.
 * - Slow callbacks and steps: each ready-queue callback is timed; each task step is timed from its start to its end
 *   (as the driver learns it, see `EventLoop`'s header). Code of a task that continues outside the loop's steps, after a promise of
 *   Node's settled, is timed through async hooks, which are on only while a loop in debug mode runs.
 * - `callSoon`/`callLater`/`callAt` from outside the loop's async context: Python's "Non-thread-safe operation".
 * - Tasks still pending when their loop closes: "Task was destroyed but it is pending!" (see `reportPendingTasks`).
 * Resources never closed are not tracked here: transports and servers register with `netutil.trackResource`, and
 * `loop.close()` releases those still open, logging each in debug mode.
 * - SIGUSR2 dumps the call graphs of every task of the loops running in debug mode to stderr.
 */
import { createHook, fileURLToPath, inspect, loadWorkerThreads, performance, process } from "../node.js";
import type { AsyncHook } from "node:async_hooks";
import { RUN_DONE, type RunResult, type Runnable, currentTaskOrNull, frameStorage, runningLoopOrNull } from "../kernel/context.js";
import { RuntimeError } from "../../exceptions.js";
import type { EventLoop } from "../../events.js";
import type { Future } from "../../futures.js";
import type { Task } from "../../tasks.js";

/** The signal that makes a process running a loop in debug mode print all its tasks' call graphs. */
export const DUMP_SIGNAL = "SIGUSR2";

/** How many frames a creation stack keeps (V8's default of 10 is mostly our own frames for a Task). */
const CREATION_STACK_LIMIT = 30;

// ------------------------------------------------------------------ stacks

// This package's own code: `src/` (or `dist/` when built, whose source maps point back into `src/`).
const packageRoot = new URL("../../../", import.meta.url);
const ownDirUrls = ["src/", "dist/"].map((dir) => new URL(dir, packageRoot).href);
const ownDirPaths = ownDirUrls.map((url) => fileURLToPath(url));

/** The directories whose frames count as this package's own (`src/` and `dist/`, as paths); for tests. */
export function ownCodeDirectories(): readonly string[] {
  return ownDirPaths;
}

function isOwnCode(location: string, fileName: string): boolean {
  return ownDirUrls.some((url) => location.startsWith(url)) || ownDirPaths.some((path) => fileName.startsWith(path));
}

/** One parsed line of a V8 stack trace. */
export interface StackFrame {
  functionName: string;
  /** A path (file URLs are turned into paths), or a `node:` specifier. */
  fileName: string;
  lineNumber: number;
  columnNumber: number;
  /** V8 printed the frame as `at async ...`: a suspended async function further up the await chain. */
  isAsync: boolean;
  /** The frame is in this package's own code. */
  internal: boolean;
}

const FRAME_RE = /^\s*at (?:(async) )?(?:(.*?) \((.+):(\d+):(\d+)\)|(.+):(\d+):(\d+))$/;

/** The frames of a V8 stack text that have a location (`at new Promise (<anonymous>)` and the like are left out). */
export function parseStack(text: string | undefined): StackFrame[] {
  const frames: StackFrame[] = [];
  if (text === undefined) return frames;
  for (const line of text.split("\n")) {
    const m = FRAME_RE.exec(line);
    if (m === null) continue;
    const location = m[3] ?? m[6]!;
    const fileName = location.startsWith("file://") ? safeFileURLToPath(location) : location;
    frames.push({
      functionName: m[2] || "<anonymous>",
      fileName,
      lineNumber: Number(m[4] ?? m[7]),
      columnNumber: Number(m[5] ?? m[8]),
      isAsync: m[1] !== undefined,
      internal: isOwnCode(location, fileName),
    });
  }
  return frames;
}

function safeFileURLToPath(url: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

/** Where a creation stack leaves this package: `file:line:column` of the first frame in user code, or null. */
export function creationSite(stack: string | undefined): string | null {
  for (const f of parseStack(stack)) {
    if (!f.internal && !f.fileName.startsWith("node:")) return `${f.fileName}:${f.lineNumber}:${f.columnNumber}`;
  }
  return null;
}

/** The repr suffix of a Future created in debug mode: ` created at file:line:column`, or "". */
export function createdAtSuffix(stack: string | undefined): string {
  const site = creationSite(stack);
  return site === null ? "" : ` created at ${site}`;
}

/** The task in whose body each Future was created, in debug mode (to tell where a task is suspended). */
const creators = new WeakMap<Future<unknown>, Task<unknown>>();

/** Records the creation stack (and creating task) of a Future made on a loop in debug mode. */
export function recordCreation(future: Future<unknown>): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = CREATION_STACK_LIMIT;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, recordCreation);
  Error.stackTraceLimit = limit;
  // Drop the "Error" header and the Future constructor's own frame.
  future._sourceTraceback = holder.stack?.split("\n").slice(2).join("\n");
  const task = currentTaskOrNull();
  if (task !== null) creators.set(future, task);
}

/** The task whose body created `future` (recorded in debug mode only), or undefined. */
export function creatorOf(future: Future<unknown>): Task<unknown> | undefined {
  return creators.get(future);
}

function isTask(item: unknown): item is Task<unknown> {
  return typeof (item as Task<unknown>)._kind === "function" && (item as Task<unknown>)._kind() === "Task";
}

/**
 * The part of a creation stack worth reading: from the first frame outside this package (the call to `createTask`)
 * to where the loop started the task that created it (`attachBody`), excluded.
 */
export function userStack(stack: string): string {
  const lines = stack.split("\n");
  const frames = lines.map((line) => parseStack(line)[0]);
  let start = frames.findIndex((f) => f !== undefined && !f.internal && !f.fileName.startsWith("node:"));
  if (start < 0) start = 0;
  let end = frames.findIndex((f, i) => i > start && f !== undefined && f.internal && f.functionName === "attachBody");
  if (end < 0) end = lines.length;
  return lines.slice(start, end).join("\n");
}

function withCreationStack(line: string, item: unknown): string {
  if (!isTask(item) || item._sourceTraceback === undefined) return line;
  return `${line}\nTask created at:\n${userStack(item._sourceTraceback)}`;
}

// ------------------------------------------------------------------ slow callbacks and task steps

/**
 * Runs one ready-queue item; a callback that took `slowCallbackDuration` or more (real time, also on a virtual clock)
 * is logged. An item that started a step is timed by the loop until the step ends (`reportSlowStep`).
 */
export function runTimed(loop: EventLoop, item: Runnable): RunResult {
  const t0 = performance.now();
  const r = item._run();
  if (r !== RUN_DONE) return r;
  const dt = (performance.now() - t0) / 1000;
  if (dt >= loop.slowCallbackDuration) {
    loop._log(withCreationStack(`Executing ${inspect(item, { depth: 0 })} took ${dt.toFixed(3)} seconds`, item));
  }
  return r;
}

/** Logs a task step that took `slowCallbackDuration` or more, with the task's name and creation stack. */
export function reportSlowStep(loop: EventLoop, task: Task<unknown>, ms: number): void {
  const dt = ms / 1000;
  if (dt >= loop.slowCallbackDuration) {
    loop._log(withCreationStack(`Executing ${inspect(task, { depth: 0 })} took ${dt.toFixed(3)} seconds`, task));
  }
}

// A task can also run outside the loop's steps: after it awaited a promise of Node's (fs, fetch, a Node timer), its
// code continues when that promise settles, in whatever Node callback settled it. While a loop in debug mode runs,
// an async hook times every outermost callback (promise job, Node callback) whose async context belongs to a task of
// such a loop while that loop runs no step, and sums the time per task until the next loop iteration.
interface StepEntry {
  task: Task<unknown> | null;
  t0: number;
}
const stepStack: StepEntry[] = [];
const stepTimes = new Map<Task<unknown>, number>();
let stepHook: AsyncHook | null = null;
let flushPending = false;

function onBefore(): void {
  const frame = frameStorage.getStore();
  const loop = frame?._frameLoop;
  const task =
    frame !== undefined && frame._frameTask !== null && loop!._debug && loop!._stepTask === null ? frame._frameTask : null;
  stepStack.push({ task, t0: task === null ? 0 : performance.now() });
}

function onAfter(): void {
  const entry = stepStack.pop();
  if (entry === undefined || entry.task === null || stepStack.length > 0) return;
  const ms = performance.now() - entry.t0;
  stepTimes.set(entry.task, (stepTimes.get(entry.task) ?? 0) + ms);
  if (!flushPending) {
    flushPending = true;
    // Outside any task's context, so the flush itself is never counted as a step.
    frameStorage.exit(() => setImmediate(flushSteps));
  }
}

function flushSteps(): void {
  flushPending = false;
  if (stepTimes.size === 0) return;
  const times = Array.from(stepTimes);
  stepTimes.clear();
  for (const [task, ms] of times) {
    const loop = task._loop;
    const dt = ms / 1000;
    if (dt >= loop.slowCallbackDuration) {
      loop._log(withCreationStack(`Executing ${inspect(task, { depth: 0 })} took ${dt.toFixed(3)} seconds`, task));
    }
  }
}

// ------------------------------------------------------------------ loops running in debug mode

/** Loops that ran an iteration in debug mode and were running when last checked. */
const debugLoops = new Set<EventLoop>();
const closeHooked = new WeakSet<EventLoop>();
let pruneTimer: NodeJS.Timeout | null = null;
let signalInstalled = false;
let taskDumper: ((loop: EventLoop) => string) | null = null;

/** Called by the call-graph module: renders every task of a loop, for the dump signal. */
export function setTaskDumper(dumper: (loop: EventLoop) => string): void {
  taskDumper = dumper;
}

/** Called by the loop at the start of each iteration in debug mode. */
export function debugIteration(loop: EventLoop): void {
  if (!debugLoops.has(loop)) watchLoop(loop);
  // This iteration's macrotask runs in whatever context scheduled it; its items are timed one by one instead.
  const outer = stepStack[0];
  if (outer !== undefined) outer.task = null;
  flushSteps();
}

function watchLoop(loop: EventLoop): void {
  debugLoops.add(loop);
  if (!closeHooked.has(loop)) {
    closeHooked.add(loop);
    loop._closeHooks.push(forgetLoop);
  }
  if (stepHook === null) {
    stepHook = createHook({ before: onBefore, after: onAfter });
    stepHook.enable();
  }
  if (!signalInstalled && loadWorkerThreads().isMainThread && process.platform !== "win32") {
    try {
      process.on(DUMP_SIGNAL, dumpAllTasks);
      signalInstalled = true;
    } catch {
      // No such signal here: no dump.
    }
  }
  if (pruneTimer === null) pruneTimer = frameStorage.exit(() => setInterval(prune, 1000).unref());
}

function forgetLoop(loop: EventLoop): void {
  debugLoops.delete(loop);
  if (debugLoops.size === 0) stopWatching();
}

function prune(): void {
  for (const loop of debugLoops) if (!loop._running || loop._closed) debugLoops.delete(loop);
  if (debugLoops.size === 0) stopWatching();
}

function stopWatching(): void {
  stepHook?.disable();
  stepHook = null;
  stepStack.length = 0;
  flushSteps();
  if (pruneTimer !== null) clearInterval(pruneTimer);
  pruneTimer = null;
  if (signalInstalled) process.removeListener(DUMP_SIGNAL, dumpAllTasks);
  signalInstalled = false;
}

function dumpAllTasks(): void {
  for (const loop of debugLoops) {
    if (loop._closed) continue;
    const text =
      taskDumper !== null ? taskDumper(loop) : `${loop._tasks.size} pending tasks of ${inspect(loop)} (call graphs unavailable)`;
    loop._log(text);
  }
}

// ------------------------------------------------------------------ checks and reports

/**
 * Python's `_check_thread`: in debug mode, scheduling on a running loop from an async context that is not the loop's
 * (a Node callback set up outside it, another loop's task) is an error; use `callSoonThreadsafe`.
 */
export function checkLoopContext(loop: EventLoop): void {
  if (loop._running && runningLoopOrNull() !== loop) {
    throw new RuntimeError("Non-thread-safe operation invoked on an event loop other than the current one");
  }
}

/**
 * Called when a loop closes. A pending task can never run again once its loop is closed: that is when Python's
 * garbage collector would destroy it (the loop holds pending tasks strongly, so ours never are while it is open).
 */
export function reportPendingTasks(loop: EventLoop): void {
  for (const task of Array.from(loop._tasks)) {
    if (task.done()) continue;
    const context: Record<string, unknown> = { message: "Task was destroyed but it is pending!", task };
    if (task._sourceTraceback !== undefined) context.source_traceback = task._sourceTraceback;
    loop.callExceptionHandler(context);
  }
}
