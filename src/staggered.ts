/**
 * Happy Eyeballs, as CPython's `staggered.py` and `base_events._interleave_addrinfos`: connection attempts to the
 * resolved addresses, one after the other or staggered by a delay, the first to connect winning.
 * @module
 */
import { nodeNet } from "./_internal/node.js";
import type * as net from "node:net";
import type { EventLoop, TimerHandle } from "./events.js";
import type { Future } from "./futures.js";
import { holdErrors, inLoop, runInLoop } from "./_internal/io/netutil.js";

/**
 * Connects to each target in turn; with `delay`, the next attempt also starts after `delay` seconds (a staggered
 * race, as asyncio's Happy Eyeballs). Resolves with the first connected socket (the others are destroyed) or null,
 * and the errors in attempt order.
 */
export function connectRace(loop: EventLoop, targets: net.NetConnectOpts[], delay: number | null): Future<[net.Socket | null, Error[]]> {
  const fut = loop.createFuture<[net.Socket | null, Error[]]>();
  const errors: Error[] = [];
  const running = new Map<net.Socket, () => void>();
  let next = 0;
  let timer: TimerHandle | null = null;

  const stopAll = (winner: net.Socket | null): void => {
    timer?.cancel();
    timer = null;
    for (const [sock, cleanup] of running) {
      cleanup();
      if (sock !== winner) {
        holdErrors(sock);
        sock.destroy();
      }
    }
    running.clear();
  };
  const finish = (winner: net.Socket | null): void => {
    stopAll(winner);
    if (winner !== null) holdErrors(winner);
    if (!fut.done()) fut.setResult([winner, errors.filter((e) => e !== undefined)]);
  };
  const startNext = (): void => {
    timer?.cancel();
    timer = null;
    if (fut.done()) return;
    if (next >= targets.length) {
      if (running.size === 0) finish(null);
      return;
    }
    const index = next++;
    let sock: net.Socket;
    try {
      sock = runInLoop(loop, () => nodeNet.connect({ allowHalfOpen: true, ...targets[index]! } as net.NetConnectOpts));
    } catch (err) {
      errors[index] = err as Error;
      startNext();
      return;
    }
    const onConnect = inLoop(loop, () => finish(sock));
    const onError = inLoop(loop, (err: Error) => {
      cleanup();
      running.delete(sock);
      holdErrors(sock);
      sock.destroy();
      errors[index] = err;
      if (index === next - 1) startNext();
      else if (running.size === 0 && next >= targets.length) finish(null);
    });
    const cleanup = (): void => {
      sock.removeListener("connect", onConnect);
      sock.removeListener("error", onError);
    };
    sock.once("connect", onConnect);
    sock.on("error", onError);
    running.set(sock, cleanup);
    if (delay !== null && next < targets.length) timer = loop.callLater(delay, startNext);
  };
  fut.addDoneCallback(() => {
    if (fut.cancelled()) stopAll(null);
  });
  startNext();
  return fut;
}

/** asyncio's `_interleave_addrinfos`: alternate families, the first one `first` times in a row. */
export function interleave<T extends { family: number }>(infos: T[], first: number): T[] {
  const byFamily = new Map<number, T[]>();
  for (const info of infos) {
    let list = byFamily.get(info.family);
    if (list === undefined) byFamily.set(info.family, (list = []));
    list.push(info);
  }
  const lists = Array.from(byFamily.values());
  const out: T[] = [];
  if (first > 1 && lists.length > 0) out.push(...lists[0]!.splice(0, first - 1));
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]!);
  return out;
}
