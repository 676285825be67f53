// The StreamReader's buffer (src/_internal/io/byte_queue.ts): whatever is pushed comes out in order, through any mix
// of pushes, takes and joins, and the queue keeps working after it empties.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteQueue } from "../src/_internal/io/byte_queue.js";

const op = fc.oneof(
  fc.record({ kind: fc.constant("push" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant("take" as const), share: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant("contiguous" as const) }),
);

test("bytes leave the queue in the order they were pushed, through pushes, takes and joins", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const queue = new ByteQueue();
      let model = Buffer.alloc(0);
      for (const o of ops) {
        if (o.kind === "push") {
          queue.push(Buffer.from(o.bytes));
          model = Buffer.concat([model, Buffer.from(o.bytes)]);
        } else if (o.kind === "take") {
          const n = Math.floor(o.share * model.length);
          assert.deepEqual(queue.take(n), model.subarray(0, n));
          model = model.subarray(n);
        } else {
          assert.deepEqual(queue.contiguous(), model);
        }
        assert.equal(queue.size, model.length);
      }
      assert.deepEqual(queue.takeAll(), model);
      assert.equal(queue.size, 0);
    }),
    { numRuns: 300 },
  );
});

test("a queue emptied thousands of times, one chunk at a time, keeps its order", () => {
  const queue = new ByteQueue();
  for (let i = 0; i < 5000; i++) {
    queue.push(Buffer.from([i & 0xff, (i >> 8) & 0xff]));
    if (i % 3 === 0) queue.push(Buffer.from([7]));
    assert.deepEqual([...queue.take(2)], [i & 0xff, (i >> 8) & 0xff]);
    if (i % 3 === 0) assert.deepEqual([...queue.takeAll()], [7]);
  }
  assert.equal(queue.size, 0);
});

test("a long queue read from the front a chunk at a time gives every chunk back in order", () => {
  const queue = new ByteQueue();
  for (let i = 0; i < 3000; i++) queue.push(Buffer.from([i & 0xff]));
  for (let i = 0; i < 2500; i++) assert.equal(queue.take(1)[0], i & 0xff);
  for (let i = 3000; i < 3100; i++) queue.push(Buffer.from([i & 0xff]));
  const rest = queue.takeAll();
  assert.equal(rest.length, 600);
  for (let i = 0; i < 600; i++) assert.equal(rest[i], (2500 + i) & 0xff);
});
