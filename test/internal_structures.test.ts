import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Deque } from "../src/_internal/kernel/deque.js";
import { BinaryHeap } from "../src/_internal/kernel/heap.js";

function drain<T>(d: Deque<T>): T[] {
  const out: T[] = [];
  while (d.length > 0) out.push(d.shift() as T);
  return out;
}

function popAll<T>(h: BinaryHeap<T>): T[] {
  const out: T[] = [];
  while (h.length > 0) out.push(h.pop() as T);
  return out;
}

const numLess = (a: number, b: number): boolean => a < b;

describe("Deque", () => {
  test("a new Deque is empty and shift/pop/peek give undefined", () => {
    const d = new Deque<number>();
    assert.equal(d.length, 0);
    assert.equal(d.shift(), undefined);
    assert.equal(d.pop(), undefined);
    assert.equal(d.peekFirst(), undefined);
    assert.equal(d.peekLast(), undefined);
    assert.equal(d.length, 0);
  });

  test("push then shift gives the items in FIFO order", () => {
    const d = new Deque<number>();
    for (let i = 0; i < 5; i++) d.push(i);
    assert.equal(d.length, 5);
    assert.deepEqual(drain(d), [0, 1, 2, 3, 4]);
    assert.equal(d.length, 0);
  });

  test("push then pop gives the items in LIFO order", () => {
    const d = new Deque<string>();
    for (const s of ["a", "b", "c"]) d.push(s);
    assert.equal(d.pop(), "c");
    assert.equal(d.pop(), "b");
    assert.equal(d.pop(), "a");
    assert.equal(d.pop(), undefined);
  });

  test("unshift puts an item in front of the others", () => {
    const d = new Deque<number>();
    d.push(2);
    d.push(3);
    d.unshift(1);
    d.unshift(0);
    assert.deepEqual([...d], [0, 1, 2, 3]);
    assert.equal(d.peekFirst(), 0);
    assert.equal(d.peekLast(), 3);
  });

  test("peekFirst and peekLast do not remove anything", () => {
    const d = new Deque<number>();
    d.push(1);
    d.push(2);
    assert.equal(d.peekFirst(), 1);
    assert.equal(d.peekLast(), 2);
    assert.equal(d.length, 2);
    assert.deepEqual([...d], [1, 2]);
  });

  test("the Deque grows past its initial capacity and keeps the order", () => {
    const d = new Deque<number>(4);
    for (let i = 0; i < 1000; i++) d.push(i);
    assert.equal(d.length, 1000);
    assert.deepEqual(
      drain(d),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  test("growing while the items wrap around the end of the buffer keeps the order", () => {
    const d = new Deque<number>(16);
    for (let i = 0; i < 12; i++) d.push(i);
    for (let i = 0; i < 10; i++) assert.equal(d.shift(), i);
    // The head is now near the end of the buffer: the next pushes wrap, then force a resize.
    for (let i = 12; i < 60; i++) d.push(i);
    d.unshift(11.5);
    assert.deepEqual(drain(d), [11.5, 10, 11, ...Array.from({ length: 48 }, (_, i) => i + 12)]);
  });

  test("at(i) reads the i-th item from the front, undefined out of range", () => {
    const d = new Deque<string>();
    d.push("b");
    d.push("c");
    d.unshift("a");
    assert.equal(d.at(0), "a");
    assert.equal(d.at(1), "b");
    assert.equal(d.at(2), "c");
    assert.equal(d.at(3), undefined);
    assert.equal(d.at(-1), undefined);
  });

  test("remove deletes the first equal item only, keeps the order and tells whether it found one", () => {
    const d = new Deque<number>();
    for (const x of [1, 2, 3, 2, 4]) d.push(x);
    assert.equal(d.remove(2), true);
    assert.deepEqual([...d], [1, 3, 2, 4]);
    assert.equal(d.remove(9), false);
    assert.deepEqual([...d], [1, 3, 2, 4]);
    assert.equal(d.remove(4), true);
    assert.equal(d.remove(1), true);
    assert.deepEqual([...d], [3, 2]);
    assert.equal(d.length, 2);
  });

  test("remove works when the items wrap around the buffer", () => {
    const d = new Deque<number>(16);
    for (let i = 0; i < 14; i++) d.push(i);
    for (let i = 0; i < 12; i++) d.shift();
    for (let i = 14; i < 20; i++) d.push(i);
    assert.deepEqual([...d], [12, 13, 14, 15, 16, 17, 18, 19]);
    assert.equal(d.remove(15), true);
    assert.deepEqual([...d], [12, 13, 14, 16, 17, 18, 19]);
    assert.equal(d.peekLast(), 19);
  });

  test("clear empties the Deque and it can be used again", () => {
    const d = new Deque<number>();
    for (let i = 0; i < 40; i++) d.push(i);
    d.clear();
    assert.equal(d.length, 0);
    assert.equal(d.shift(), undefined);
    d.push(7);
    assert.deepEqual([...d], [7]);
  });

  test("iterating a Deque yields its items front to back without removing them", () => {
    const d = new Deque<number>();
    for (let i = 0; i < 5; i++) d.push(i);
    d.shift();
    d.unshift(-1);
    assert.deepEqual([...d], [-1, 1, 2, 3, 4]);
    assert.equal(d.length, 5);
  });

  test("a Deque behaves like an array under any sequence of operations", () => {
    type Op = { kind: "push" | "unshift"; value: number } | { kind: "shift" | "pop" | "peek" } | { kind: "remove"; value: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constantFrom("push" as const, "unshift" as const), value: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constantFrom("shift" as const, "pop" as const, "peek" as const) }),
      fc.record({ kind: fc.constant("remove" as const), value: fc.integer({ min: 0, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const d = new Deque<number>();
        const model: number[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case "push":
              d.push(o.value);
              model.push(o.value);
              break;
            case "unshift":
              d.unshift(o.value);
              model.unshift(o.value);
              break;
            case "shift":
              assert.equal(d.shift(), model.shift());
              break;
            case "pop":
              assert.equal(d.pop(), model.pop());
              break;
            case "peek":
              assert.equal(d.peekFirst(), model[0]);
              assert.equal(d.peekLast(), model[model.length - 1]);
              break;
            case "remove": {
              const i = model.indexOf(o.value);
              if (i >= 0) model.splice(i, 1);
              assert.equal(d.remove(o.value), i >= 0);
              break;
            }
          }
          assert.equal(d.length, model.length);
        }
        assert.deepEqual([...d], model);
        for (let i = 0; i < model.length; i++) assert.equal(d.at(i), model[i]);
      }),
      { numRuns: 200 },
    );
  });
});

describe("BinaryHeap", () => {
  test("a new heap is empty and pop/peek give undefined", () => {
    const h = new BinaryHeap<number>(numLess);
    assert.equal(h.length, 0);
    assert.equal(h.peek(), undefined);
    assert.equal(h.pop(), undefined);
  });

  test("pop returns the items smallest first", () => {
    const h = new BinaryHeap<number>(numLess);
    for (const x of [5, 1, 4, 1, 5, 9, 2, 6, 5, 3]) h.push(x);
    assert.equal(h.length, 10);
    assert.deepEqual(popAll(h), [1, 1, 2, 3, 4, 5, 5, 5, 6, 9]);
    assert.equal(h.length, 0);
  });

  test("peek returns the smallest item without removing it", () => {
    const h = new BinaryHeap<number>(numLess);
    h.push(3);
    h.push(1);
    h.push(2);
    assert.equal(h.peek(), 1);
    assert.equal(h.length, 3);
    assert.equal(h.items[0], 1);
  });

  test("the order is the one given by the comparison function", () => {
    const h = new BinaryHeap<number>((a, b) => a > b);
    for (const x of [3, 7, 1, 9]) h.push(x);
    assert.deepEqual(popAll(h), [9, 7, 3, 1]);
  });

  test("a sequence number in the comparison keeps equal keys in insertion order", () => {
    type Item = { key: number; seq: number };
    const h = new BinaryHeap<Item>((a, b) => a.key < b.key || (a.key === b.key && a.seq < b.seq));
    const keys = [2, 1, 2, 1, 2, 1, 3, 1];
    keys.forEach((key, seq) => h.push({ key, seq }));
    assert.deepEqual(
      popAll(h).map((i) => `${i.key}:${i.seq}`),
      ["1:1", "1:3", "1:5", "1:7", "2:0", "2:2", "2:4", "3:6"],
    );
  });

  test("filter keeps only the matching items and the heap order still holds", () => {
    const h = new BinaryHeap<number>(numLess);
    for (let i = 50; i > 0; i--) h.push(i);
    h.filter((x) => x % 3 === 0);
    assert.equal(h.length, 16);
    assert.deepEqual(
      popAll(h),
      Array.from({ length: 16 }, (_, i) => (i + 1) * 3),
    );
  });

  test("filter that keeps nothing leaves an empty, usable heap", () => {
    const h = new BinaryHeap<number>(numLess);
    for (let i = 0; i < 10; i++) h.push(i);
    h.filter(() => false);
    assert.equal(h.length, 0);
    h.push(4);
    assert.equal(h.pop(), 4);
  });

  test("clear empties the heap and it can be used again", () => {
    const h = new BinaryHeap<number>(numLess);
    for (let i = 0; i < 10; i++) h.push(i);
    h.clear();
    assert.equal(h.length, 0);
    assert.equal(h.peek(), undefined);
    h.push(2);
    h.push(1);
    assert.deepEqual(popAll(h), [1, 2]);
  });

  test("a heap returns any list of numbers sorted", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 200 }), (xs) => {
        const h = new BinaryHeap<number>(numLess);
        for (const x of xs) h.push(x);
        assert.deepEqual(
          popAll(h),
          [...xs].sort((a, b) => a - b),
        );
      }),
      { numRuns: 200 },
    );
  });

  test("interleaved push, pop and filter always pop the current minimum", () => {
    type Op = { kind: "push"; value: number } | { kind: "pop" } | { kind: "filter"; mod: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("push" as const), value: fc.integer({ min: 0, max: 100 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("pop" as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("filter" as const), mod: fc.integer({ min: 2, max: 5 }) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const h = new BinaryHeap<number>(numLess);
        let model: number[] = [];
        for (const o of ops) {
          if (o.kind === "push") {
            h.push(o.value);
            model.push(o.value);
          } else if (o.kind === "pop") {
            model.sort((a, b) => a - b);
            assert.equal(h.pop(), model.shift());
          } else {
            h.filter((x) => x % o.mod !== 0);
            model = model.filter((x) => x % o.mod !== 0);
          }
          assert.equal(h.length, model.length);
          assert.equal(h.peek(), model.length === 0 ? undefined : Math.min(...model));
        }
      }),
      { numRuns: 200 },
    );
  });
});
