/**
 * The random program generator of the differential test: `generateProgram(seed)` gives exactly one program of the
 * scenario language per seed (for a given `SCENARIO_VERSION`).
 *
 * Every program terminates and has one CPython trace, by construction:
 * - Termination. A statement "may block" when it can wait for something no one may ever do (an Event nobody sets,
 *   an empty Queue, a Barrier short of parties, a task that may block). Main never blocks outside a `timeout` block;
 *   tasks may, because main ends by cancelling every task it created. A task that swallowed a CancelledError may
 *   have eaten that final cancellation, so after a swallowing handler (in text order, which is execution order:
 *   there are no loops) its code must not block again, except inside a new `timeout` block. `finally` bodies and
 *   handlers never block (they run while a cancellation propagates). A handler that turns a CancelledError into a
 *   Boom counts as swallowing (an outer handler may swallow the Boom), and so does, for the task owning it, a
 *   TaskGroup with such a child (the group then raises an ExceptionGroup in place of the owner's cancellation).
 *   A BoundedSemaphore is either held by `async with` or released by hand in one program, never both, so that no
 *   `async with` exit raises ValueError over a CancelledError; `reschedule` is not used in `finally` bodies, where
 *   its RuntimeError (after the timeout expired) would replace a CancelledError. Lock and semaphore bodies only run simple
 *   statements (no waiting on anything, no second lock), so locks never deadlock. Tasks only await tasks created
 *   before them, so there are no cycles.
 * - One order. CPython's TaskGroup cancels its children in `set` order (object addresses), so when a group has
 *   two or more children they are "silent": nothing they do on being cancelled is observable (no CancelledError
 *   handlers, no `finally`, no lock or queue hand-off, no awaiting tasks whose cancellation would print). Such a
 *   child may still turn its cancellation into a Boom without printing, outside any `try` of its own that could
 *   print it: the group then raises an ExceptionGroup whose contents do not depend on the order (printed sorted).
 *   Priority queue items are `[priority, n]` pairs with a unique n, so heap order never depends on arrival.
 *   `as_completed` adds done callbacks in `set` order too: the emitted code flags (and the regenerator discards)
 *   a run that hands it two tasks already done. Timers never share a deadline (see scenario.ts).
 * - Eager tasks are left out: with `eagerStart`, a body whose first await does not suspend would have to run to
 *   that await synchronously inside `createTask`, which JS cannot do for an async function (its continuation is a
 *   microtask), so it cannot match CPython.
 * @module
 */
import { Rng } from "./random.js";
import {
  type AwaitTarget,
  type CatchClass,
  type Expr,
  type Handler,
  type HelperCall,
  type Prim,
  type PrimKind,
  type Program,
  QUEUE_KINDS,
  type ReturnWhen,
  SCENARIO_VERSION,
  type Stmt,
  type TaskDef,
  type Timer,
} from "./scenario.js";

/** The function being generated: its step counter and how many CancelledErrors it swallowed so far. */
interface FnState {
  name: string;
  steps: number;
  swallows: number;
  isMain: boolean;
}

/** Where a statement goes. */
interface Scope {
  fn: FnState;
  /** Waiting indefinitely is allowed here (before any swallow counted from `swallowsAtEntry`). */
  blockingBase: boolean;
  swallowsAtEntry: number;
  depth: number;
  /** Inside a lock or semaphore body: simple statements only. */
  holding: boolean;
  /** A child of a TaskGroup with siblings: its reaction to cancellation must not be observable. */
  silent: boolean;
  /** Top-level tasks that exist whenever this code runs. */
  visible: readonly string[];
  /** TaskGroup children this code may print the state of. */
  children: readonly string[];
  /** The `timeout` blocks of this function around this code (innermost last), which it may reschedule. */
  cms: readonly string[];
  /** Inside the body of a `try` of this function (whose handlers may print what reaches them). */
  inTry: boolean;
}

type Kind =
  | "print" | "sleep0" | "sleep" | "call" | "cancel" | "evSet" | "evClear" | "evWait" | "qPut" | "qGetNowait"
  | "qGet" | "qShutdown" | "hold" | "condNotify" | "condWait" | "barrierWait" | "barrierAbort" | "await"
  | "gather" | "waitFor" | "wait" | "asCompleted" | "timeout" | "taskGroup" | "try" | "qTaskDone" | "qJoin"
  | "condWaitFor" | "semRelease" | "evPulse" | "barrierReset" | "reschedule";

