// Shared flags between a test and the jobs it runs in worker threads.

/** A small shared buffer of Int32 flags, all 0: [0] is the release flag, the others are the test's. */
export function flags(): { sab: SharedArrayBuffer; view: Int32Array } {
  const sab = new SharedArrayBuffer(16);
  return { sab, view: new Int32Array(sab) };
}

/** Sets the release flag ([0]) and wakes the jobs that wait on it. */
export function release(view: Int32Array): void {
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
}
