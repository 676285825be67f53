/**
 * What `asyncio-ts ps PID` reads from another process: a JSON snapshot of every pending task of its running loops,
 * with who awaits whom. The library registers a function under {@link SNAPSHOT_KEY} on `globalThis`; the command
 * calls it through the Node.js inspector (`Runtime.evaluate`), so the layout here is a protocol between two
 * versions of this package and only ever grows.
 */

/** The `globalThis` key of the snapshot function: `globalThis[Symbol.for("asyncio-ts.ps")]()` returns the JSON text. */
export const SNAPSHOT_KEY = "asyncio-ts.ps";

/** One frame, innermost first in a stack; `file` and `line` are null when the location is unknown. */
export interface FrameSnapshot {
  name: string;
  file: string | null;
  line: number | null;
}

/** A task that awaits another one, with its own call stack (Python's `CoroInfo` of `awaited_by`). */
export interface AwaiterSnapshot {
  id: number;
  stack: FrameSnapshot[];
}

/** One pending task (Python's `TaskInfo`). */
export interface TaskSnapshot {
  id: number;
  name: string;
  /** The task's call stack where it can be known (see `asyncio.captureCallGraph`), innermost first. */
  stack: FrameSnapshot[];
  /** The tasks awaiting this one, directly or through a gather, shield or TaskGroup. */
  awaitedBy: AwaiterSnapshot[];
  /** The task was running (its loop was executing its code) when the snapshot was taken. */
  running: boolean;
}

/** The snapshot of one process (of one JavaScript thread of it). */
export interface ProcessSnapshot {
  pid: number;
  /** `worker_threads.threadId`: 0 for the main thread. */
  threadId: number;
  /** The JavaScript stack below the snapshot's own call: not empty when the thread was busy running code. */
  busyAt: FrameSnapshot[];
  loops: { tasks: TaskSnapshot[] }[];
}