const MAX_DEPTH = 2;
/** More sites make every deadline further away (a deadline waits for its residue), so keep programs short. */
const MAX_SITES = 6;

const PRIM_NAMES: Record<PrimKind, string> = {
  lock: "lock1", sem: "sem1", bsem: "bsem1", event: "ev1", cond: "cond1", barrier: "bar1", queue: "q1", lifo: "lq1",
  pq: "pq1",
};

/** Generates the program of `seed`. */
export function generateProgram(seed: number): Program {
  return new ProgramGenerator(seed).program();
}

/** Whether `stmt` may wait indefinitely, given which tasks may. */
export function mayBlock(stmt: Stmt, taskBlocks: (task: string) => boolean, prims: readonly Prim[]): boolean {
  const blocks = (s: Stmt): boolean => mayBlock(s, taskBlocks, prims);
  const targetBlocks = (t: AwaitTarget): boolean => t.k !== "helper" && taskBlocks(t.task);
  switch (stmt.k) {
    case "evWait":
    case "condWait":
    case "condWaitFor":
    case "barrierWait":
    case "qJoin":
      return true;
    case "qGet":
      return !stmt.nowait;
    case "qPut":
      return !stmt.nowait && (prims.find((p) => p.name === stmt.prim)?.size ?? 0) > 0;
    case "await":
      return targetBlocks(stmt.target);
    case "gather":
      return stmt.items.some(targetBlocks);
    case "wait":
    case "asCompleted":
      return stmt.timer === null && stmt.tasks.some(taskBlocks);
    case "taskGroup":
      return stmt.children.some((c) => c.body.some(blocks)) || stmt.body.some(blocks);
    case "try":
      return stmt.body.some(blocks) || (stmt.fin?.some(blocks) ?? false);
    case "hold":
      return stmt.body.some(blocks);
    default:
      return false;
  }
}

class ProgramGenerator {
  private readonly rng: Rng;
  private readonly prims: Prim[] = [];
  private readonly tasks: TaskDef[] = [];
  private readonly taskBlocks = new Map<string, boolean>();
  private sites = 0;
  private vars = 0;
  private childCount = 0;
  private args = 0;
  /** Priority queue items are `[priority, n]` with n unique, so that CPython's heap order is fully determined. */
  private items = 0;
  /** Handlers generated so far that turn a CancelledError into a Boom. */
  private converts = 0;
  /** Whether this program releases its BoundedSemaphore by hand (then it never holds it: exits must not fail). */
  private readonly releaseBsem: boolean;
  private budget: number;

  constructor(private readonly seed: number) {
    this.rng = new Rng(seed);
    this.budget = this.rng.range(10, 24);
    this.releaseBsem = this.rng.chance(0.5);
  }

  program(): Program {
    this.choosePrims();
    const taskCount = this.rng.range(1, 4);
    for (let i = 1; i <= taskCount; i++) {
      const name = `t${i}`;
      const visible = this.tasks.map((t) => t.name);
      const def = this.taskDef(name, { blockingBase: true, silent: false, visible, depth: 0 }, 1, 5);
      this.tasks.push(def);
      this.taskBlocks.set(name, def.body.some((s) => this.blocks(s)));
    }
    const main = this.mainBody();
    return { version: SCENARIO_VERSION, seed: this.seed, sites: Math.max(1, this.sites), prims: this.prims, tasks: this.tasks, main };
  }

  private choosePrims(): void {
    const kinds = this.rng.sample<PrimKind>(
      ["lock", "sem", "bsem", "event", "cond", "barrier", "queue", "lifo", "pq"],
      this.rng.range(1, 3),
    );
    for (const kind of kinds) {
      const size =
        kind === "sem" || kind === "bsem" ? this.rng.range(1, 2)
        : kind === "barrier" ? this.rng.range(2, 3)
        : QUEUE_KINDS.includes(kind) ? this.rng.pick([0, 0, 1, 2])
        : 0;
      this.prims.push({ kind, name: PRIM_NAMES[kind], size });
    }
  }

  private prim(...kinds: PrimKind[]): Prim | undefined {
    const found = this.prims.filter((p) => kinds.includes(p.kind));
    return found.length > 0 ? this.rng.pick(found) : undefined;
  }

  private has(...kinds: PrimKind[]): boolean {
    return this.prims.some((p) => kinds.includes(p.kind));
  }

