/**
 * The loop's timer heap: a binary min-heap of TimerHandles ordered by `(when, seq)`, with the comparison written
 * inline (the generic BinaryHeap calls a comparator per step, which dominated timer-heavy workloads).
 * Each timer's `when` is also kept in `keys`, a typed array beside the items, so that sifting compares numbers held
 * together in memory instead of reading `_when` from timers scattered over the heap (a cache miss per step once
 * there are many thousands of timers); `_seq` is read only to break a tie.
 * Invariants: `keys[i] === items[i]._when` for every i; for every i > 0, items[(i - 1) >> 1] comes before items[i];
 * ties on `when` are broken by `_seq`, so timers due at the same time run in the order they were scheduled.
 */
import type { TimerHandle } from "../../events.js";

export class TimerHeap {
  /** The heap array; index 0 is the earliest timer. Read-only outside this class. */
  readonly items: TimerHandle[] = [];
  private keys = new Float64Array(64);

  get length(): number {
    return this.items.length;
  }

  peek(): TimerHandle | undefined {
    return this.items[0];
  }

  push(timer: TimerHandle): void {
    const a = this.items;
    let i = a.length;
    a.push(timer);
    if (i === this.keys.length) this.grow();
    const keys = this.keys;
    const when = timer._when;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parentWhen = keys[parentIndex]!;
      if (parentWhen < when || (parentWhen === when && a[parentIndex]!._seq < timer._seq)) break;
      a[i] = a[parentIndex]!;
      keys[i] = parentWhen;
      i = parentIndex;
    }
    a[i] = timer;
    keys[i] = when;
  }

  pop(): TimerHandle | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) this.siftDown(0, last, this.keys[a.length]!);
    return top;
  }

  /** Keeps the timers for which `keep` is true and restores the heap order. O(n). */
  filter(keep: (timer: TimerHandle) => boolean): void {
    const a = this.items;
    const keys = this.keys;
    let j = 0;
    for (let i = 0; i < a.length; i++) {
      if (keep(a[i]!)) {
        keys[j] = keys[i]!;
        a[j++] = a[i]!;
      }
    }
    a.length = j;
    for (let i = (j >> 1) - 1; i >= 0; i--) this.siftDown(i, a[i]!, keys[i]!);
  }

  clear(): void {
    this.items.length = 0;
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
  }

  /** Puts `timer` (whose `when` is `when`) at `i` or below, moving earlier children up. */
  private siftDown(i: number, timer: TimerHandle, when: number): void {
    const a = this.items;
    const keys = this.keys;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let childWhen = keys[l]!;
      if (r < n) {
        const rightWhen = keys[r]!;
        if (rightWhen < childWhen || (rightWhen === childWhen && a[r]!._seq < a[l]!._seq)) {
          c = r;
          childWhen = rightWhen;
        }
      }
      if (childWhen > when || (childWhen === when && a[c]!._seq > timer._seq)) break;
      a[i] = a[c]!;
      keys[i] = childWhen;
      i = c;
    }
    a[i] = timer;
    keys[i] = when;
  }
}
