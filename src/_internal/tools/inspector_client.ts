/**
 * Just enough of a WebSocket client (RFC 6455) over `node:http`'s upgrade to speak the Chrome DevTools Protocol with
 * a Node.js inspector: text frames, fragmentation, ping and close. Node 20 has no WebSocket client of its own, and
 * this package adds no runtime dependency. Used by `asyncio-ts ps`.
 */
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Socket } from "node:net";

/** An error answer of the inspector to one command. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** One open DevTools session. */
export interface InspectorSession {
  /** Sends a command; resolves with its `result`, rejects with `ProtocolError` or when the connection ends. */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Settles once the connection is gone. */
  readonly closed: Promise<void>;
  /** Ends the connection at once. */
  destroy(): void;
}

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** A frame from client to server: always masked, always final. */
function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([0x80 | opcode, 0x80 | length]);
  } else if (length < 0x10000) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

/** Opens a DevTools session on `url` (`ws://host:port/id`); rejects when the upgrade fails or takes `timeoutMs`. */
export function connectInspector(url: string, timeoutMs: number): Promise<InspectorSession> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: target.hostname,
      port: target.port,
      path: target.pathname + target.search,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        "Sec-WebSocket-Version": "13",
      },
      timeout: timeoutMs,
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.on("response", (res) => {
      res.resume();
      reject(new Error(`${url} refused the WebSocket upgrade (HTTP ${res.statusCode})`));
    });
    req.on("upgrade", (_res, socket: Socket, head: Buffer) => {
      req.setTimeout(0);
      resolve(openSession(socket, head));
    });
    req.end();
  });
}

function openSession(socket: Socket, head: Buffer): InspectorSession {
  socket.setNoDelay(true);
  const pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let buffer = head;
  let fragments: Buffer[] = [];
  let gone = false;
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((resolveClosed) => {
    markClosed = resolveClosed;
  });

  const finish = (): void => {
    if (gone) return;
    gone = true;
    for (const { reject } of pending.values()) reject(new Error("the inspector connection closed"));
    pending.clear();
    markClosed();
  };

  const onMessage = (text: string): void => {
    let message: { id?: number; result?: Record<string, unknown>; error?: { message?: string } };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return;
    }
    if (typeof message.id !== "number") return; // An event: nothing here subscribes to any.
    const waiter = pending.get(message.id);
    if (waiter === undefined) return;
    pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new ProtocolError(message.error.message ?? "inspector error"));
    else waiter.resolve(message.result ?? {});
  };

  const parse = (): void => {
    for (;;) {
      if (buffer.length < 2) return;
      const first = buffer[0]!;
      const second = buffer[1]!;
      let length = second & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      // Servers never mask; tolerate it anyway.
      const masked = (second & 0x80) !== 0;
      const maskOffset = offset;
      if (masked) offset += 4;
      if (buffer.length < offset + length) return;
      let payload = buffer.subarray(offset, offset + length);
      if (masked) {
        const mask = buffer.subarray(maskOffset, maskOffset + 4);
        payload = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
      }
      buffer = buffer.subarray(offset + length);
      const opcode = first & 0x0f;
      const fin = (first & 0x80) !== 0;
      if (opcode === OP_TEXT || opcode === OP_CONTINUATION) {
        fragments.push(payload);
        if (fin) {
          const text = Buffer.concat(fragments).toString("utf8");
          fragments = [];
          onMessage(text);
        }
      } else if (opcode === OP_PING) {
        if (!gone) socket.write(encodeFrame(OP_PONG, payload));
      } else if (opcode === OP_CLOSE) {
        socket.end();
        finish();
        return;
      }
    }
  };

  socket.on("data", (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    parse();
  });
  socket.on("close", finish);
  socket.on("error", finish);
  if (buffer.length > 0) parse();

  return {
    send(method, params = {}) {
      if (gone) return Promise.reject(new Error("the inspector connection closed"));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        socket.write(encodeFrame(OP_TEXT, Buffer.from(JSON.stringify({ id, method, params }), "utf8")));
      });
    },
    closed,
    destroy() {
      socket.destroy();
      finish();
    },
  };
}