  /** Primitives `hold` may take. */
  private holdable(): PrimKind[] {
    return this.releaseBsem ? ["lock", "sem"] : ["lock", "sem", "bsem"];
  }

  /** Semaphores `semRelease` may release (a Semaphore never fails; a BoundedSemaphore may raise ValueError). */
  private releasable(): PrimKind[] {
    return this.releaseBsem ? ["sem", "bsem"] : ["sem"];
  }

  private blocks(stmt: Stmt): boolean {
    return mayBlock(stmt, (t) => this.taskBlocks.get(t) ?? true, this.prims);
  }

  private blockingOk(s: Scope): boolean {
    return s.blockingBase && !s.holding && s.fn.swallows === s.swallowsAtEntry;
  }

  private label(s: Scope): string {
    return `${s.fn.name} s${++s.fn.steps}`;
  }

  private newVar(prefix: string): string {
    return `${prefix}${++this.vars}`;
  }

  private newTimer(): Timer | null {
    if (this.sites >= MAX_SITES) return null;
    return { site: this.sites++, gap: this.rng.weighted([[1, 6], [2, 3], [3, 1]]) };
  }

  private mainBody(): Stmt[] {
    const fn: FnState = { name: "m", steps: 0, swallows: 0, isMain: true };
    const created: string[] = [];
    const scope: Scope = {
      fn, blockingBase: false, swallowsAtEntry: 0, depth: 0, holding: false, silent: false, visible: created, children: [],
      cms: [], inTry: false,
    };
    const body: Stmt[] = [];
    for (const task of this.tasks) {
      body.push({ k: "create", task: task.name });
      created.push(task.name);
      if (this.rng.chance(0.5)) body.push(...this.seq(scope, 1, 2, 0));
    }
    body.push(...this.seq(scope, 2, 5, 0));
    const settle = this.rng.chance(0.7) ? this.newTimer() : null;
    if (settle !== null) body.push({ k: "sleep", timer: settle });
    return body;
  }

  /** A task function: its body, and whether it ends by returning (else by raising). */
  private taskDef(
    name: string,
    where: { blockingBase: boolean; silent: boolean; visible: readonly string[]; depth: number; inTry?: boolean },
    min: number,
    max: number,
  ): TaskDef {
    const fn: FnState = { name, steps: 0, swallows: 0, isMain: false };
    const scope: Scope = { fn, swallowsAtEntry: 0, holding: false, children: [], cms: [], inTry: false, ...where };
    const body = this.seq(scope, min, max, 0.12);
    return { name, body, returns: body.at(-1)?.k !== "raise" };
  }

  /** min..max statements (fewer when the budget is spent), possibly ending with a raise. */
  private seq(s: Scope, min: number, max: number, raiseChance: number): Stmt[] {
    const n = Math.max(min, Math.min(this.rng.range(min, max), this.budget));
    const out: Stmt[] = [];
    for (let i = 0; i < n; i++) out.push(this.stmt(s));
    if (out.length > 0 && this.rng.chance(raiseChance)) out.push({ k: "raise", msg: this.label(s) });
    return out;
  }

  private stmt(s: Scope): Stmt {
    this.budget--;
    for (let attempt = 0; attempt < 12; attempt++) {
      const kind = this.rng.weighted(this.kinds(s));
      const stmt = this.make(kind, s);
      if (stmt === null) continue;
      if (!this.blockingOk(s) && this.blocks(stmt)) continue;
      if (s.fn.isMain && s.depth === 0 && isRisky(stmt) && this.rng.chance(0.7)) return this.guard(s, [stmt]);
      return stmt;
    }
    return this.print(s);
  }

