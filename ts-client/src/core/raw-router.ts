/**
 * Routes the raw channel's frames to the children that spawned with wire encoding "raw", and keeps the per-pid
 * guarantees the JSON path has, although frames and the rest of the protocol travel on two pipes that the
 * host reads in no particular order relative to each other:
 *
 * - A frame may be read before the `spawn` answer that names its pid: such frames wait here until the
 *   answer routes the pid (route()), then follow in order.
 * - The `exit` notification may be read before the child's last frames: the sidecar writes both end frames
 *   (length 0, one per stream) before `exit`, so the exit is held (holdExit()) until both are read. 'close'
 *   thus still comes after every byte.
 * - A pid may be reused: the sidecar sends an earlier child's end frames and exit before the spawn answer
 *   of a new child with the same pid. So frames that follow a child's end frames belong to the next child
 *   (they wait as early frames), and a spawn answer read while the earlier child still waits for its end
 *   frames takes effect once they have come.
 */
import type { RawStreamName } from '../generated/raw-channel.js';
import { RawFrameDecoder } from './raw-frames.js';

/** Where one raw child's bytes go (its ProcessRun). */
export interface RawSink {
  stdout(bytes: Uint8Array): void;
  stderr(bytes: Uint8Array): void;
}

interface Route {
  readonly sink: RawSink;
  stdoutEnded: boolean;
  stderrEnded: boolean;
  /** The held exit, delivered once both streams have ended. */
  finish: (() => void) | undefined;
}

type EarlyFrame = { stream: RawStreamName; payload: Uint8Array | null };

export class RawRouter {
  readonly #decoder = new RawFrameDecoder((pid, stream, payload) => this.#frame(pid, stream, payload));
  readonly #routes = new Map<number, Route>();
  /** Frames of pids whose spawn answer has not been read yet. */
  readonly #early = new Map<number, EarlyFrame[]>();
  /** The sink of a new child whose pid an earlier child, still waiting for its end frames, had. */
  readonly #next = new Map<number, RawSink>();

  /** A chunk read from the channel. Throws a ProtocolError if the channel is corrupt (see RawFrameDecoder). */
  push(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
  }

  /** The spawn answer for `pid` has been read: its frames go to `sink` from now on, those that came early first. */
  route(pid: number, sink: RawSink): void {
    if (this.#routes.has(pid)) {
      this.#next.set(pid, sink); // a reused pid: the earlier child's end frames are still to come
      return;
    }
    this.#routes.set(pid, { sink, stdoutEnded: false, stderrEnded: false, finish: undefined });
    const early = this.#early.get(pid);
    if (!early) return;
    this.#early.delete(pid);
    for (const frame of early) this.#frame(pid, frame.stream, frame.payload);
  }

  /**
   * The `exit` notification for `pid` has been read. Returns false when `finish` may run now (not a raw
   * child, or both of its streams have ended); true when it was kept, to run once the last end frame is read.
   */
  holdExit(pid: number, finish: () => void): boolean {
    const route = this.#routes.get(pid);
    if (!route) return false;
    if (route.stdoutEnded && route.stderrEnded) {
      this.#end(pid);
      return false;
    }
    route.finish = finish;
    return true;
  }

  /** The connection is over: whatever waits here will never complete (the children are failed elsewhere). */
  clear(): void {
    this.#routes.clear();
    this.#early.clear();
    this.#next.clear();
  }

  /** A child's route is done (both end frames and its exit read); a new child with its pid may take over. */
  #end(pid: number): void {
    this.#routes.delete(pid);
    const next = this.#next.get(pid);
    if (next) {
      this.#next.delete(pid);
      this.route(pid, next);
    }
  }

  #frame(pid: number, stream: RawStreamName, payload: Uint8Array | null): void {
    const route = this.#routes.get(pid);
    // No route yet, or one whose streams have both ended: the frame is a (next) child's, not yet announced.
    if (!route || (route.stdoutEnded && route.stderrEnded)) {
      const early = this.#early.get(pid);
      if (early) early.push({ stream, payload });
      else this.#early.set(pid, [{ stream, payload }]);
      return;
    }
    if (payload) {
      route.sink[stream](payload);
      return;
    }
    if (stream === 'stdout') route.stdoutEnded = true;
    else route.stderrEnded = true;
    if (route.stdoutEnded && route.stderrEnded && route.finish) {
      route.finish();
      this.#end(pid);
    }
  }
}
