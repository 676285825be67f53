/**
 * The buffer of a `StreamReader`: the chunks it was fed, kept without copying, read from the front. Taking bytes
 * returns the chunk itself or a view of it when one chunk holds them, and copies only across chunks.
 * @module
 */

/** Bytes in arrival order. Invariant: the chunks from `first` on hold `size` bytes, none of them empty. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private first = 0;
  /** How many bytes are buffered. */
  size = 0;

  /** Appends a chunk (kept by reference; empty chunks are the caller's to skip). */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  private shiftChunk(): Buffer {
    const c = this.chunks[this.first]!;
    this.chunks[this.first++] = undefined as unknown as Buffer;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
    return c;
  }

  /** The whole buffer as one Buffer (joining the chunks once), without taking it. */
  contiguous(): Buffer {
    const count = this.chunks.length - this.first;
    if (count === 0) return Buffer.alloc(0);
    if (count === 1) return this.chunks[this.first]!;
    const joined = Buffer.concat(this.first === 0 ? this.chunks : this.chunks.slice(this.first), this.size);
    this.chunks = [joined];
    this.first = 0;
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
