/**
 * Signal names and numbers, checked the way asyncio checks them: a signal is a name (`"SIGTERM"`) or a number
 * (`15`); anything else is a `TypeError`, an unknown one a `RangeError`.
 */
import { osConstants as constants } from "../node.js";

/** A signal as callers give it: Node's name (`"SIGINT"`) or its number on this platform. */
export type SignalLike = NodeJS.Signals | number;

/** A signal resolved to both spellings. */
export interface ResolvedSignal {
  readonly name: NodeJS.Signals;
  readonly number: number;
}

const byName = constants.signals as Record<string, number>;
const byNumber = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(byName)) {
  // Aliases (SIGIOT for SIGABRT, SIGPOLL for SIGIO) share a number: the first name listed wins.
  if (!byNumber.has(num)) byNumber.set(num, name as NodeJS.Signals);
}

/** Resolves `sig` for `method`; `argName` names the argument in the error messages. */
export function resolveSignal(sig: unknown, method: string, argName = "sig"): ResolvedSignal {
  if (typeof sig === "string") {
    const num = Object.hasOwn(byName, sig) ? byName[sig] : undefined;
    if (num === undefined) throw new RangeError(`${method}: expected \`${argName}\` to be a signal name such as "SIGTERM", got "${sig}"`);
    return { name: sig as NodeJS.Signals, number: num };
  }
  if (typeof sig === "number") {
    if (!Number.isInteger(sig)) throw new TypeError(`${method}: expected \`${argName}\` to be an integer signal number, got ${sig}`);
    const name = byNumber.get(sig);
    if (name === undefined) throw new RangeError(`${method}: invalid signal number ${sig}`);
    return { name, number: sig };
  }
  throw new TypeError(`${method}: expected \`${argName}\` to be a signal name or number, got ${sig === null ? "null" : typeof sig}`);
}

/** The number of the signal called `name`, or undefined when this platform has none. */
export function signalNumber(name: string): number | undefined {
  return Object.hasOwn(byName, name) ? byName[name] : undefined;
}
