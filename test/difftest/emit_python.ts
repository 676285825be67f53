/**
 * Writes a scenario program as a CPython 3.13 asyncio program. The source defines `main()` and the module-level
 * `flags` list (reasons the run depends on the machine); `run_python.py` runs `main()` in a fresh `asyncio.run`
 * with `print` collecting the trace. Run standalone, the program prints its trace.
 * @module
 */
import { Lines, quote } from "./lines.js";
import { type AwaitTarget, type Expr, type Handler, type HelperCall, type Prim, type Program, type Stmt, type TaskDef, type Timer, primState } from "./scenario.js";

const PRELUDE = `import asyncio

SLOT = 0.05
T0 = 0.0
flags = []
used_slots = set()


class Boom(Exception):
    pass


def show(v):
    if v is None:
        return "None"
    if v is True:
        return "True"
    if v is False:
        return "False"
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, BaseExceptionGroup):
        return type(v).__name__ + "[" + ", ".join(sorted(show(x) for x in v.exceptions)) + "]"
    if isinstance(v, (Boom, asyncio.CancelledError)):
        return type(v).__name__ + "(" + str(v) + ")"
    if isinstance(v, BaseException):
        return type(v).__name__
    return "?"


def state(t):
    if not t.done():
        return "pending"
    if t.cancelled():
        return "cancelled"
    if t.exception() is not None:
        return "raised " + show(t.exception())
    return "result " + show(t.result())


def slot_now(current):
    slot = round((current - T0) / SLOT)
    if abs(current - T0 - slot * SLOT) > 0.02:
        flags.append(f"ran {current - T0 - slot * SLOT:.3f}s off slot {slot}")
    return slot


def now():
    return slot_now(asyncio.get_running_loop().time())


def dl(site, gap):
    current = asyncio.get_running_loop().time()
    return at(site, gap) - current


def at(site, gap):
    current = asyncio.get_running_loop().time()
    slot = slot_now(current) + gap
    while slot % SITES != site:
        slot += 1
    if slot in used_slots:
        flags.append(f"slot {slot} used twice")
    used_slots.add(slot)
    delay = T0 + slot * SLOT - current
    if delay < 0.02:
        flags.append(f"slot {slot} armed {delay:.3f}s ahead")
    return T0 + slot * SLOT


def check_order(*tasks):
    if sum(t.done() for t in tasks) > 1:
        flags.append("as_completed got several tasks already done")


async def h_ret(x):
    return x


async def h_nested(x):
    return await h_ret(x)


async def h_raise(x):
    raise Boom(x)


async def h_yield(x):
    await asyncio.sleep(0)
    return x


async def h_yield_raise(x):
    await asyncio.sleep(0)
    raise Boom(x)


async def h_cancel_self(x):
    asyncio.current_task().cancel(x)
    await asyncio.sleep(0)
    return x


async def h_sleep(x, site, gap):
    await asyncio.sleep(dl(site, gap))
    return x
`;

const HELPERS: Record<HelperCall["fn"], string> = {
  ret: "h_ret", nested: "h_nested", raise: "h_raise", yield: "h_yield", yieldRaise: "h_yield_raise", sleep: "h_sleep",
  cancelSelf: "h_cancel_self",
};

const CATCH: Record<Handler["cls"], string> = {
  CancelledError: "asyncio.CancelledError", Boom: "Boom", TimeoutError: "TimeoutError",
  ExceptionGroup: "ExceptionGroup", Exception: "Exception",
};

/** The Python source of `program`. */
export function emitPython(program: Program): string {
  const out = new Lines("    ");
  out.add(...PRELUDE.split("\n"));
  out.add(`SITES = ${program.sites}`, "", "", "async def main():");
  out.nested(() => {
    out.add("global T0", "loop = asyncio.get_running_loop()", "T0 = loop.time()");
    for (const p of program.prims) out.add(`${p.name} = ${primConstructor(p)}`);
    for (const p of program.prims) if (p.kind === "cond") out.add(`${p.name}_n = [0]`);
    for (const t of program.tasks) out.add(`${t.name} = None`);
    for (const t of program.tasks) taskFunction(out, t);
    out.add("try:");
    out.nested(() => block(out, program.main));
    out.add("except BaseException as e0:");
    out.nested(() => out.add('print("m caught", show(e0))'));
    out.add(`tasks = [t for t in [${program.tasks.map((t) => t.name).join(", ")}] if t is not None]`);
    out.add("for t in tasks:");
    out.nested(() => out.add("t.cancel()"));
    out.add("await asyncio.gather(*tasks, return_exceptions=True)");
    out.add("for t in tasks:");
    out.nested(() => out.add('print("end", t.get_name(), state(t))'));
    if (program.prims.length > 0) out.add(`print("end", ${program.prims.flatMap(primState).map(show).join(", ")})`);
  });
  out.add("", "", 'if __name__ == "__main__":');
  out.nested(() => out.add("asyncio.run(main())", "if flags:", "    print(flags)"));
  return out.toString();
}

