/**
 * The life of one spawned child as seen by the host: its wire events (stdout, stderr, exit, or the loss of
 * the connection) are decoded and emitted on the Command's emitters, in the order they arrived.
 *
 * Why events are held back at first: the sidecar answers `spawn` before any output of the pid, but the answer
 * and the first output often arrive in the same chunk and are dispatched in one go, before the code after
 * `await command.spawn()` has had a chance to run. Emitting them at once would drop them for whoever attaches
 * listeners to the returned Child. So a run queues everything until both
 *   - spawn() has handed the Child over, and
 *   - someone listens (a listener on the Command or its stdout/stderr, or a call to wait()),
 * then delivers the queue on a fresh task, after every listener attached in the same turn is in place, and
 * from then on emits each event as it arrives. Listeners attached before spawn() (the Tauri pattern) count,
 * so the common case starts flowing right away. Nothing is dropped while held.
 */
import type { ExitParams } from '../generated/protocol.js';
import type { SidecarError } from './errors.js';
import type { OutputMode, StreamTextDecoder } from './encoding.js';
import { createOutputDecoder, type OutputDecoder } from './output.js';

/** How a child ended: its exit code, or the number of the signal that ended it (the other is null). */
export interface TerminatedPayload {
  code: number | null;
  signal: number | null;
}

/** What the connection calls for the wire events of one pid. */
export interface ProcessSink {
  /** A notification's data (in the spawn's encoding), or a frame's bytes from the raw channel. */
  /** With flow control, `consumed` is called once the data has been handed to the Command's listeners. */
  stdout(data: string | Uint8Array, consumed?: () => void): void;
  stderr(data: string | Uint8Array, consumed?: () => void): void;
  /**
   * The sidecar reported the exit, but 'close' must wait: the child's last frames on the raw channel are
   * still to be read. exit() follows once they are (or lost(), if the connection ends first).
   */
  exitArrived(params: ExitParams): void;
  /** The exit, to be delivered after everything received so far. */
  exit(params: ExitParams): void;
  /** The connection closed before this child's exit was reported. */
  lost(error: SidecarError): void;
  /** The Child handed out for this pid, once spawn() made it. */
  child?: unknown;
}

/** Where a run's events go: the Command that spawned it. */
export interface RunTargets {
  emitStdout(chunk: string | Uint8Array): void;
  emitStderr(chunk: string | Uint8Array): void;
  emitClose(payload: TerminatedPayload): void;
  emitError(error: SidecarError): void;
  /** Whether anyone listens to the Command, its stdout or its stderr. */
  hasListeners(): boolean;
}

type Outcome = { ok: true; payload: TerminatedPayload } | { ok: false; error: SidecarError };

export class ProcessRun implements ProcessSink {
  child: unknown;
  readonly #targets: RunTargets;
  readonly #stdout: OutputDecoder;
  readonly #stderr: OutputDecoder;
  /** Events not yet delivered; null once the run delivers as events arrive. */
  #queue: Array<() => void> | null = [];
  #released = false;
  #observed = false;
  #scheduled = false;
  #arrivedExit: TerminatedPayload | undefined;
  #outcome: Outcome | undefined;
  #waiters: Array<(outcome: Outcome) => void> = [];
  #finishedHooks: Array<() => void> = [];

  /** createUtf8Decoder: the raw channel's own utf-8 decoder (ProcessHost), for text that comes on it. */
  constructor(targets: RunTargets, mode: OutputMode, idleFlushMs: number | null, createUtf8Decoder?: () => StreamTextDecoder) {
    this.#targets = targets;
    this.#stdout = createOutputDecoder(mode, (chunk) => targets.emitStdout(chunk), idleFlushMs, createUtf8Decoder);
    this.#stderr = createOutputDecoder(mode, (chunk) => targets.emitStderr(chunk), idleFlushMs, createUtf8Decoder);
  }

  /** The exit status as soon as the sidecar reported it, even if the 'close' event is still held back. */
  get arrivedExit(): TerminatedPayload | undefined {
    return this.#arrivedExit;
  }

  /** The exit status once 'close' has been emitted. */
  get exitStatus(): TerminatedPayload | undefined {
    return this.#outcome?.ok ? this.#outcome.payload : undefined;
  }

  // --- wire side (called synchronously by the connection) ---

  stdout(data: string | Uint8Array, consumed?: () => void): void {
    this.#deliver(() => {
      this.#stdout.push(data);
      consumed?.();
    });
  }

  stderr(data: string | Uint8Array, consumed?: () => void): void {
    this.#deliver(() => {
      this.#stderr.push(data);
      consumed?.();
    });
  }

  exitArrived(params: ExitParams): void {
    // The pid is gone on the sidecar's side: kill() has nothing left to do, and an UnknownProcess answer
    // about it is no error (see Child).
    this.#arrivedExit = { code: params.code, signal: params.signal };
  }

  exit(params: ExitParams): void {
    const payload = { code: params.code, signal: params.signal };
    this.#arrivedExit = payload;
    this.#deliver(() => {
      this.#endStreams();
      this.#targets.emitClose(payload);
      this.#finish({ ok: true, payload });
    });
  }

  lost(error: SidecarError): void {
    this.#deliver(() => {
      // The output that did arrive is real; hand it over before saying the rest is lost.
      this.#endStreams();
      this.#targets.emitError(error);
      this.#targets.emitClose({ code: null, signal: null });
      this.#finish({ ok: false, error });
    });
  }

  // --- host side ---

  /** spawn() is about to hand the Child to its caller. */
  release(): void {
    this.#released = true;
    if (this.#targets.hasListeners()) this.#observed = true;
    this.#startIfReady();
  }

  /** Someone started listening. */
  observe(): void {
    this.#observed = true;
    this.#startIfReady();
  }

  /** Resolves once 'close' has been emitted; rejects if the connection was lost first. */
  wait(): Promise<TerminatedPayload> {
    this.observe();
    return new Promise((resolve, reject) => {
      const settle = (outcome: Outcome) => (outcome.ok ? resolve(outcome.payload) : reject(outcome.error));
      if (this.#outcome) settle(this.#outcome);
      else this.#waiters.push(settle);
    });
  }

  /** Runs `hook` when the run is over (exit delivered or connection lost), e.g. to drop an abort listener. */
  onFinished(hook: () => void): void {
    if (this.#outcome) hook();
    else this.#finishedHooks.push(hook);
  }

  #deliver(event: () => void): void {
    if (this.#queue) this.#queue.push(event);
    else event();
  }

  #startIfReady(): void {
    if (!this.#released || !this.#observed || this.#scheduled) return;
    this.#scheduled = true;
    // A task, not a microtask: the caller's code after `await spawn()` and its promise chain run first.
    setTimeout(() => {
      const queue = this.#queue ?? [];
      this.#queue = null;
      for (const event of queue) event();
    }, 0);
  }

  #endStreams(): void {
    this.#stdout.end();
    this.#stderr.end();
  }

  #finish(outcome: Outcome): void {
    this.#outcome = outcome;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const settle of waiters) settle(outcome);
    const hooks = this.#finishedHooks;
    this.#finishedHooks = [];
    for (const hook of hooks) hook();
  }
}
