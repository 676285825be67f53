/**
 * Writes a scenario program as the body of a JavaScript async function using asyncio-ts, ported line by line from
 * the Python of `emit_python.ts` (same identifiers, same statement order). The body takes `asyncio` (the module)
 * and `print` (joins its arguments with spaces, as Python's), and returns `{ main, flags }`: run `main` as the main
 * task; `flags` says why a run depended on the machine.
 * @module
 */
import { Lines, quote } from "./lines.js";
import { type AwaitTarget, type Expr, type Handler, type HelperCall, type Prim, type Program, type Stmt, type TaskDef, type Timer, primState } from "./scenario.js";

const PRELUDE = `const SLOT = 0.05;
let T0 = 0;
const flags = [];
const usedSlots = new Set();

class Boom extends Error {
  name = "Boom";
}

/** Python's names for the JS classes asyncio-ts uses in their place. */
const PYTHON_NAMES = { RangeError: "ValueError" };

function show(v) {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number" || typeof v === "string") return String(v);
  if (Array.isArray(v)) return "[" + v.map(show).join(", ") + "]";
  if (v instanceof asyncio.ExceptionGroup) return "ExceptionGroup[" + v.exceptions.map(show).sort().join(", ") + "]";
  if (v instanceof Boom || v instanceof asyncio.CancelledError) return v.name + "(" + v.message + ")";
  if (v instanceof Error) return PYTHON_NAMES[v.name] ?? v.name;
  return "?";
}

function state(t) {
  if (!t.done()) return "pending";
  if (t.cancelled()) return "cancelled";
  if (t.exception() !== null && t.exception() !== undefined) return "raised " + show(t.exception());
  return "result " + show(t.result());
}

function slotNow(current) {
  const slot = Math.round((current - T0) / SLOT);
  if (Math.abs(current - T0 - slot * SLOT) > 0.02) flags.push(\`ran \${(current - T0 - slot * SLOT).toFixed(3)}s off slot \${slot}\`);
  return slot;
}

function now() {
  return slotNow(asyncio.getRunningLoop().time());
}

function dl(site, gap) {
  const current = asyncio.getRunningLoop().time();
  return at(site, gap) - current;
}

function at(site, gap) {
  const current = asyncio.getRunningLoop().time();
  let slot = slotNow(current) + gap;
  while (slot % SITES !== site) slot += 1;
  if (usedSlots.has(slot)) flags.push(\`slot \${slot} used twice\`);
  usedSlots.add(slot);
  const delay = T0 + slot * SLOT - current;
  if (delay < 0.02) flags.push(\`slot \${slot} armed \${delay.toFixed(3)}s ahead\`);
  return T0 + slot * SLOT;
}

function check_order(...tasks) {
  if (tasks.filter((t) => t.done()).length > 1) flags.push("as_completed got several tasks already done");
}

async function h_ret(x) {
  return x;
}

async function h_nested(x) {
  return await h_ret(x);
}

async function h_raise(x) {
  throw new Boom(x);
}

async function h_yield(x) {
  await asyncio.sleep(0);
  return x;
}

async function h_yield_raise(x) {
  await asyncio.sleep(0);
  throw new Boom(x);
}

async function h_cancel_self(x) {
  asyncio.currentTask().cancel(x);
  await asyncio.sleep(0);
  return x;
}

async function h_sleep(x, site, gap) {
  await asyncio.sleep(dl(site, gap));
  return x;
}
`;

const HELPERS: Record<HelperCall["fn"], string> = {
  ret: "h_ret", nested: "h_nested", raise: "h_raise", yield: "h_yield", yieldRaise: "h_yield_raise", sleep: "h_sleep",
  cancelSelf: "h_cancel_self",
};

/** The `instanceof` test of each Python `except` class (`Exception` is everything but CancelledError). */
function catchTest(cls: Handler["cls"], v: string): string {
  switch (cls) {
    case "CancelledError":
      return `${v} instanceof asyncio.CancelledError`;
    case "Boom":
      return `${v} instanceof Boom`;
    case "TimeoutError":
      return `${v} instanceof asyncio.TimeoutError`;
    case "ExceptionGroup":
      return `${v} instanceof asyncio.ExceptionGroup`;
    case "Exception":
      return `!(${v} instanceof asyncio.CancelledError)`;
  }
}

