/**
 * Reads the raw channel: a byte stream of frames (PROTOCOL.md, Raw channel; layout in raw-channel.json), each
 * a 9-byte header (pid, stream, length) and `length` bytes of one child's output; length 0 ends that stream.
 *
 * Chunks arrive split anywhere: a header may straddle two chunks, one chunk may hold many frames, and a
 * payload may span several chunks. The decoder never copies payload bytes: each piece of a payload that lies
 * in one chunk is handed on as a view of that chunk, so a payload spanning chunks comes out as several pieces
 * of the same (pid, stream), in order. Output is a byte stream; where a frame ends means nothing to the
 * reader, and joining pieces would copy every byte once (nearly every frame spans the 64 KiB reads of a pipe).
 * Only a header cut by a chunk boundary is copied (into 9 bytes of its own).
 */
import {
  RAW_FRAME_HEADER_BYTES,
  RAW_FRAME_LENGTH_OFFSET,
  RAW_FRAME_MAX_PAYLOAD_BYTES,
  RAW_FRAME_PID_OFFSET,
  RAW_FRAME_STREAM_OFFSET,
  RawStream,
  type RawStreamName,
} from '../generated/raw-channel.js';
import { ClientErrorCode, SidecarError } from './errors.js';

/**
 * One piece of a frame's payload (a view of the chunk it came in, valid for as long as the caller keeps it),
 * or null: the end of that stream of that child.
 */
export type RawFrameHandler = (pid: number, stream: RawStreamName, payload: Uint8Array | null) => void;

const STREAM_NAMES: { readonly [id: number]: RawStreamName | undefined } = Object.fromEntries(
  Object.entries(RawStream).map(([name, id]) => [id, name as RawStreamName]),
);

export class RawFrameDecoder {
  readonly #onFrame: RawFrameHandler;
  /** A header cut by a chunk boundary, gathered here until complete. */
  readonly #header = new Uint8Array(RAW_FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** The frame whose payload is being read, and how many of its bytes are still to come. */
  #pid = 0;
  #stream: RawStreamName = 'stdout';
  #remaining = 0;
  #failed: SidecarError | undefined;

  constructor(onFrame: RawFrameHandler) {
    this.#onFrame = onFrame;
  }

  /** Whether the stream so far stopped inside a frame (a header or payload is incomplete). */
  get midFrame(): boolean {
    return this.#headerFill > 0 || this.#remaining > 0;
  }

  /**
   * Feeds the next chunk of the channel; calls the handler for every payload piece and end of stream it
   * completes, in order. Throws a ProtocolError on a frame no sidecar writes (unknown stream, oversized
   * payload); the channel cannot be resynchronised after that, so every later push throws the same error.
   */
  push(chunk: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    // A plain Uint8Array view (not a Node Buffer subclass): what a raw Command emits everywhere else.
    const bytes = chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const end = bytes.length;
    let i = 0;
    while (i < end) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, end - i);
        this.#remaining -= take;
        this.#onFrame(this.#pid, this.#stream, bytes.subarray(i, i + take));
        i += take;
        continue;
      }
      if (this.#headerFill === 0 && end - i >= RAW_FRAME_HEADER_BYTES) {
        // The usual case: the whole header is in this chunk.
        this.#startFrame(bytes, i);
        i += RAW_FRAME_HEADER_BYTES;
        continue;
      }
      const take = Math.min(RAW_FRAME_HEADER_BYTES - this.#headerFill, end - i);
      this.#header.set(bytes.subarray(i, i + take), this.#headerFill);
      this.#headerFill += take;
      i += take;
      if (this.#headerFill === RAW_FRAME_HEADER_BYTES) {
        this.#headerFill = 0;
        this.#startFrame(this.#header, 0);
      }
    }
  }

  #startFrame(bytes: Uint8Array, at: number): void {
    const pid = readUint32(bytes, at + RAW_FRAME_PID_OFFSET);
    const streamId = bytes[at + RAW_FRAME_STREAM_OFFSET]!;
    const length = readUint32(bytes, at + RAW_FRAME_LENGTH_OFFSET);
    const stream = STREAM_NAMES[streamId];
    if (stream === undefined || length > RAW_FRAME_MAX_PAYLOAD_BYTES) {
      this.#failed = new SidecarError(
        ClientErrorCode.ProtocolError,
        stream === undefined
          ? `The raw channel carried a frame for an unknown stream ${streamId} (pid ${pid}).`
          : `The raw channel carried a frame of ${length} bytes, more than the protocol's ${RAW_FRAME_MAX_PAYLOAD_BYTES} (pid ${pid}).`,
        { data: { pid, stream: streamId, length } },
      );
      throw this.#failed;
    }
    if (length === 0) {
      this.#onFrame(pid, stream, null);
      return;
    }
    this.#pid = pid;
    this.#stream = stream;
    this.#remaining = length;
  }
}

/** An unsigned big-endian 32-bit integer (the protocol's byte order for pid and length). */
function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}
