/**
 * A growable ring buffer: O(1) push/shift at both ends, no `Array.shift`.
 * Invariant: `length` items live at `buf[(head + i) & mask]` for i in [0, length); capacity is a power of two.
 */
export class Deque<T> {
  private buf: (T | undefined)[];
  private mask: number;
  private head = 0;
  /** Number of items held. */
  length = 0;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.buf = new Array(cap);
    this.mask = cap - 1;
  }

  push(item: T): void {
    if (this.length === this.buf.length) this.grow();
    this.buf[(this.head + this.length) & this.mask] = item;
    this.length++;
  }

  unshift(item: T): void {
    if (this.length === this.buf.length) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.buf[this.head] = item;
    this.length++;
  }

  /** Removes and returns the first item; `undefined` when empty. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.length--;
    return item;
  }

  /** Removes and returns the last item; `undefined` when empty. */
  pop(): T | undefined {
    if (this.length === 0) return undefined;
    this.length--;
    const i = (this.head + this.length) & this.mask;
    const item = this.buf[i];
    this.buf[i] = undefined;
    return item;
  }

  peekFirst(): T | undefined {
    return this.length === 0 ? undefined : this.buf[this.head];
  }

  peekLast(): T | undefined {
    return this.length === 0 ? undefined : this.buf[(this.head + this.length - 1) & this.mask];
  }

  at(i: number): T | undefined {
    return i < 0 || i >= this.length ? undefined : this.buf[(this.head + i) & this.mask];
  }

  /** Removes the first item `=== item`; true when found. O(n). */
  remove(item: T): boolean {
    for (let i = 0; i < this.length; i++) {
      if (this.buf[(this.head + i) & this.mask] === item) {
        for (let j = i; j < this.length - 1; j++) {
          this.buf[(this.head + j) & this.mask] = this.buf[(this.head + j + 1) & this.mask];
        }
        this.buf[(this.head + this.length - 1) & this.mask] = undefined;
        this.length--;
        return true;
      }
    }
    return false;
  }

  clear(): void {
    this.buf = new Array(16);
    this.mask = 15;
    this.head = 0;
    this.length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.length; i++) yield this.buf[(this.head + i) & this.mask] as T;
  }

  private grow(): void {
    const old = this.buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.length; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.mask = next.length - 1;
    this.head = 0;
  }
}