/** The JavaScript function body of `program`. */
export function emitJs(program: Program): string {
  const out = new Lines("  ");
  out.add(...PRELUDE.split("\n"));
  out.add(`const SITES = ${program.sites};`, "", "async function main() {");
  out.nested(() => {
    out.add("const loop = asyncio.getRunningLoop();", "T0 = loop.time();");
    for (const p of program.prims) out.add(`const ${p.name} = ${primConstructor(p)};`);
    for (const p of program.prims) if (p.kind === "cond") out.add(`const ${p.name}_n = [0];`);
    for (const t of program.tasks) out.add(`let ${t.name} = null;`);
    for (const t of program.tasks) taskFunction(out, t);
    out.add("try {");
    out.nested(() => block(out, program.main));
    out.add("} catch (e0) {");
    out.nested(() => out.add('print("m caught", show(e0));'));
    out.add("}");
    out.add(`const tasks = [${program.tasks.map((t) => t.name).join(", ")}].filter((t) => t !== null);`);
    out.add("for (const t of tasks) {");
    out.nested(() => out.add("t.cancel();"));
    out.add("}");
    out.add("await asyncio.gather(...tasks, { returnExceptions: true });");
    out.add("for (const t of tasks) {");
    out.nested(() => out.add('print("end", t.getName(), state(t));'));
    out.add("}");
    if (program.prims.length > 0) out.add(`print("end", ${program.prims.flatMap(primState).map(show).join(", ")});`);
  });
  out.add("}", "", "return { main, flags };");
  return out.toString();
}

function primConstructor(p: Prim): string {
  switch (p.kind) {
    case "lock":
      return "new asyncio.Lock()";
    case "sem":
      return `new asyncio.Semaphore(${p.size})`;
    case "bsem":
      return `new asyncio.BoundedSemaphore(${p.size})`;
    case "event":
      return "new asyncio.Event()";
    case "cond":
      return "new asyncio.Condition()";
    case "barrier":
      return `new asyncio.Barrier(${p.size})`;
    case "queue":
      return p.size > 0 ? `new asyncio.Queue(${p.size})` : "new asyncio.Queue()";
    case "lifo":
      return p.size > 0 ? `new asyncio.LifoQueue(${p.size})` : "new asyncio.LifoQueue()";
    case "pq":
      return p.size > 0 ? `new asyncio.PriorityQueue(${p.size})` : "new asyncio.PriorityQueue()";
  }
}

function expr(e: Expr): string {
  switch (e.k) {
    case "done":
    case "cancelled":
    case "cancelling":
      return `${e.task}.${e.k}()`;
    case "selfCancelling":
      return "asyncio.currentTask().cancelling()";
    case "locked":
      return `${e.prim}.locked()`;
    case "isSet":
      return `${e.prim}.isSet()`;
    case "qsize":
      return `${e.prim}.qsize()`;
    case "nWaiting":
      return `${e.prim}.nWaiting`;
    case "broken":
      return `${e.prim}.broken`;
    case "now":
      return "now()";
  }
}

function show(e: Expr): string {
  return `show(${expr(e)})`;
}

function timer(t: Timer): string {
  return `dl(${t.site}, ${t.gap})`;
}

function helperCall(c: HelperCall): string {
  const args = [quote(c.arg), ...(c.timer ? [String(c.timer.site), String(c.timer.gap)] : [])];
  return `${HELPERS[c.fn]}(${args.join(", ")})`;
}

/** An awaitable argument: a coroutine is passed as a coroutine function (`() => h(...)`), as asyncio-ts wants. */
function awaitable(t: AwaitTarget): string {
  if (t.k === "task") return t.task;
  if (t.k === "shield") return `asyncio.shield(${t.task})`;
  return `() => ${helperCall(t.call)}`;
}

/** What `await` is applied to: a coroutine is called directly, as in Python. */
function awaited(t: AwaitTarget): string {
  return t.k === "helper" ? helperCall(t.call) : awaitable(t);
}

function taskFunction(out: Lines, t: TaskDef): void {
  out.add("", `const body_${t.name} = async () => {`);
  out.nested(() => {
    block(out, t.body);
    if (t.returns) out.add(`return ${quote(`${t.name} ok`)};`);
  });
  out.add("};", "");
}

function block(out: Lines, body: Stmt[]): void {
  for (const s of body) stmt(out, s);
}

function printValue(out: Lines, label: string, value: string): void {
  out.add(`print(${quote(label)}, show(${value}));`);
}

