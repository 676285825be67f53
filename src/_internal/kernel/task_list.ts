/**
 * The pending tasks of a loop, oldest first: a doubly linked list threaded through the tasks' own fields, so that
 * adding a task and removing it (every task's creation and end) neither hashes nor allocates.
 *
 * Invariants: a node is in at most one list, added once; it is in this one exactly when it is `head` or has a
 * `_prevPending`; `size` counts the nodes; `head` and `tail` are null exactly when the list is empty.
 */
export interface PendingNode {
  /** @internal */ _prevPending: PendingNode | null;
  /** @internal */ _nextPending: PendingNode | null;
}

export class PendingList<T extends PendingNode> implements Iterable<T> {
  private head: T | null = null;
  private tail: T | null = null;
  /** How many nodes the list holds. */
  size = 0;

  /** Appends `node`, which is in no list. */
  add(node: T): void {
    node._prevPending = this.tail;
    node._nextPending = null;
    if (this.tail === null) this.head = node;
    else this.tail._nextPending = node;
    this.tail = node;
    this.size++;
  }

  has(node: T): boolean {
    return node._prevPending !== null || this.head === node;
  }

  /** Removes `node`; false when it was not in this list. */
  delete(node: T): boolean {
    if (!this.has(node)) return false;
    const prev = node._prevPending as T | null;
    const next = node._nextPending as T | null;
    if (prev === null) this.head = next;
    else prev._nextPending = next;
    if (next === null) this.tail = prev;
    else next._prevPending = prev;
    node._prevPending = node._nextPending = null;
    this.size--;
    return true;
  }

  /** The nodes, oldest first; removing the node just given ends the iteration (take `Array.from` to change the list). */
  *[Symbol.iterator](): Iterator<T> {
    for (let node = this.head; node !== null; node = node._nextPending as T | null) yield node;
  }
}
