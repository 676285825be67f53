/**
 * asyncio-ts: Python's asyncio for TypeScript on Node.js. `import * as asyncio from "asyncio-ts"`.
 * This file only gathers the public names of the modules; each name is listed explicitly.
 * @module
 */
export {
  CancelledError,
  TimeoutError,
  InvalidStateError,
  IncompleteReadError,
  LimitOverrunError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  BrokenBarrierError,
  SendfileNotAvailableError,
  RuntimeError,
  ExceptionGroup,
  KeyboardInterrupt,
} from "./exceptions.js";
export type { ExceptionMatcher } from "./exceptions.js";

export { EventLoop, Handle, TimerHandle, getRunningLoop, getEventLoop, setEventLoop, newEventLoop } from "./events.js";
export type { Callback, ContextRunner, ExceptionContext, ExceptionHandler, TaskFactory } from "./events.js";

export { Future, isFuture } from "./futures.js";
export type { Awaitable, DoneCallback, FutureState } from "./futures.js";

export {
  Task,
  GatheringFuture,
  AsCompletedIterator,
  createTask,
  currentTask,
  allTasks,
  eagerTaskFactory,
  ensureFuture,
  sleep,
  gather,
  wait,
  waitFor,
  asCompleted,
  shield,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  ALL_COMPLETED,
} from "./tasks.js";
export type { AwaitedOf, GatherOptions, ReturnWhen, TaskOptions } from "./tasks.js";

export { Timeout, timeout, timeoutAt } from "./timeouts.js";
export { TaskGroup } from "./taskgroups.js";
export { Runner, run } from "./runners.js";
export type { RunnerOptions } from "./runners.js";

// Synchronization primitives and queues (locks.ts, queues.ts).

// Network: transports, protocols, streams (transports.ts, protocols.ts, base_net.ts, streams.ts).

// Subprocesses, signals, executors (subprocess.ts, unix_events.ts, executors.ts, threads.ts).

// Testing, debugging, introspection (testing.ts, graph.ts).