/** `await x.with(async (arg) => { body })`, the port of `async with x as arg: body`. */
function withBlock(out: Lines, head: string, arg: string, body: () => void): void {
  out.add(`await ${head}.with(async (${arg}) => {`);
  out.nested(body);
  out.add("});");
}

function stmt(out: Lines, s: Stmt): void {
  switch (s.k) {
    case "print":
      out.add(`print(${[quote(s.label), ...s.exprs.map(show)].join(", ")});`);
      return;
    case "sleep0":
      out.add("await asyncio.sleep(0);");
      return;
    case "sleep":
      out.add(`await asyncio.sleep(${timer(s.timer)});`);
      return;
    case "call":
      out.add(`const ${s.v} = await ${helperCall(s.call)};`);
      printValue(out, s.label, s.v);
      return;
    case "create":
      out.add(`${s.task} = asyncio.createTask(() => body_${s.task}(), { name: ${quote(s.task)} });`);
      return;
    case "await":
      out.add(`const ${s.v} = await ${awaited(s.target)};`);
      printValue(out, s.label, s.v);
      return;
    case "cancel":
      printValue(out, s.label, `${s.task}.cancel(${s.msg === null ? "" : quote(s.msg)})`);
      return;
    case "raise":
      out.add(`throw new Boom(${quote(s.msg)});`);
      return;
    case "try":
      tryStmt(out, s);
      return;
    case "hold":
      withBlock(out, s.prim, "", () => {
        printValue(out, s.label, `${s.prim}.locked()`);
        block(out, s.body);
      });
      return;
    case "evWait":
      out.add(`const ${s.v} = await ${s.prim}.wait();`);
      printValue(out, s.label, s.v);
      return;
    case "evSet":
      out.add(`${s.prim}.set();`);
      return;
    case "evClear":
      out.add(`${s.prim}.clear();`);
      return;
    case "condWait":
      withBlock(out, s.prim, "", () =>
        out.add(`print(${quote(s.label)}, "waits");`, `await ${s.prim}.wait();`, `print(${quote(s.label)}, "woken");`),
      );
      return;
    case "condNotify":
      withBlock(out, s.prim, "", () => out.add(`${s.prim}_n[0] += 1;`, s.all ? `${s.prim}.notifyAll();` : `${s.prim}.notify();`));
      return;
    case "condWaitFor":
      withBlock(out, s.prim, "", () => {
        out.add(`print(${quote(s.label)}, "waits for", ${s.n});`);
        out.add(`const ${s.v} = await ${s.prim}.waitFor(() => ${s.prim}_n[0] >= ${s.n});`);
        printValue(out, s.label, s.v);
      });
      return;
    case "qTaskDone":
      guarded(out, s.label, s.v, `${s.prim}.taskDone();`);
      return;
    case "qJoin":
      out.add(`await ${s.prim}.join();`, `print(${quote(s.label)}, "joined");`);
      return;
    case "semRelease":
      guarded(out, s.label, s.v, `${s.prim}.release();`);
      return;
    case "evPulse":
      out.add(`${s.prim}.set();`, `${s.prim}.clear();`);
      return;
    case "barrierReset":
      out.add(`await ${s.prim}.reset();`);
      return;
    case "reschedule":
      out.add(`${s.cm}.reschedule(${s.timer === null ? "loop.time()" : `at(${s.timer.site}, ${s.timer.gap})`});`);
      return;
    case "qPut":
      out.add(s.nowait ? `${s.prim}.putNowait(${item(s.item)});` : `await ${s.prim}.put(${item(s.item)});`);
      printValue(out, s.label, `${s.prim}.qsize()`);
      return;
    case "qGet":
      out.add(s.nowait ? `const ${s.v} = ${s.prim}.getNowait();` : `const ${s.v} = await ${s.prim}.get();`);
      printValue(out, s.label, s.v);
      return;
    case "qShutdown":
      out.add(s.immediate ? `${s.prim}.shutdown(true);` : `${s.prim}.shutdown();`);
      return;
    case "barrierWait":
      out.add(`const ${s.v} = await ${s.prim}.wait();`);
      printValue(out, s.label, s.v);
      return;
    case "barrierAbort":
      out.add(`await ${s.prim}.abort();`);
      return;
    case "gather": {
      const args = [...s.items.map(awaitable), ...(s.returnExceptions ? ["{ returnExceptions: true }"] : [])];
      out.add(`const ${s.v} = await asyncio.gather(${args.join(", ")});`);
      printValue(out, s.label, s.v);
      return;
    }
    case "wait": {
      const options = [`returnWhen: asyncio.${s.returnWhen}`, ...(s.timer === null ? [] : [`timeout: ${timer(s.timer)}`])];
      out.add(`const [${s.v}_done, ${s.v}_pending] = await asyncio.wait([${s.tasks.join(", ")}], { ${options.join(", ")} });`);
      printValue(out, s.label, `[${s.tasks.map((t) => `${s.v}_done.has(${t})`).join(", ")}]`);
      return;
    }
    case "waitFor":
      out.add(`const ${s.v} = await asyncio.waitFor(${awaitable(s.target)}, ${timer(s.timer)});`);
      printValue(out, s.label, s.v);
      return;
    case "asCompleted":
      asCompleted(out, s);
      return;
    case "timeout":
      out.add(`const ${s.v} = asyncio.timeout(${timer(s.timer)});`);
      withBlock(out, s.v, "", () => block(out, s.body));
      printValue(out, s.label, `${s.v}.expired()`);
      return;
    case "taskGroup":
      for (const c of s.children) taskFunction(out, c);
      for (const c of s.children) out.add(`let ${c.name} = null;`);
      withBlock(out, "new asyncio.TaskGroup()", s.v, () => {
        for (const c of s.children) out.add(`${c.name} = ${s.v}.createTask(() => body_${c.name}(), { name: ${quote(c.name)} });`);
        block(out, s.body);
      });
      out.add(`print(${[quote(s.label), ...s.children.map((c) => `state(${c.name})`)].join(", ")});`);
      return;
  }
}

