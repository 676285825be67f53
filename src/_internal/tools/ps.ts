/**
 * `asyncio-ts ps PID` and `asyncio-ts pstree PID`, as Python 3.14's `python -m asyncio ps` / `pstree`: the pending
 * tasks of another running Node.js process that uses asyncio-ts, as a table and as an await tree.
 *
 * How: SIGUSR1 makes a Node.js process open its inspector (unless it already has one open); a DevTools session
 * then evaluates the snapshot function that the library registered on `globalThis` (`_internal/tools/task_snapshot.ts`),
 * and closes the inspector again. The inspector answers even while the process's JavaScript is busy (a loop stuck in
 * synchronous code): the evaluation then runs on top of that code, so the snapshot shows where it is. Linux finds
 * the port the inspector opened from `/proc`; elsewhere the port is the target's `--inspect-port`, or 9229.
 */
import process from "node:process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { get } from "node:http";
import { connect as connectTcp } from "node:net";
import { execFileSync } from "node:child_process";
import { type InspectorSession, connectInspector } from "./inspector_client.js";
import { type FrameSnapshot, type ProcessSnapshot, SNAPSHOT_KEY } from "./task_snapshot.js";

/** A failure with the one line the command prints (after `asyncio-ts: `) before exiting with status 1. */
export class PsError extends Error {
  override name = "PsError";
}

const DEFAULT_PORT = 9229;

// ------------------------------------------------------------------ rendering (Python 3.14's layout)

/** Python's `_format_stack_entry`: `name file:line`, or the name alone without a location. */
function frameLabel(f: FrameSnapshot): string {
  return f.file === null || f.line === null ? f.name : `${f.name} ${f.file}:${f.line}`;
}

function hex(id: number): string {
  return `0x${id.toString(16)}`;
}

/** The rows of `ps`: one per task and awaiter (a task awaited by two tasks has two rows), as Python's `build_task_table`. */
export function buildTaskTable(snapshot: ProcessSnapshot): string[][] {
  const names = new Map<number, string>();
  for (const loop of snapshot.loops) for (const t of loop.tasks) names.set(t.id, t.name);
  const rows: string[][] = [];
  const tid = String(snapshot.threadId);
  for (const loop of snapshot.loops) {
    for (const t of loop.tasks) {
      const stack = t.stack.map((f) => f.name).join(" -> ");
      if (t.awaitedBy.length === 0) {
        rows.push([tid, hex(t.id), t.name, stack, "", "", "0x0"]);
        continue;
      }
      for (const a of t.awaitedBy) {
        rows.push([tid, hex(t.id), t.name, stack, a.stack.map((f) => f.name).join(" -> "), names.get(a.id) ?? "Unknown", hex(a.id)]);
      }
    }
  }
  return rows;
}

const WIDTHS = [10, 20, 20, 50, 50, 15, 15];
const HEADER = ["tid", "task id", "task name", "coroutine stack", "awaiter chain", "awaiter name", "awaiter id"];

/** The table of `ps`: Python's columns, left-aligned to its widths (a longer cell pushes the rest right, as there). */
export function formatTaskTable(snapshot: ProcessSnapshot): string {
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(WIDTHS[i] ?? 0)).join(" ");
  return [line(HEADER), "-".repeat(180), ...buildTaskTable(snapshot).map(line)].join("\n");
}

/** The await graph has cycles (tasks awaiting each other): no tree can show it. Each cycle lists task names. */
export class AwaitCycleError extends Error {
  override name = "AwaitCycleError";
  constructor(readonly cycles: string[][]) {
    super("await-graph contains cycles - cannot print a tree!");
  }
}

interface TreeNode {
  label: string;
  children: TreeNode[];
  /** Coroutine children by label, so that tasks awaited from the same frame share one branch. */
  frames: Map<string, TreeNode>;
}

/**
 * The trees of `pstree`, one string per root task, as Python's `build_async_tree`: a task (`(T) name`), under it the
 * frames of the awaiter's stack from the outermost in, then the task awaited from there; a task that awaits no task
 * ends with its own stack. `AwaitCycleError` when tasks await each other in a cycle.
 */
