/**
 * What the connection needs from whatever carries bytes to and from the sidecar: a child process's stdio
 * (Node, Tauri), an ssh session, a pair of Web streams. A transport knows nothing of JSON-RPC; it moves
 * text one way and byte chunks the other, and says once when the other side is gone.
 */
import type { StreamTextDecoder } from './encoding.js';

export interface TransportCloseInfo {
  /** The sidecar's exit code, when the transport ran it as a process and it exited. */
  code?: number | null;
  /** The signal that ended the sidecar's process, when one did. */
  signal?: string | number | null;
  /** Why the transport failed, if it did (e.g. the sidecar program could not be started). */
  error?: unknown;
  /** The last lines the sidecar wrote to its stderr, if the transport kept them: they usually say what went wrong. */
  stderrTail?: string;
  /** What the user can do about it, when the transport recognises the failure (e.g. the sidecar is not installed). */
  hint?: string;
}

export interface TransportEvents {
  /** A chunk of the sidecar's stdout, in order. Chunks may split lines, and bytes may split characters. */
  data(chunk: Uint8Array | string): void;
  /** The sidecar is gone (process exited, stream ended or failed). Called once; no data follows. */
  close(info: TransportCloseInfo): void;
}

/**
 * The optional raw channel (PROTOCOL.md, Raw channel): a second byte stream from the sidecar, beside its
 * stdout, on which the output of spawns travels as binary frames (wire encoding "raw"; the client decodes
 * text) instead of utf-8 or base64 in JSON. Only a transport that can hand the sidecar an extra descriptor
 * offers one (Node's child_process can); the others leave `Transport.rawChannel` undefined and output travels
 * in notifications.
 */
export interface RawChannel {
  /** The channel's descriptor number in the sidecar (3 or above), sent in initialize. */
  readonly fd: number;
  /**
   * Optional: makes a utf-8 decoder for text that comes on the channel, where the platform has one faster than
   * TextDecoder (Node's StringDecoder). It must decode as TextDecoder('utf-8', {ignoreBOM: true}) does: the
   * same U+FFFD for the same bytes, a character split across chunks kept whole, the BOM kept.
   */
  createUtf8Decoder?(): StreamTextDecoder;
  /**
   * Starts delivering the channel's bytes. The connection calls it once, right after start(); until then
   * the transport delivers nothing (and must not lose anything), and if nobody calls it the transport still
   * drains the channel, so that a sidecar writing to it never blocks.
   */
  open(events: RawChannelEvents): void;
}

export interface RawChannelEvents {
  /** A chunk of the channel, in order, split anywhere. The receiver owns it: the transport never reuses its memory. */
  data(chunk: Uint8Array): void;
  /** The channel ended: `error` undefined at end of file, else why it failed. Called once; no data follows. */
  close(error?: unknown): void;
}

/** Which queue a write belongs to (see Transport.write). */
export type WriteLane = 'requests' | 'acks';

export interface Transport {
  /** The raw channel, when this transport opened one to the sidecar (see RawChannel). */
  readonly rawChannel?: RawChannel;
  /**
   * Starts the transport (e.g. spawns the sidecar) and begins delivering events. Called once. Writes may be
   * issued right after start(), before the transport is fully up: the transport queues them.
   */
  start(events: TransportEvents): void;
  /**
   * Sends text (whole protocol lines, each ending in "\n") to the sidecar's stdin. Writes keep their order
   * within a lane. `lane` is 'acks' for flow control acknowledgements ($/outputConsumed): a transport whose
   * sends are slow and queued (Tauri's IPC) may send them ahead of queued requests, since a child held at its
   * window waits for them; a transport that writes at once can ignore the lane.
   */
  write(text: string, lane?: WriteLane): void | Promise<void>;
  /** Closes the sidecar's stdin: on end of file the sidecar stops its children and exits. */
  end(): void | Promise<void>;
  /** Stops the sidecar now (kills its process, tears down the stream). Used when end() did not make it exit in time. */
  destroy(): void;
  /**
   * Optional. The connection calls it with true when it has work in flight (a call waiting for its answer, a
   * spawned child that has not exited, a dispose() under way) and with false when it has none; the first call
   * comes right after start(). A transport whose handles keep its host running (Node's child_process and
   * pipes keep the event loop alive) holds them only while busy, so that an idle sidecar never keeps a
   * program from exiting, as an unref'd handle does not. Without it, the transport's handles decide alone.
   */
  setBusy?(busy: boolean): void;
  /**
   * Optional. The flow control window (bytes per child) this transport asks for in initialize, when its pipe
   * from the sidecar does not bound memory by itself (the Tauri transport: the shell plugin reads and
   * forwards without ever waiting for the page). Undefined: no flow control (the pipe's backpressure
   * suffices, as with Node's child_process). LaunchOptions.flowControl overrides it.
   */
  readonly flowControlWindowBytes?: number;
  /**
   * Optional. The most output bytes per notification this transport asks for in initialize, when its cost is
   * per message rather than per byte (the Tauri transport). Undefined: the sidecar's default (64 KiB).
   * LaunchOptions.notificationBytes overrides it.
   */
  readonly notificationBytes?: number;
}
