/**
 * Protocols: the callback side of asyncio's transport/protocol pair, as CPython's `asyncio/protocols.py`.
 *
 * A transport calls these methods from the loop; every one has a no-op default, so a subclass overrides only what
 * it needs. A plain object with the same method names works too: transports call only the methods that exist.
 *
 * Call order for a stream protocol: `connectionMade` once, then `dataReceived` (or `getBuffer`/`bufferUpdated`) any
 * number of times, then at most one `eofReceived`, then `connectionLost` once. `pauseWriting`/`resumeWriting` come in
 * pairs between `connectionMade` and `connectionLost`.
 * @module
 */
import { RuntimeError } from "./exceptions.js";
import type { BaseTransport, DatagramTransport, SubprocessTransport, Transport } from "./transports.js";

/** A UDP peer address as asyncio gives it: `[host, port]`. */
export type DatagramAddress = [host: string, port: number];

/** The interface every protocol shares: connection events and write flow control. */
export class BaseProtocol {
  /** Called once when the connection is made; `transport` is the other half of the pair. */
  connectionMade(_transport: BaseTransport): void {}

  /** Called once when the connection is lost or closed; `exc` is the error, or `null` for a regular close or EOF. */
  connectionLost(_exc: Error | null): void {}

  /** The transport's write buffer went over its high-water mark: stop writing until `resumeWriting()`. */
  pauseWriting(): void {}

  /** The transport's write buffer drained to its low-water mark: writing may continue. */
  resumeWriting(): void {}
}

/** A stream protocol receiving data as `dataReceived` chunks (TCP, Unix sockets, TLS). */
export class Protocol extends BaseProtocol {
  override connectionMade(_transport: Transport): void {}

  /** Called with each chunk of bytes received; chunk boundaries carry no meaning. */
  dataReceived(_data: Buffer): void {}

  /**
   * The peer sent EOF (half-closed its side). Return a truthy value to keep the connection open for writing;
   * a falsy value (the default) makes the transport close itself. TLS transports always close.
   */
  eofReceived(): boolean | void {
    return undefined;
  }
}

/**
 * A stream protocol that lends its own buffers to the transport, avoiding a copy per chunk: the transport calls
 * `getBuffer(sizehint)`, fills the start of the returned buffer, and reports how much with `bufferUpdated(nbytes)`.
 */
export class BufferedProtocol extends BaseProtocol {
  override connectionMade(_transport: Transport): void {}

  /** Returns a non-empty buffer to receive into; `sizehint` is how many bytes are waiting (or -1 when unknown). */
  getBuffer(_sizehint: number): Uint8Array {
    throw new RuntimeError(`${this.constructor.name}.getBuffer() is not implemented`);
  }

  /** The first `nbytes` bytes of the last buffer `getBuffer` returned were filled. */
  bufferUpdated(_nbytes: number): void {}

  /** As `Protocol.eofReceived`. */
  eofReceived(): boolean | void {
    return undefined;
  }
}

/** A datagram (UDP) protocol. */
export class DatagramProtocol extends BaseProtocol {
  override connectionMade(_transport: DatagramTransport): void {}

  /** Called with each datagram received and the address it came from. */
  datagramReceived(_data: Buffer, _addr: DatagramAddress): void {}

  /** A send or receive failed with a system error (e.g. `ECONNREFUSED` from an ICMP message); the endpoint stays open. */
  errorReceived(_exc: Error): void {}
}

/** The protocol of a child process started with `loop.subprocessExec` / `loop.subprocessShell`. */
export class SubprocessProtocol extends BaseProtocol {
  override connectionMade(_transport: SubprocessTransport): void {}

  /** The child wrote `data` to its stdout (`fd` 1) or stderr (`fd` 2). */
  pipeDataReceived(_fd: number, _data: Buffer): void {}

  /** One of the child's pipes closed; `exc` is the error, or `null`. */
  pipeConnectionLost(_fd: number, _exc: Error | null): void {}

  /** The child exited. */
  processExited(): void {}
}

/**
 * What a stream transport calls: any object with some of the methods of `Protocol` or `BufferedProtocol`.
 * A protocol with a `getBuffer` method is driven as a buffered protocol.
 */
export interface StreamProtocolLike {
  connectionMade?(transport: Transport): void;
  connectionLost?(exc: Error | null): void;
  pauseWriting?(): void;
  resumeWriting?(): void;
  dataReceived?(data: Buffer): void;
  eofReceived?(): boolean | void;
  getBuffer?(sizehint: number): Uint8Array;
  bufferUpdated?(nbytes: number): void;
}

/** What a datagram transport calls: any object with some of the methods of `DatagramProtocol`. */
export interface DatagramProtocolLike {
  connectionMade?(transport: DatagramTransport): void;
  connectionLost?(exc: Error | null): void;
  pauseWriting?(): void;
  resumeWriting?(): void;
  datagramReceived?(data: Buffer, addr: DatagramAddress): void;
  errorReceived?(exc: Error): void;
}