  private kinds(s: Scope): [Kind, number][] {
    const ok = this.blockingOk(s);
    const compound = !s.holding && s.depth < MAX_DEPTH && this.budget > 2;
    const kinds: [Kind, number][] = [["print", 7], ["sleep0", 6], ["call", 7]];
    if (this.sites < MAX_SITES) kinds.push(["sleep", 4]);
    if (s.visible.length > 0) kinds.push(["cancel", 4]);
    const queues = this.has(...QUEUE_KINDS);
    if (this.has("event")) kinds.push(["evSet", 4], ["evClear", 2], ["evPulse", 1.5]);
    if (this.has("event") && ok) kinds.push(["evWait", 5]);
    if (queues) kinds.push(["qPut", 4], ["qGetNowait", 2], ["qTaskDone", 2]);
    if (queues && ok && !s.silent) kinds.push(["qGet", 5], ["qJoin", 2]);
    if (queues && !s.holding) kinds.push(["qShutdown", 0.7]);
    if (this.has(...this.holdable()) && !s.holding && !s.silent) kinds.push(["hold", 6]);
    if (this.has(...this.releasable())) kinds.push(["semRelease", 1.5]);
    if (this.has("cond") && !s.holding && !s.silent) kinds.push(["condNotify", 3]);
    if (this.has("cond") && ok && !s.silent) kinds.push(["condWait", 3], ["condWaitFor", 3]);
    if (this.has("barrier") && ok && !s.silent) kinds.push(["barrierWait", 4]);
    if (this.has("barrier") && !s.holding && !s.silent) kinds.push(["barrierAbort", 0.6], ["barrierReset", 1]);
    // Not in `finally` bodies (holding): after its timeout expired, reschedule raises RuntimeError, which would
    // replace a propagating CancelledError.
    if (s.cms.length > 0 && !s.holding) kinds.push(["reschedule", 3]);
    if (!s.holding) {
      kinds.push(["await", 6], ["gather", 3], ["waitFor", 4]);
      if (!s.silent && s.visible.length > 0) kinds.push(["wait", 3]);
      if (!s.silent && s.visible.length > 1) kinds.push(["asCompleted", 1.2]);
    }
    if (compound) kinds.push(["timeout", 4], ["taskGroup", 3], ["try", 5]);
    return kinds;
  }

  private make(kind: Kind, s: Scope): Stmt | null {
    switch (kind) {
      case "print":
        return this.print(s);
      case "sleep0":
        return { k: "sleep0" };
      case "sleep": {
        const timer = this.newTimer();
        return timer === null ? null : { k: "sleep", timer };
      }
      case "call": {
        const call = this.helperCall();
        return { k: "call", label: this.label(s), v: this.newVar("v"), call };
      }
      case "cancel": {
        const msg = this.rng.chance(0.5) ? `by ${s.fn.name}` : null;
        return { k: "cancel", label: this.label(s), task: this.rng.pick(s.visible), msg };
      }
      case "evSet":
      case "evClear":
      case "evPulse":
        return { k: kind, prim: this.prim("event")!.name };
      case "evWait":
        return { k: "evWait", label: this.label(s), v: this.newVar("v"), prim: this.prim("event")!.name };
      case "qPut": {
        const q = this.prim(...QUEUE_KINDS)!;
        const nowait = s.holding || this.rng.chance(0.5);
        const item: number | [number, number] = q.kind === "pq" ? [this.rng.range(1, 3), ++this.items] : this.rng.range(1, 99);
        return { k: "qPut", label: this.label(s), prim: q.name, item, nowait };
      }
      case "qGetNowait":
      case "qGet":
        return { k: "qGet", label: this.label(s), v: this.newVar("v"), prim: this.prim(...QUEUE_KINDS)!.name, nowait: kind === "qGetNowait" };
      case "qShutdown":
        return { k: "qShutdown", prim: this.prim(...QUEUE_KINDS)!.name, immediate: this.rng.chance(0.4) };
      case "qTaskDone":
        return { k: "qTaskDone", label: this.label(s), v: this.newVar("e"), prim: this.prim(...QUEUE_KINDS)!.name };
      case "qJoin":
        return { k: "qJoin", label: this.label(s), prim: this.prim(...QUEUE_KINDS)!.name };
      case "semRelease":
        return { k: "semRelease", label: this.label(s), v: this.newVar("e"), prim: this.prim(...this.releasable())!.name };
      case "condWaitFor":
        return { k: "condWaitFor", label: this.label(s), v: this.newVar("v"), prim: this.prim("cond")!.name, n: this.rng.range(1, 3) };
      case "barrierReset":
        return { k: "barrierReset", prim: this.prim("barrier")!.name };
      case "reschedule": {
        // null (to now) also when no timer site is left.
        const timer = this.rng.chance(0.3) ? null : this.newTimer();
        return { k: "reschedule", cm: this.rng.pick(s.cms), timer };
      }
      case "hold": {
        const prim = this.prim(...this.holdable())!;
        const inner: Scope = { ...s, holding: true, depth: s.depth + 1 };
        return { k: "hold", prim: prim.name, label: this.label(s), body: this.seq(inner, 1, 3, 0.08) };
      }
      case "condNotify":
        return { k: "condNotify", prim: this.prim("cond")!.name, all: this.rng.chance(0.4) };
      case "condWait":
        return { k: "condWait", label: this.label(s), prim: this.prim("cond")!.name };
      case "barrierWait":
        return { k: "barrierWait", label: this.label(s), v: this.newVar("v"), prim: this.prim("barrier")!.name };
      case "barrierAbort":
        return { k: "barrierAbort", prim: this.prim("barrier")!.name };
      case "await": {
        const target = this.target(s, 0.7);
        return { k: "await", label: this.label(s), v: this.newVar("v"), target };
      }
      case "gather":
        return this.gather(s);
      case "waitFor": {
        const timer = this.newTimer();
        if (timer === null) return null;
        return { k: "waitFor", label: this.label(s), v: this.newVar("v"), target: this.target(s, 0.6), timer };
      }
      case "wait":
      case "asCompleted":
        return this.waitLike(kind, s);
      case "timeout": {
        const timer = this.newTimer();
        if (timer === null) return null;
        const v = this.newVar("cm");
        const inner: Scope = { ...s, blockingBase: true, swallowsAtEntry: s.fn.swallows, depth: s.depth + 1, cms: [...s.cms, v] };
        const body = this.seq(inner, 1, 3, 0.15);
        return { k: "timeout", label: this.label(s), v, timer, body };
      }
      case "taskGroup":
        return this.taskGroup(s);
      case "try":
        return this.guard(s, this.seq({ ...s, depth: s.depth + 1, inTry: true }, 1, 3, 0.2));
    }
  }