export function buildAsyncTree(snapshot: ProcessSnapshot): string[] {
  const tasks = snapshot.loops.flatMap((l) => l.tasks);
  const names = new Map<number, string>();
  for (const t of tasks) names.set(t.id, t.name);
  // Edges parent → child: the awaiting task and the awaited one.
  const edges: { parent: number; stack: FrameSnapshot[]; child: number }[] = [];
  for (const t of tasks) for (const a of t.awaitedBy) edges.push({ parent: a.id, stack: a.stack, child: t.id });

  const cycles = findCycles(edges);
  if (cycles.length > 0) throw new AwaitCycleError(cycles.map((c) => c.map((id) => names.get(id) ?? hex(id))));

  const nodes = new Map<number, TreeNode>();
  const taskNode = (id: number): TreeNode => {
    let node = nodes.get(id);
    if (node === undefined) {
      node = { label: `(T) ${names.get(id) ?? hex(id)}`, children: [], frames: new Map() };
      nodes.set(id, node);
    }
    return node;
  };
  for (const t of tasks) taskNode(t.id);
  const frameNode = (parent: TreeNode, frame: FrameSnapshot): TreeNode => {
    const label = frameLabel(frame);
    let node = parent.frames.get(label);
    if (node === undefined) {
      // Python prefixes frames with an empty marker: hence two spaces after the branch.
      node = { label: ` ${label}`, children: [], frames: new Map() };
      parent.frames.set(label, node);
      parent.children.push(node);
    }
    return node;
  };
  const awaitedTasks = new Set<number>();
  const awaiting = new Set<number>();
  for (const { parent, stack, child } of edges) {
    let at = taskNode(parent);
    for (let i = stack.length - 1; i >= 0; i--) at = frameNode(at, stack[i]!);
    const childNode = taskNode(child);
    if (!at.children.includes(childNode)) at.children.push(childNode);
    awaitedTasks.add(child);
    awaiting.add(parent);
  }
  for (const t of tasks) {
    if (awaiting.has(t.id)) continue;
    let at = taskNode(t.id);
    for (let i = t.stack.length - 1; i >= 0; i--) at = frameNode(at, t.stack[i]!);
  }

  const render = (node: TreeNode, prefix: string, last: boolean, out: string[]): void => {
    out.push(`${prefix}${last ? "└── " : "├── "}${node.label}`);
    const inner = prefix + (last ? "    " : "│   ");
    node.children.forEach((kid, i) => render(kid, inner, i === node.children.length - 1, out));
  };
  const trees: string[] = [];
  for (const [id, node] of nodes) {
    if (awaitedTasks.has(id)) continue;
    const out: string[] = [];
    render(node, "", true, out);
    trees.push(out.join("\n"));
  }
  return trees;
}

/** Every cycle of the task graph found by a depth-first search, each as its task ids with the first repeated last. */
function findCycles(edges: { parent: number; child: number }[]): number[][] {
  const graph = new Map<number, number[]>();
  for (const { parent, child } of edges) {
    const list = graph.get(parent);
    if (list === undefined) graph.set(parent, [child]);
    else if (!list.includes(child)) list.push(child);
  }
  const state = new Map<number, "open" | "done">();
  const path: number[] = [];
  const cycles: number[][] = [];
  const visit = (v: number): void => {
    state.set(v, "open");
    path.push(v);
    for (const w of graph.get(v) ?? []) {
      const s = state.get(w);
      if (s === undefined) visit(w);
      else if (s === "open") cycles.push([...path.slice(path.indexOf(w)), w]);
    }
    state.set(v, "done");
    path.pop();
  };
  for (const v of graph.keys()) if (!state.has(v)) visit(v);
  return cycles;
}

/** The note printed (on stderr) when the snapshot was taken on top of running code: where that code was. */
export function formatBusyNote(snapshot: ProcessSnapshot): string | null {
  if (snapshot.busyAt.length === 0) return null;
  const running = snapshot.loops.flatMap((l) => l.tasks).find((t) => t.running);
  const who = running !== undefined ? `task ${running.name} (${hex(running.id)})` : "code outside any task";
  const lines = [`process ${snapshot.pid} was busy running ${who} when asked (a loop blocked in synchronous code?), at:`];
  for (const f of snapshot.busyAt) lines.push(`    ${frameLabel(f)}`);
  return lines.join("\n");
}

// ------------------------------------------------------------------ finding the inspector

