/**
 * The buffer of a `StreamReader`: the chunks it was fed, kept without copying, read from the front. Taking bytes
 * returns the chunk itself or a view of it when one chunk holds them, and copies only across chunks.
 * @module
 */
import { Buffer } from "../node.js";

/**
 * Bytes in arrival order. Invariants: `chunks[first..end)` hold `size` bytes, none of them empty; the slots outside
 * that range hold nothing. The array is kept when the queue empties (a stream that is read as fast as it is fed
 * pushes into the same slot each time instead of a new array per chunk).
 */
export class ByteQueue {
  private chunks: (Buffer | undefined)[] = [];
  private first = 0;
  private end = 0;
  /** How many bytes are buffered. */
  size = 0;

  /** Appends a chunk (kept by reference; empty chunks are the caller's to skip). */
  push(chunk: Buffer): void {
    this.chunks[this.end++] = chunk;
    this.size += chunk.length;
  }

  private shiftChunk(): Buffer {
    const c = this.chunks[this.first]!;
    this.chunks[this.first++] = undefined;
    if (this.first === this.end) {
      this.first = this.end = 0;
    } else if (this.first >= 1024 && this.first * 2 >= this.end) {
      this.chunks = this.chunks.slice(this.first, this.end);
      this.end -= this.first;
      this.first = 0;
    }
    return c;
  }

  /** The whole buffer as one Buffer (joining the chunks once), without taking it. */
  contiguous(): Buffer {
    const count = this.end - this.first;
    if (count === 0) return Buffer.alloc(0);
    if (count === 1) return this.chunks[this.first]!;
    const joined = Buffer.concat(this.chunks.slice(this.first, this.end) as Buffer[], this.size);
    this.chunks = [joined];
    this.first = 0;
    this.end = 1;
    return joined;
  }

  /** Removes and returns the first `n` bytes (`n <= size`). */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.size -= n;
    const first = this.chunks[this.first]!;
    if (first.length === n) return this.shiftChunk();
    if (first.length > n) {
      this.chunks[this.first] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const c = this.chunks[this.first]!;
      const k = Math.min(c.length, n - offset);
      c.copy(out, offset, 0, k);
      offset += k;
      if (k === c.length) this.shiftChunk();
      else this.chunks[this.first] = c.subarray(k);
    }
    return out;
  }

  /** Removes and returns everything. */
  takeAll(): Buffer {
    return this.take(this.size);
  }
}
