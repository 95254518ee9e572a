/**
 * What a Command and a Child need from the connection that runs them. Sidecar implements it; the interface
 * keeps command.ts and child.ts free of the connection's internals (and of an import cycle with sidecar.ts).
 */
import type { RequestMethod, RequestTypes } from '../generated/methods.js';
import type { SpawnParams } from '../generated/protocol.js';
import type { StreamTextDecoder } from './encoding.js';
import type { ProcessSink } from './process-run.js';

export interface CallOptions {
  /** Aborting sends `$/cancelRequest` for the call (execute then fails with Cancelled). */
  signal?: AbortSignal;
}

export interface ProcessHost {
  /** Whether spawns use the raw channel for their output (open, and accepted by the sidecar). */
  readonly rawChannel: boolean;
  /** The raw channel's own utf-8 decoder, if it offers one (RawChannel.createUtf8Decoder), for text it carries. */
  readonly createUtf8Decoder?: () => StreamTextDecoder;
  request<M extends RequestMethod>(
    method: M,
    params: RequestTypes[M]['params'],
    options?: CallOptions,
  ): Promise<RequestTypes[M]['result']>;
  /**
   * Sends `spawn` and routes the new pid's notifications (and, with wire encoding "raw", its frames) to `sink`
   * from the moment the answer is read, so that none is lost; resolves with the pid.
   */
  spawnProcess(params: SpawnParams, sink: ProcessSink): Promise<number>;
  /**
   * The path of the binary `name` (its last path component) in the sidecar's own directory, for
   * Command.sidecar(); throws a SidecarError when the sidecar did not say where it is.
   */
  programBesideSidecar(name: string): string;
  /** The Child that spawn() returned for `pid`, while that child's exit has not been reported (for `new Child(pid)`). */
  findChild?(pid: number): unknown;
}