  private print(s: Scope): Stmt {
    const options: Expr[] = [{ k: "now" }, { k: "selfCancelling" }];
    for (const t of [...s.visible, ...s.children]) {
      options.push({ k: "done", task: t }, { k: "cancelled", task: t }, { k: "cancelling", task: t });
    }
    for (const p of this.prims) {
      if (p.kind === "lock" || p.kind === "sem" || p.kind === "bsem" || p.kind === "cond") options.push({ k: "locked", prim: p.name });
      if (p.kind === "event") options.push({ k: "isSet", prim: p.name });
      if (QUEUE_KINDS.includes(p.kind)) options.push({ k: "qsize", prim: p.name });
      if (p.kind === "barrier") options.push({ k: "nWaiting", prim: p.name }, { k: "broken", prim: p.name });
    }
    const exprs = this.rng.chance(0.25) ? [] : this.rng.sample(options, this.rng.range(1, 3));
    return { k: "print", label: this.label(s), exprs };
  }

  private helperCall(): HelperCall {
    const arg = `x${++this.args}`;
    const timer = this.rng.chance(0.15) ? this.newTimer() : null;
    if (timer !== null) return { fn: "sleep", arg, timer };
    const fn = this.rng.weighted([["ret", 4], ["nested", 3], ["raise", 1.2], ["yield", 3], ["yieldRaise", 0.8]] as const);
    return { fn, arg };
  }

  /** Tasks this scope may await. */
  private awaitableTasks(s: Scope): string[] {
    if (s.silent) return [];
    const ok = this.blockingOk(s);
    return s.visible.filter((t) => ok || this.taskBlocks.get(t) === false);
  }

  private target(s: Scope, taskChance: number): AwaitTarget {
    const tasks = this.awaitableTasks(s);
    if (tasks.length > 0 && this.rng.chance(taskChance)) {
      const task = this.rng.pick(tasks);
      return this.rng.chance(0.25) ? { k: "shield", task } : { k: "task", task };
    }
    return { k: "helper", call: this.helperCall() };
  }

  private gather(s: Scope): Stmt {
    const tasks = this.rng.sample(this.awaitableTasks(s), this.rng.range(0, 3));
    const items: AwaitTarget[] = tasks.map((task) => ({ k: "task", task }));
    while (items.length < 2 || (items.length < 3 && this.rng.chance(0.3))) {
      const call: HelperCall = this.rng.chance(0.15) ? { fn: "cancelSelf", arg: `x${++this.args}` } : this.helperCall();
      items.splice(this.rng.int(items.length + 1), 0, { k: "helper", call });
    }
    return { k: "gather", label: this.label(s), v: this.newVar("v"), items, returnExceptions: this.rng.chance(0.5) };
  }

