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
  WouldBlock,
  BrokenExecutor,
  BrokenThreadPool,
  BrokenProcessPool,
  SendfileNotAvailableError,
  RuntimeError,
  ExceptionGroup,
  KeyboardInterrupt,
  ConnectionError,
  ConnectionResetError,
  BrokenPipeError,
  ConnectionAbortedError,
  ConnectionRefusedError,
} from "./exceptions.js";
export type { ExceptionMatcher } from "./exceptions.js";

export { EventLoop, Handle, TimerHandle, getRunningLoop, getEventLoop, setEventLoop, newEventLoop } from "./events.js";
export type { Callback, ContextRunner, ExceptionContext, ExceptionHandler, TaskFactory } from "./events.js";

export { Future, isFuture } from "./futures.js";
export type { Awaitable, DoneCallback, FutureState } from "./futures.js";

export { Task, createTask, currentTask, allTasks, eagerTaskFactory, ensureFuture, sleep } from "./tasks.js";
export type { SignalOption, TaskOptions } from "./tasks.js";
export {
  GatheringFuture,
  AsCompletedIterator,
  gather,
  wait,
  waitFor,
  asCompleted,
  shield,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  ALL_COMPLETED,
} from "./waiting.js";
export type { AwaitedOf, GatherOptions, ReturnWhen } from "./waiting.js";

export { Timeout, timeout, timeoutAt } from "./timeouts.js";
export type { TimeoutOptions } from "./timeouts.js";
export { TaskGroup } from "./taskgroups.js";
export type { TaskStatus } from "./taskgroups.js";
export { CancelScope, moveOnAfter, moveOnAt, failAfter, failAt } from "./cancel_scopes.js";
export type { CancelScopeOptions } from "./cancel_scopes.js";
export { Runner, run } from "./runners.js";
export type { RunOptions, RunnerOptions, RunnerRunOptions } from "./runners.js";

// Synchronization primitives and queues (locks.ts, queues.ts).
export { Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier } from "./locks.js";
export { Guard } from "./mixins.js";
export type {
  BarrierState,
  BarrierStatistics,
  BoundedSemaphoreStatistics,
  ConditionStatistics,
  EventStatistics,
  LockStatistics,
  SemaphoreStatistics,
  WaitOptions,
} from "./locks.js";
export { Queue, PriorityQueue, LifoQueue } from "./queues.js";
export type { PriorityQueueOptions, QueueStatistics, QueueStorage } from "./queues.js";

// Beyond Python 3.13: limiters and retries on the loop's clock (limiters.ts, retry.ts).
export { CapacityLimiter, RateLimiter } from "./limiters.js";
export type { CapacityLimiterStatistics, RateLimiterOptions, RateLimiterStatistics } from "./limiters.js";
export { retry } from "./retry.js";
export type { RetryOptions } from "./retry.js";

// Network: transports, protocols, streams (transports.ts, protocols.ts, base_net.ts, streams.ts).
import "./base_net.js"; // adds createConnection, createServer, ... to EventLoop.prototype
export { BaseTransport, ReadTransport, WriteTransport, Transport, DatagramTransport, SubprocessTransport } from "./transports.js";
export type { TransportExtraInfo } from "./transports.js";
export { BaseProtocol, Protocol, BufferedProtocol, DatagramProtocol, SubprocessProtocol } from "./protocols.js";
export type { DatagramAddress, DatagramProtocolLike, StreamProtocolLike } from "./protocols.js";
export { NI_NUMERICHOST, NI_NUMERICSERV } from "./base_net.js";
export { Server, ServerSocket } from "./servers.js";
export type { SSLOption, SSLOptions } from "./sslproto.js";
export type {
  AddrInfo,
  AddressFamily,
  CreateConnectionOptions,
  CreateDatagramEndpointOptions,
  CreateServerOptions,
  CreateUnixConnectionOptions,
  CreateUnixServerOptions,
  GetaddrinfoOptions,
  HostPort,
  StartTlsOptions,
} from "./base_net.js";
export {
  openConnection,
  startServer,
  openUnixConnection,
  startUnixServer,
  StreamReader,
  StreamWriter,
  StreamReaderProtocol,
} from "./streams.js";
export type {
  ClientConnectedCallback,
  FlowControlMixin,
  OpenConnectionOptions,
  OpenUnixConnectionOptions,
  StartServerOptions,
  StartUnixServerOptions,
  StreamLimitOption,
  StreamReaderOptions,
  StreamExtraInfo,
  StreamStartTlsOptions,
} from "./streams.js";

// Subprocesses, signals, executors (subprocess.ts, unix_events.ts, executors.ts, threads.ts).
import "./unix_events.js"; // adds addSignalHandler, removeSignalHandler to EventLoop.prototype
import "./base_subprocess.js"; // adds subprocessExec, subprocessShell to EventLoop.prototype
import "./executors.js"; // adds runInExecutor, setDefaultExecutor to EventLoop.prototype
export type { SignalLike } from "./unix_events.js";
export { createSubprocessExec, createSubprocessShell, Process, subprocess } from "./subprocess.js";
export type { CreateSubprocessOptions, StdioTarget, SubprocessOptions, SubprocessProtocolLike } from "./subprocess.js";
export { Executor, ExecutorFuture, ThreadPoolExecutor, ProcessPoolExecutor } from "./executors.js";
export type {
  CallOptions,
  CancelMode,
  ExecutorLike,
  ExecutorOptions,
  FunctionCall,
  JobState,
  ModuleFunction,
  ProcessPoolExecutorOptions,
  ShutdownOptions,
  WorkerCallable,
  WorkerFunction,
} from "./executors.js";
export { toThread } from "./threads.js";

// Testing, debugging, introspection (testing.ts, graph.ts).
export * as testing from "./testing.js";
export {
  captureCallGraph,
  formatCallGraph,
  printCallGraph,
  futureAddToAwaitedBy,
  futureDiscardFromAwaitedBy,
} from "./graph.js";
export type { CallGraphOptions, FrameCallGraphEntry, FutureCallGraph } from "./graph.js";
