/**
 * Transports over streams the host already has: anything that carries the sidecar's stdin and stdout, such
 * as an ssh session running `python3 -m sidecar` on another machine, a socket, or a worker's ports. The
 * protocol needs nothing but the two byte streams. Browser-safe: no Node modules.
 *
 * - createStreamTransport: a Web ReadableStream (the sidecar's stdout) and WritableStream (its stdin).
 * - createEventStreamTransport: Node-style streams, duck-typed (on('data'), write(), end()), e.g. an ssh2
 *   channel or a net.Socket, without importing Node here.
 */
import type { Transport, TransportEvents } from '../core/transport.js';

export interface StreamTransportOptions {
  /** The sidecar's stdout. */
  readable: ReadableStream<Uint8Array | string>;
  /** The sidecar's stdin; receives UTF-8 bytes. */
  writable: WritableStream<Uint8Array>;
  /** Called by destroy() after the streams are torn down, e.g. to end the ssh session. */
  onDestroy?: () => void;
}

export function createStreamTransport(options: StreamTransportOptions): Transport {
  const encoder = new TextEncoder();
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array | string> | undefined;
  let closed = false;
  let events: TransportEvents | undefined;
  const close = (error?: unknown) => {
    if (closed) return;
    closed = true;
    events?.close(error === undefined ? {} : { error });
  };

  return {
    start(handlers) {
      events = handlers;
      writer = options.writable.getWriter();
      reader = options.readable.getReader();
      const r = reader;
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await r.read();
            if (done) break;
            if (value !== undefined) handlers.data(value);
          }
          close();
        } catch (error) {
          close(error);
        }
      })();
    },
    write(text) {
      // The writer queues writes in order; the returned promise reports a failed write.
      return writer?.write(encoder.encode(text));
    },
    async end() {
      await writer?.close();
    },
    destroy() {
      reader?.cancel().catch(() => {});
      writer?.abort().catch(() => {});
      options.onDestroy?.();
      close();
    },
  };
}

/** The part of a Node Readable (or any emitter of chunks) that the transport uses. */
export interface EventStreamLike {
  on(event: 'data', listener: (chunk: Uint8Array | string) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/** The part of a Node Writable that the transport uses. */
export interface EventWritableLike {
  write(chunk: string): unknown;
  end(): unknown;
  on?(event: 'error', listener: (error: unknown) => void): unknown;
}

export interface EventStreamTransportOptions {
  /** The sidecar's stdout. */
  readable: EventStreamLike;
  /** The sidecar's stdin. */
  writable: EventWritableLike;
  /** Called by destroy(), e.g. to close the connection both streams belong to. */
  destroy?: () => void;
}

export function createEventStreamTransport(options: EventStreamTransportOptions): Transport {
  let closed = false;
  let events: TransportEvents | undefined;
  const close = (error?: unknown) => {
    if (closed) return;
    closed = true;
    events?.close(error === undefined ? {} : { error });
  };
  return {
    start(handlers) {
      events = handlers;
      options.readable.on('data', (chunk) => {
        if (!closed) handlers.data(chunk);
      });
      options.readable.on('end', () => close());
      options.readable.on('close', () => close());
      options.readable.on('error', (error) => close(error));
      // A write to a stream whose other end is gone errors asynchronously; the readable's end reports the close.
      options.writable.on?.('error', () => {});
    },
    write(text) {
      options.writable.write(text);
    },
    end() {
      options.writable.end();
    },
    destroy() {
      options.destroy?.();
      close();
    },
  };
}