/** The TCP ports process `pid` listens on, from `/proc` (Linux); null where that cannot be known. */
export function listeningPorts(pid: number): number[] | null {
  let inodes: Set<string>;
  try {
    inodes = new Set();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null) inodes.add(m[1]!);
      } catch {
        // Closed meanwhile.
      }
    }
  } catch {
    return null;
  }
  const ports: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const row of text.split("\n").slice(1)) {
      const cols = row.trim().split(/\s+/);
      // local_address is cols[1] ("ADDR:PORT" in hex), st cols[3] ("0A" is LISTEN), inode cols[9].
      const local = cols[1];
      if (local === undefined || cols[3] !== "0A" || !inodes.has(cols[9] ?? "")) continue;
      const port = parseInt(local.slice(local.lastIndexOf(":") + 1), 16);
      if (!ports.includes(port)) ports.push(port);
    }
  }
  return ports;
}

/** Whether process `pid` catches SIGUSR1 (from `/proc/PID/status`, Linux); null where that cannot be known. */
function catchesSigusr1(pid: number): boolean | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status);
    if (m === null) return null;
    // Signal n is bit n - 1; SIGUSR1 is 10 on Linux.
    return (BigInt(`0x${m[1]!}`) & (1n << 9n)) !== 0n;
  } catch {
    return null;
  }
}

/** The port a SIGUSR1 would open the inspector on: the target's `--inspect-port` (or `--inspect=…:port`), else 9229. */
function expectedPort(pid: number): number {
  let args: string[] = [];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    try {
      args = execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).trim().split(/\s+/);
    } catch {
      // Unknown: the default.
    }
  }
  for (const arg of args) {
    const m = /^--(?:inspect-port|debug-port|inspect|inspect-brk|inspect-wait)=(?:.*:)?(\d+)$/.exec(arg);
    if (m !== null) return Number(m[1]);
  }
  return DEFAULT_PORT;
}

/** The DevTools WebSocket URL served on `port` of the local host, or null when no inspector answers there. */
function inspectorUrl(port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/json/list", timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => {
        try {
          const list = JSON.parse(body) as { webSocketDebuggerUrl?: unknown }[];
          const url = Array.isArray(list) ? list.find((e) => typeof e?.webSocketDebuggerUrl === "string")?.webSocketDebuggerUrl : undefined;
          resolve(typeof url === "string" ? url : null);
        } catch {
          resolve(null);
        }
      });
      res.on("error", () => resolve(null));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
  });
}

/** Whether something accepts TCP connections on `port` of the local host. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function findInspector(ports: number[], timeoutMs: number): Promise<{ port: number; url: string } | null> {
  for (const port of ports) {
    const url = await inspectorUrl(port, timeoutMs);
    if (url !== null) return { port, url };
  }
  return null;
}

// ------------------------------------------------------------------ the command

/** Options of {@link snapshotProcess}. */
export interface SnapshotOptions {
  /** How long to wait for the inspector to open, and then for the process to answer (default 10 s each). */
  timeoutMs?: number;
}

