/**
 * A small deterministic pseudo-random generator for the scenario generator: a Weyl sequence passed through a
 * 32-bit avalanche mix, so that one seed always gives the same stream, on every platform and Node version.
 * @module
 */

/** Deterministic random numbers from a 32-bit seed. */
export class Rng {
  private counter: number;

  constructor(seed: number) {
    this.counter = Math.imul(seed >>> 0, 0x2545f491) >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    this.counter = (this.counter + 0x9e3779b9) >>> 0;
    let z = this.counter;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x100000000) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Rng.pick: expected a non-empty array");
    return items[this.int(items.length)]!;
  }

  /** One value, chosen with the given weights (entries with weight 0 are never chosen). */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    if (total <= 0) throw new RangeError("Rng.weighted: expected a positive total weight");
    let x = (this.next() / 0x100000000) * total;
    for (const [value, w] of entries) {
      if (x < w) return value;
      x -= w;
    }
    return entries[entries.length - 1]![0];
  }

  /** `k` distinct elements of `items` in their original order (all of them when k >= length). */
  sample<T>(items: readonly T[], k: number): T[] {
    const chosen = new Set<number>();
    while (chosen.size < Math.min(k, items.length)) chosen.add(this.int(items.length));
    return items.filter((_, i) => chosen.has(i));
  }
}
