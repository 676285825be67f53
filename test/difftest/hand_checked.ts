/**
 * A program of the scenario language whose CPython trace was worked out by hand (and confirmed on CPython 3.13.0):
 * the first half of the reproduction in the kernel-ordering issue. Three tasks start in the same iteration; the
 * first awaits a coroutine that returns at once, the second takes a free lock, the third prints. CPython runs each
 * first step to its end before the next task starts, so they print in creation order, and main (which yielded once
 * with `sleep(0)` after creating them) prints after all three.
 * @module
 */
import type { Program } from "./scenario.js";

/** The program. */
export const HAND_CHECKED: Program = {
  version: 1,
  seed: -1,
  sites: 1,
  prims: [{ kind: "lock", name: "lock1", size: 0 }],
  tasks: [
    { name: "t1", returns: true, body: [{ k: "call", label: "A", v: "v1", call: { fn: "nested", arg: "x1" } }] },
    { name: "t2", returns: true, body: [{ k: "hold", prim: "lock1", label: "B", body: [{ k: "print", label: "B done", exprs: [] }] }] },
    { name: "t3", returns: true, body: [{ k: "print", label: "C", exprs: [{ k: "now" }] }] },
  ],
  main: [
    { k: "create", task: "t1" },
    { k: "create", task: "t2" },
    { k: "create", task: "t3" },
    { k: "sleep0" },
    { k: "print", label: "main", exprs: [{ k: "done", task: "t1" }, { k: "locked", prim: "lock1" }] },
    { k: "sleep", timer: { site: 0, gap: 2 } },
    { k: "print", label: "main", exprs: [{ k: "now" }] },
  ],
};

/** Its trace, worked out by hand. */
export const HAND_CHECKED_TRACE = [
  "A x1",
  "B True",
  "B done",
  "C 0",
  "main True False",
  "main 2",
  "end t1 result t1 ok",
  "end t2 result t2 ok",
  "end t3 result t3 ok",
  "end False",
];
