/**
 * `Symbol.dispose` and `Symbol.asyncDispose` on runtimes that lack them. Node 20.4+ defines both as
 * `Symbol.for("nodejs.dispose")` and `Symbol.for("nodejs.asyncDispose")`, and Node 24 has the standard symbols; TypeScript's
 * and esbuild's down-levelled `using` look the symbols up on `Symbol` at run time. An earlier Node 20 gets Node's own
 * values, so a class defined after this module keys its dispose methods by the symbols `using` will look for.
 * Imported for its effect by every module whose classes are disposable.
 * @module
 */
const symbols = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
if (symbols.dispose === undefined) {
  Object.defineProperty(Symbol, "dispose", { value: Symbol.for("nodejs.dispose") });
}
if (symbols.asyncDispose === undefined) {
  Object.defineProperty(Symbol, "asyncDispose", { value: Symbol.for("nodejs.asyncDispose") });
}

export {};
