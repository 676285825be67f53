// The loop's timer heap (src/_internal/kernel/timer_heap.ts): timers come out by `when`, ties in scheduling order,
// through any mix of pushes, pops and filters.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { TimerHandle } from "../src/index.js";
import { TimerHeap } from "../src/_internal/kernel/timer_heap.js";

interface FakeTimer {
  _when: number;
  _seq: number;
}

const op = fc.oneof(
  fc.record({ kind: fc.constant("push" as const), when: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ kind: fc.constant("pop" as const) }),
  fc.record({ kind: fc.constant("filter" as const), modulo: fc.integer({ min: 2, max: 4 }) }),
);

function byDue(a: FakeTimer, b: FakeTimer): number {
  return a._when - b._when || a._seq - b._seq;
}

test("timers leave the heap by when, ties in the order they were pushed, through pushes, pops and filters", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const heap = new TimerHeap();
      const model: FakeTimer[] = [];
      let seq = 0;
      for (const o of ops) {
        if (o.kind === "push") {
          const timer = { _when: o.when / 4, _seq: seq++ };
          heap.push(timer as unknown as TimerHandle);
          model.push(timer);
        } else if (o.kind === "pop") {
          model.sort(byDue);
          assert.equal(heap.pop(), model.shift());
        } else {
          heap.filter((t) => (t as unknown as FakeTimer)._seq % o.modulo !== 0);
          for (let i = model.length - 1; i >= 0; i--) if (model[i]!._seq % o.modulo === 0) model.splice(i, 1);
        }
        assert.equal(heap.length, model.length);
      }
      model.sort(byDue);
      const drained: unknown[] = [];
      for (let t = heap.pop(); t !== undefined; t = heap.pop()) drained.push(t);
      assert.deepEqual(drained, model);
    }),
    { numRuns: 300 },
  );
});