function checkPid(pid: number): void {
  try {
    process.kill(pid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ESRCH") throw new PsError(`no process with PID ${pid}`);
    if (code === "EPERM") throw new PsError(`process ${pid} belongs to another user: only its own user (or root) can inspect it`);
    throw new PsError(`cannot signal process ${pid}: ${(error as Error).message}`);
  }
}

const SNAPSHOT_EXPRESSION = `(() => { const f = globalThis[Symbol.for(${JSON.stringify(SNAPSHOT_KEY)})]; return typeof f === "function" ? f() : null; })()`;
const CLOSE_EXPRESSION =
  `(() => { const m = typeof process.getBuiltinModule === "function" ? process.getBuiltinModule("node:inspector") : null;` +
  ` if (m !== null) m.close(); else process._debugEnd(); })()`;

/**
 * Opens the inspector of process `pid` (SIGUSR1), reads the snapshot of its tasks, and closes the inspector again
 * (left open when it was open before). `PsError` with a one-line reason when it cannot.
 */
export async function snapshotProcess(pid: number, options: SnapshotOptions = {}): Promise<ProcessSnapshot> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new PsError(`expected a PID (a positive integer), got ${String(pid)}`);
  if (pid === process.pid) throw new PsError(`process ${pid} is this command itself`);
  checkPid(pid);
  if (process.platform === "win32") {
    throw new PsError("not available on Windows: it has no SIGUSR1 to open another process's inspector");
  }
  const before = listeningPorts(pid);
  const guess = expectedPort(pid);
  let found = await findInspector(before ?? [guess], 2_000);
  const openedHere = found === null;
  if (found === null) {
    if (catchesSigusr1(pid) === false) {
      throw new PsError(
        `process ${pid} does not run asyncio-ts: it does not handle SIGUSR1 (not a Node.js process, or one started with --disable-sigusr1)`,
      );
    }
    const takenBefore = before === null || !before.includes(guess) ? await portOpen(guess) : false;
    try {
      process.kill(pid, "SIGUSR1");
    } catch (error) {
      throw new PsError(`cannot send SIGUSR1 to process ${pid}: ${(error as Error).message}`);
    }
    const deadline = Date.now() + timeoutMs;
    while (found === null && Date.now() < deadline) {
      await delay(50);
      const now = listeningPorts(pid);
      const fresh = now === null ? [guess] : now.filter((p) => before === null || !before.includes(p));
      if (fresh.length > 0) found = await findInspector(fresh, 2_000);
    }
    if (found === null) {
      if (takenBefore) {
        throw new PsError(
          `process ${pid} could not open its inspector: port ${guess} is taken by another process (start it with --inspect-port=0, or free the port)`,
        );
      }
      throw new PsError(
        `process ${pid} did not open its inspector within ${timeoutMs / 1000} s: it is not a Node.js process, or its main thread is blocked outside JavaScript (a synchronous system call; its inspector then opens once it returns)`,
      );
    }
  }
  const { port, url } = found;
  let session: InspectorSession;
  try {
    session = await connectInspector(url, timeoutMs);
  } catch (error) {
    throw new PsError(`cannot connect to the inspector of process ${pid} on port ${port}: ${(error as Error).message}`);
  }
  let answered = false;
  try {
    let timer: NodeJS.Timeout | undefined;
    const reply = await Promise.race([
      session.send("Runtime.evaluate", { expression: SNAPSHOT_EXPRESSION, returnByValue: true, silent: true }),
      new Promise<null>((resolve) => {
        timer = setTimeout(resolve, timeoutMs, null);
      }),
    ]).finally(() => clearTimeout(timer));
    if (reply === null) {
      throw new PsError(
        `process ${pid} did not answer within ${timeoutMs / 1000} s: its main thread is blocked outside JavaScript (a synchronous system call, Atomics.wait...)` +
          (openedHere ? `; its inspector stays open on port ${port} until it answers` : ""),
      );
    }
    answered = true;
    const thrown = reply.exceptionDetails as { exception?: { description?: string }; text?: string } | undefined;
    if (thrown !== undefined) {
      throw new PsError(`reading the tasks of process ${pid} failed: ${thrown.exception?.description?.split("\n")[0] ?? thrown.text ?? "an exception"}`);
    }
    const value = (reply.result as { value?: unknown } | undefined)?.value;
    if (typeof value !== "string") throw new PsError(`process ${pid} does not run asyncio-ts`);
    const snapshot = JSON.parse(value) as ProcessSnapshot;
    if (snapshot.pid !== pid) throw new PsError(`the inspector on port ${port} belongs to process ${snapshot.pid}, not to ${pid}`);
    return snapshot;
  } catch (error) {
    if (error instanceof PsError) throw error;
    throw new PsError(`reading the tasks of process ${pid} failed: ${(error as Error).message}`);
  } finally {
    if (openedHere && answered) await closeInspector(session, port, timeoutMs);
    session.destroy();
  }
}

/**
 * Closes the target's inspector. `inspector.close()` stops listening at once, then blocks the target until every
 * session has gone: so this sends it without waiting for an answer, waits until the port refuses connections, and
 * then goes away.
 */
async function closeInspector(session: InspectorSession, port: number, timeoutMs: number): Promise<void> {
  session.send("Runtime.evaluate", { expression: CLOSE_EXPRESSION, silent: true }).catch(() => {});
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await portOpen(port))) return;
    await delay(20);
  }
  process.stderr.write(`asyncio-ts: warning: the inspector of the process on port ${port} did not close\n`);
}
