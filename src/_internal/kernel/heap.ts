/**
 * A binary min-heap ordered by `less`. Invariant: for every i > 0, !less(items[i], items[(i - 1) >> 1]).
 * Ties are not broken here: callers that need FIFO among equals put a sequence number into `less`.
 */
export class BinaryHeap<T> {
  /** The heap array; index 0 is the smallest item. Read-only outside this class. */
  readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get length(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, a[parent]!)) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) this.siftDown(0, last);
    return top;
  }

  /** Keeps only the items for which `keep` is true, then restores the heap order. O(n). */
  filter(keep: (item: T) => boolean): void {
    const a = this.items;
    let j = 0;
    for (let i = 0; i < a.length; i++) if (keep(a[i]!)) a[j++] = a[i]!;
    a.length = j;
    for (let i = (j >> 1) - 1; i >= 0; i--) this.siftDown(i, a[i]!);
  }

  clear(): void {
    this.items.length = 0;
  }

  private siftDown(i: number, item: T): void {
    const a = this.items;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(a[r]!, a[l]!) ? r : l;
      if (!this.less(a[c]!, item)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = item;
  }
}
