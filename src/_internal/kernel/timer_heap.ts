/**
 * The loop's timer heap: a binary min-heap of TimerHandles ordered by `(when, seq)`, with the comparison written
 * inline (the generic BinaryHeap calls a comparator per step, which dominated timer-heavy workloads).
 * Invariant: for every i > 0, items[(i - 1) >> 1] comes before items[i]; ties on `_when` are broken by `_seq`,
 * so timers due at the same time run in the order they were scheduled.
 */
import type { TimerHandle } from "../../events.js";

function before(a: TimerHandle, b: TimerHandle): boolean {
  return a._when < b._when || (a._when === b._when && a._seq < b._seq);
}

export class TimerHeap {
  /** The heap array; index 0 is the earliest timer. Read-only outside this class. */
  readonly items: TimerHandle[] = [];

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
    const when = timer._when;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = a[parentIndex]!;
      if (parent._when < when || (parent._when === when && parent._seq < timer._seq)) break;
      a[i] = parent;
      i = parentIndex;
    }
    a[i] = timer;
  }

  pop(): TimerHandle | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) this.siftDown(0, last);
    return top;
  }

  /** Keeps the timers for which `keep` is true and restores the heap order. O(n). */
  filter(keep: (timer: TimerHandle) => boolean): void {
    const a = this.items;
    let j = 0;
    for (let i = 0; i < a.length; i++) if (keep(a[i]!)) a[j++] = a[i]!;
    a.length = j;
    for (let i = (j >> 1) - 1; i >= 0; i--) this.siftDown(i, a[i]!);
  }

  clear(): void {
    this.items.length = 0;
  }

  private siftDown(i: number, timer: TimerHandle): void {
    const a = this.items;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(a[r]!, a[l]!) ? r : l;
      if (!before(a[c]!, timer)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = timer;
  }
}
