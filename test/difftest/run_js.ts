/**
 * Runs the JavaScript version of a scenario program on asyncio-ts, on the virtual-time loop or the real one, and
 * collects its trace.
 * @module
 */
import * as defaultAsyncio from "../../src/index.js";

/** The asyncio-ts module a program runs on (the one in src/, or another build of it to compare with). */
export type AsyncioModule = typeof defaultAsyncio;

/** The constructor of async functions, to evaluate an emitted body. */
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor as new (
  ...params: string[]
) => (...args: unknown[]) => Promise<unknown>;

/** What an emitted body returns. */
interface Emitted {
  main: () => Promise<void>;
  flags: string[];
}

/** The trace of one run, the body's machine-dependence flags, and how it ended if not normally. */
export interface JsRun {
  trace: string[];
  flags: string[];
  /** Set when the run did not end normally: main's run rejected, or it was still running after the time limit. */
  failure?: string;
}

/** Which event loop runs the program. */
export type LoopKind = "virtual" | "real";

/**
 * Evaluates `source` (from `emitJs`) and runs its `main` in a fresh `asyncio.run` on a loop of `kind`. A run still
 * going after `limitMs` of real time is reported as hung and its loop stopped.
 */
export async function runJs(
  source: string,
  kind: LoopKind,
  options: { asyncio?: AsyncioModule; limitMs?: number } = {},
): Promise<JsRun> {
  const asyncio = options.asyncio ?? defaultAsyncio;
  const limitMs = options.limitMs ?? 10_000;
  const trace: string[] = [];
  const print = (...args: unknown[]): void => {
    trace.push(args.map(String).join(" "));
  };
  const body = new AsyncFunction("asyncio", "print", source);
  const { main, flags } = (await body(asyncio, print)) as Emitted;
  let loop: defaultAsyncio.EventLoop | null = null;
  const loopFactory = (): defaultAsyncio.EventLoop => {
    loop = kind === "virtual" ? new asyncio.testing.VirtualEventLoop() : asyncio.newEventLoop();
    return loop;
  };
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`still running after ${limitMs} ms`), limitMs);
  });
  const finished = asyncio.run(main, { loopFactory }).then(
    () => undefined,
    (error: unknown) => `asyncio.run rejected: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
  );
  try {
    const failure = await Promise.race([finished, hung]);
    if (failure !== undefined && failure.startsWith("still running")) stopQuietly(loop);
    return failure === undefined ? { trace, flags } : { trace, flags, failure };
  } finally {
    clearTimeout(timer);
  }
}

/** What went wrong in a run besides its trace: the failure, and the timing flags (a late real-loop run). */
export function runNote(run: JsRun): string | undefined {
  const notes = [...(run.failure === undefined ? [] : [run.failure]), ...(run.flags.length > 0 ? [`timing flags: ${run.flags.join("; ")}`] : [])];
  return notes.length > 0 ? notes.join("; ") : undefined;
}

function stopQuietly(loop: defaultAsyncio.EventLoop | null): void {
  try {
    loop?.stop();
  } catch {
    // Best effort: the run is reported as hung either way.
  }
}