function primConstructor(p: Prim): string {
  switch (p.kind) {
    case "lock":
      return "asyncio.Lock()";
    case "sem":
      return `asyncio.Semaphore(${p.size})`;
    case "bsem":
      return `asyncio.BoundedSemaphore(${p.size})`;
    case "event":
      return "asyncio.Event()";
    case "cond":
      return "asyncio.Condition()";
    case "barrier":
      return `asyncio.Barrier(${p.size})`;
    case "queue":
      return p.size > 0 ? `asyncio.Queue(${p.size})` : "asyncio.Queue()";
    case "lifo":
      return p.size > 0 ? `asyncio.LifoQueue(${p.size})` : "asyncio.LifoQueue()";
    case "pq":
      return p.size > 0 ? `asyncio.PriorityQueue(${p.size})` : "asyncio.PriorityQueue()";
  }
}

function expr(e: Expr): string {
  switch (e.k) {
    case "done":
    case "cancelled":
    case "cancelling":
      return `${e.task}.${e.k}()`;
    case "selfCancelling":
      return "asyncio.current_task().cancelling()";
    case "locked":
      return `${e.prim}.locked()`;
    case "isSet":
      return `${e.prim}.is_set()`;
    case "qsize":
      return `${e.prim}.qsize()`;
    case "nWaiting":
      return `${e.prim}.n_waiting`;
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

function target(t: AwaitTarget): string {
  if (t.k === "task") return t.task;
  if (t.k === "shield") return `asyncio.shield(${t.task})`;
  return helperCall(t.call);
}

function taskFunction(out: Lines, t: TaskDef): void {
  out.add("", `async def body_${t.name}():`);
  out.nested(() => {
    block(out, t.body);
    if (t.returns) out.add(`return ${quote(`${t.name} ok`)}`);
  });
  out.add("");
}

function block(out: Lines, body: Stmt[]): void {
  if (body.length === 0) out.add("pass");
  for (const s of body) stmt(out, s);
}

function printValue(out: Lines, label: string, value: string): void {
  out.add(`print(${quote(label)}, show(${value}))`);
}

function stmt(out: Lines, s: Stmt): void {
  switch (s.k) {
    case "print":
      out.add(`print(${[quote(s.label), ...s.exprs.map(show)].join(", ")})`);
      return;
    case "sleep0":
      out.add("await asyncio.sleep(0)");
      return;
    case "sleep":
      out.add(`await asyncio.sleep(${timer(s.timer)})`);
      return;
    case "call":
      out.add(`${s.v} = await ${helperCall(s.call)}`);
      printValue(out, s.label, s.v);
      return;
    case "create":
      out.add(`${s.task} = asyncio.create_task(body_${s.task}(), name=${quote(s.task)})`);
      return;
    case "await":
      out.add(`${s.v} = await ${target(s.target)}`);
      printValue(out, s.label, s.v);
      return;
    case "cancel":
      printValue(out, s.label, `${s.task}.cancel(${s.msg === null ? "" : quote(s.msg)})`);
      return;
    case "raise":
      out.add(`raise Boom(${quote(s.msg)})`);
      return;
    case "try":
      tryStmt(out, s);
      return;
    case "hold":
      out.add(`async with ${s.prim}:`);
      out.nested(() => {
        printValue(out, s.label, `${s.prim}.locked()`);
        block(out, s.body);
      });
      return;
    case "evWait":
      out.add(`${s.v} = await ${s.prim}.wait()`);
      printValue(out, s.label, s.v);
      return;
    case "evSet":
      out.add(`${s.prim}.set()`);
      return;
    case "evClear":
      out.add(`${s.prim}.clear()`);
      return;
    case "condWait":
      out.add(`async with ${s.prim}:`);
      out.nested(() => out.add(`print(${quote(s.label)}, "waits")`, `await ${s.prim}.wait()`, `print(${quote(s.label)}, "woken")`));
      return;
    case "condNotify":
      out.add(`async with ${s.prim}:`);
      out.nested(() => out.add(`${s.prim}_n[0] += 1`, s.all ? `${s.prim}.notify_all()` : `${s.prim}.notify()`));
      return;
    case "condWaitFor":
      out.add(`async with ${s.prim}:`);
      out.nested(() => {
        out.add(`print(${quote(s.label)}, "waits for", ${s.n})`);
        out.add(`${s.v} = await ${s.prim}.wait_for(lambda: ${s.prim}_n[0] >= ${s.n})`);
        printValue(out, s.label, s.v);
      });
      return;
    case "qTaskDone":
      guarded(out, s.label, s.v, `${s.prim}.task_done()`);
      return;
    case "qJoin":
      out.add(`await ${s.prim}.join()`, `print(${quote(s.label)}, "joined")`);
      return;
    case "semRelease":
      guarded(out, s.label, s.v, `${s.prim}.release()`);
      return;
    case "evPulse":
      out.add(`${s.prim}.set()`, `${s.prim}.clear()`);
      return;
    case "barrierReset":
      out.add(`await ${s.prim}.reset()`);
      return;
    case "reschedule":
      out.add(`${s.cm}.reschedule(${s.timer === null ? "loop.time()" : `at(${s.timer.site}, ${s.timer.gap})`})`);
      return;
    case "qPut":
      out.add(s.nowait ? `${s.prim}.put_nowait(${item(s.item)})` : `await ${s.prim}.put(${item(s.item)})`);
      printValue(out, s.label, `${s.prim}.qsize()`);
      return;
    case "qGet":
      out.add(s.nowait ? `${s.v} = ${s.prim}.get_nowait()` : `${s.v} = await ${s.prim}.get()`);
      printValue(out, s.label, s.v);
      return;
    case "qShutdown":
      out.add(s.immediate ? `${s.prim}.shutdown(immediate=True)` : `${s.prim}.shutdown()`);
      return;
    case "barrierWait":
      out.add(`${s.v} = await ${s.prim}.wait()`);
      printValue(out, s.label, s.v);
      return;
    case "barrierAbort":
      out.add(`await ${s.prim}.abort()`);
      return;
    case "gather": {
      const args = [...s.items.map(target), ...(s.returnExceptions ? ["return_exceptions=True"] : [])];
      out.add(`${s.v} = await asyncio.gather(${args.join(", ")})`);
      printValue(out, s.label, s.v);
      return;
    }
    case "wait": {
      const timeout = s.timer === null ? "" : `, timeout=${timer(s.timer)}`;
      out.add(`${s.v}_done, ${s.v}_pending = await asyncio.wait([${s.tasks.join(", ")}], return_when=asyncio.${s.returnWhen}${timeout})`);
      printValue(out, s.label, `[${s.tasks.map((t) => `${t} in ${s.v}_done`).join(", ")}]`);
      return;
    }
    case "waitFor":
      out.add(`${s.v} = await asyncio.wait_for(${target(s.target)}, ${timer(s.timer)})`);
      printValue(out, s.label, s.v);
      return;
    case "asCompleted":
      asCompleted(out, s);
      return;
    case "timeout":
      out.add(`${s.v} = asyncio.timeout(${timer(s.timer)})`, `async with ${s.v}:`);
      out.nested(() => block(out, s.body));
      printValue(out, s.label, `${s.v}.expired()`);
      return;
    case "taskGroup":
      for (const c of s.children) taskFunction(out, c);
      out.add(`async with asyncio.TaskGroup() as ${s.v}:`);
      out.nested(() => {
        for (const c of s.children) out.add(`${c.name} = ${s.v}.create_task(body_${c.name}(), name=${quote(c.name)})`);
        for (const b of s.body) stmt(out, b);
      });
      out.add(`print(${[quote(s.label), ...s.children.map((c) => `state(${c.name})`)].join(", ")})`);
      return;
  }
}

function item(value: number | [number, number]): string {
  return typeof value === "number" ? String(value) : `(${value.join(", ")})`;
}

/** `call` (which may raise ValueError), printing "ok" or the error. */
function guarded(out: Lines, label: string, v: string, call: string): void {
  out.add("try:");
  out.nested(() => out.add(call, `print(${quote(label)}, "ok")`));
  out.add(`except ValueError as ${v}:`);
  out.nested(() => printValue(out, label, v));
}

function tryStmt(out: Lines, s: Extract<Stmt, { k: "try" }>): void {
  out.add("try:");
  out.nested(() => block(out, s.body));
  for (const h of s.handlers) {
    out.add(`except ${CATCH[h.cls]} as ${h.v}:`);
    out.nested(() => {
      const uncancel = h.action === "uncancel" ? ", show(asyncio.current_task().uncancel())" : "";
      if (h.action !== "quietConvert") out.add(`print(${quote(h.label)}, show(${h.v})${uncancel})`);
      if (h.action === "reraise") out.add("raise");
      if (h.action === "convert" || h.action === "quietConvert") out.add(`raise Boom(${quote(h.label)})`);
    });
  }
  if (s.fin !== null) {
    out.add("finally:");
    out.nested(() => block(out, s.fin!));
  }
}

function asCompleted(out: Lines, s: Extract<Stmt, { k: "asCompleted" }>): void {
  const timeout = s.timer === null ? "" : `, timeout=${timer(s.timer)}`;
  out.add(`check_order(${s.tasks.join(", ")})`);
  if (s.form === "async") {
    out.add(`async for ${s.v} in asyncio.as_completed([${s.tasks.join(", ")}]${timeout}):`);
    out.nested(() => out.add(`print(${quote(s.label)}, ${s.v}.get_name(), state(${s.v}))`));
    return;
  }
  out.add(`for ${s.v}_next in asyncio.as_completed([${s.tasks.join(", ")}]${timeout}):`);
  out.nested(() => {
    out.add("try:");
    out.nested(() => {
      out.add(`${s.v} = await ${s.v}_next`);
      printValue(out, s.label, s.v);
    });
    out.add(`except Exception as ${s.v}_error:`);
    out.nested(() => printValue(out, s.label, `${s.v}_error`));
  });
}