function item(value: number | [number, number]): string {
  return typeof value === "number" ? String(value) : `[${value.join(", ")}]`;
}

/** `call` (which may throw asyncio-ts's ValueError, a RangeError), printing "ok" or the error. */
function guarded(out: Lines, label: string, v: string, call: string): void {
  out.add("try {");
  out.nested(() => out.add(call, `print(${quote(label)}, "ok");`));
  out.add(`} catch (${v}) {`);
  out.nested(() => {
    out.add(`if (!(${v} instanceof RangeError)) throw ${v};`);
    printValue(out, label, v);
  });
  out.add("}");
}

function tryStmt(out: Lines, s: Extract<Stmt, { k: "try" }>): void {
  const v = s.handlers[0]!.v;
  out.add("try {");
  out.nested(() => block(out, s.body));
  out.add(`} catch (${v}) {`);
  out.nested(() => {
    s.handlers.forEach((h, i) => {
      out.add(`${i === 0 ? "if" : "} else if"} (${catchTest(h.cls, v)}) {`);
      out.nested(() => {
        const uncancel = h.action === "uncancel" ? ", show(asyncio.currentTask().uncancel())" : "";
        if (h.action !== "quietConvert") out.add(`print(${quote(h.label)}, show(${v})${uncancel});`);
        if (h.action === "reraise") out.add(`throw ${v};`);
        if (h.action === "convert" || h.action === "quietConvert") out.add(`throw new Boom(${quote(h.label)});`);
      });
    });
    out.add("} else {");
    out.nested(() => out.add(`throw ${v};`));
    out.add("}");
  });
  if (s.fin !== null) {
    out.add("} finally {");
    out.nested(() => block(out, s.fin!));
  }
  out.add("}");
}

function asCompleted(out: Lines, s: Extract<Stmt, { k: "asCompleted" }>): void {
  const options = s.timer === null ? "" : `, { timeout: ${timer(s.timer)} }`;
  out.add(`check_order(${s.tasks.join(", ")});`);
  if (s.form === "async") {
    out.add(`for await (const ${s.v} of asyncio.asCompleted([${s.tasks.join(", ")}]${options})) {`);
    out.nested(() => out.add(`print(${quote(s.label)}, ${s.v}.getName(), state(${s.v}));`));
    out.add("}");
    return;
  }
  out.add(`for (const ${s.v}_next of asyncio.asCompleted([${s.tasks.join(", ")}]${options})) {`);
  out.nested(() => {
    out.add("try {");
    out.nested(() => {
      out.add(`const ${s.v} = await ${s.v}_next;`);
      printValue(out, s.label, s.v);
    });
    out.add(`} catch (${s.v}_error) {`);
    out.nested(() => {
      out.add(`if (${s.v}_error instanceof asyncio.CancelledError) throw ${s.v}_error;`);
      printValue(out, s.label, `${s.v}_error`);
    });
    out.add("}");
  });
  out.add("}");
}