  private waitLike(kind: "wait" | "asCompleted", s: Scope): Stmt | null {
    const min = kind === "wait" ? 1 : 2;
    const tasks = this.rng.sample(s.visible, this.rng.range(min, 3));
    const mustBound = !this.blockingOk(s) && tasks.some((t) => this.taskBlocks.get(t) !== false);
    const timer = mustBound || this.rng.chance(0.4) ? this.newTimer() : null;
    if (mustBound && timer === null) return null;
    const label = this.label(s);
    const v = this.newVar("v");
    if (kind === "asCompleted") return { k: "asCompleted", label, v, tasks, timer, form: this.rng.chance(0.5) ? "sync" : "async" };
    const returnWhen = this.rng.pick<ReturnWhen>(["FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"]);
    return { k: "wait", label, v, tasks, returnWhen, timer };
  }

  private taskGroup(s: Scope): Stmt {
    const count = this.rng.weighted([[1, 3], [2, 3], [3, 1]]);
    const silent = s.silent || count >= 2;
    const where = { blockingBase: this.blockingOk(s), silent, visible: s.visible, depth: s.depth + 1, inTry: s.inTry };
    const children: TaskDef[] = [];
    const converts = this.converts;
    for (let i = 0; i < count; i++) children.push(this.taskDef(`c${++this.childCount}`, where, 1, 3));
    // A child that turns its cancellation into an error makes the group raise an ExceptionGroup instead of the
    // CancelledError of this task's own cancellation, which a handler here may swallow.
    if (this.converts > converts) s.fn.swallows++;
    const v = this.newVar("tg");
    const inner: Scope = { ...s, depth: s.depth + 1, children: [...s.children, ...children.map((c) => c.name)] };
    const body = this.seq(inner, 0, 2, 0.1);
    return { k: "taskGroup", label: this.label(s), v, children, body };
  }

  /** `try: body` with one or two handlers and sometimes a `finally`. */
  private guard(s: Scope, body: Stmt[]): Stmt {
    const classes: CatchClass[] = ["CancelledError", "Boom", "TimeoutError", "ExceptionGroup", "Exception"];
    // A silent child may turn its cancellation into an error, without printing, when no handler of its own can
    // print that error: the group then collects one error per such child, whatever order they were cancelled in.
    const quietConvert = s.silent && !s.inTry;
    const allowed = s.silent && !quietConvert ? classes.filter((c) => c !== "CancelledError") : classes;
    const chosen = this.rng.sample(allowed, this.rng.range(1, 2));
    // Favour the conversion where it is allowed: it is what makes a group's ExceptionGroup hold several errors.
    if (quietConvert && !chosen.includes("CancelledError") && this.rng.chance(0.5)) chosen[0] = "CancelledError";
    const handlers: Handler[] = chosen.map((cls) => {
      const action =
        cls === "CancelledError" && s.silent
          ? "quietConvert"
          : cls === "CancelledError"
            ? this.rng.weighted([["reraise", 5], ["swallow", 3], ["uncancel", 2], ["convert", 1.5]] as const)
            : this.rng.weighted([["reraise", 1], ["swallow", 4], ["convert", 0.5]] as const);
      // Converting counts as swallowing: an outer handler of this function may swallow the Boom.
      if (cls === "CancelledError" && action !== "reraise") s.fn.swallows++;
      if (action === "convert" || action === "quietConvert") this.converts++;
      return { cls, label: this.label(s), action, v: this.newVar("e") };
    });
    let fin: Stmt[] | null = null;
    if (!s.silent && this.rng.chance(0.2)) {
      const quiet: Scope = { ...s, blockingBase: false, holding: true, depth: MAX_DEPTH };
      fin = [this.rng.chance(0.5) ? this.print(quiet) : this.stmt(quiet)];
    }
    return { k: "try", body, handlers, fin };
  }
}

/** Statements that raise often enough that main wraps them in a `try`. */
function isRisky(stmt: Stmt): boolean {
  switch (stmt.k) {
    case "await":
    case "gather":
    case "waitFor":
    case "asCompleted":
    case "timeout":
    case "taskGroup":
    case "barrierWait":
      return true;
    case "call":
      return stmt.call.fn === "raise" || stmt.call.fn === "yieldRaise";
    case "qGet":
    case "qPut":
      return stmt.nowait;
    default:
      return false;
  }
}
