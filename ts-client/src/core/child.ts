/**
 * A running child, as returned by `command.spawn()`: its pid, its stdin, and ways to signal it and to wait
 * for its end. Events stay on the Command (as in Tauri); `child.stdout`, `child.stderr` and `child.on` reach
 * them from here too.
 */
import type { KillParams, StatsResult } from '../generated/protocol.js';
import { ErrorCode } from '../generated/errors.js';
import { encodeBase64, toBytes } from './base64.js';
import { SidecarError, isSidecarError, notConnectedError } from './errors.js';
import { Command, type CommandEvents, type IOPayload } from './command.js';
import { getDefaultSidecar } from './default-sidecar.js';
import type { Signal } from './options.js';
import type { ProcessHost } from './process-host.js';
import type { ProcessRun, TerminatedPayload } from './process-run.js';

export interface KillOptions {
  /** Default: SIGTERM. */
  signal?: Signal;
  /** true (default): the child's process group and every descendant; false: the child alone. */
  tree?: boolean;
  /** If the child is still alive this long (ms) after the signal, the tree gets SIGKILL. Default 2000 for SIGTERM, never for other signals; null: never. */
  forceAfterMs?: number | null;
}

/** Data for `write`: text (sent as UTF-8) or bytes. */
export type WriteData = string | Uint8Array | ArrayBuffer | ArrayBufferView | readonly number[];

// Large writes go out as several requests, so no protocol line gets near the sidecar's line limit and the
// sidecar can start feeding the child before the whole payload has been read. The sidecar keeps the order of
// writes to one pid.
const TEXT_CHUNK = 1 << 20; // UTF-16 units; at most 3 MiB of UTF-8
const BYTES_CHUNK = 3 << 18; // 768 KiB; 1 MiB of base64

/**
 * `O` is what its output events carry (a line of text, or bytes with encoding 'raw'), as spawn() infers it.
 * `Child` written without it, as code for @tauri-apps/plugin-shell (whose Child has no type argument) writes
 * it, is any child, text or raw.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class Child<O extends IOPayload = any> {
  readonly pid: number;
  /**
   * The Command this child was spawned from; its events are this child's events. For a `new Child(pid)` of a
   * pid this client is not running (any more), a Command that emits nothing.
   */
  readonly command: Command<O>;
  /** The sidecar; for `new Child(pid)` made before any sidecar was the default, the default at each call. */
  readonly #host: ProcessHost | undefined;
  /** The child's run, when this client spawned it and its end has not yet been delivered at wrap time. */
  readonly #run: ProcessRun | undefined;

  /**
   * A handle on a child of the default sidecar from its pid alone, as `new Child(pid)` of
   * @tauri-apps/plugin-shell: a pid handed around as a plain number can be wrapped again to `write`,
   * `closeStdin`, `kill`, `resize` or `stats`. If this client spawned that pid and it is still running, the
   * new handle is the same child as the one spawn() returned: `command`, its events, `wait()` and
   * `exitStatus` work too; otherwise `wait()` rejects with UnknownProcess.
   */
  constructor(pid: number);
  /** @internal Command.spawn() makes its children with this. */
  constructor(host: ProcessHost, pid: number, command: Command<O>, run: ProcessRun);
  constructor(hostOrPid: ProcessHost | number, pid?: number, command?: Command<O>, run?: ProcessRun) {
    if (typeof hostOrPid === 'number') {
      this.pid = hostOrPid;
      this.#host = getDefaultSidecar() ?? undefined;
      const original = this.#host?.findChild?.(hostOrPid) as Child<O> | undefined;
      this.#run = original ? original.#run : undefined;
      this.command = original?.command ?? new Command<O>(`pid ${hostOrPid}`);
    } else {
      this.#host = hostOrPid;
      this.pid = pid!;
      this.command = command!;
      this.#run = run!;
    }
  }

  /** The sidecar to talk to: the one it was made with, else the default one now. */
  get #sidecar(): ProcessHost {
    const host = this.#host ?? getDefaultSidecar();
    if (!host) throw notConnectedError(`No sidecar for child ${this.pid}: call Sidecar.launch() (or setDefaultSidecar()) first.`);
    return host;
  }

  /** The command's stdout emitter ('data' events). */
  get stdout(): Command<O>['stdout'] {
    return this.command.stdout;
  }

  /** The command's stderr emitter ('data' events). */
  get stderr(): Command<O>['stderr'] {
    return this.command.stderr;
  }

  /** Listens to the command's 'close' or 'error'. */
  on<N extends keyof CommandEvents>(eventName: N, listener: (arg: CommandEvents[N]) => void): this {
    this.command.on(eventName, listener);
    return this;
  }

  /** Listens once to the command's 'close' or 'error'. */
  once<N extends keyof CommandEvents>(eventName: N, listener: (arg: CommandEvents[N]) => void): this {
    this.command.once(eventName, listener);
    return this;
  }

  /** Stops listening. */
  off<N extends keyof CommandEvents>(eventName: N, listener: (arg: CommandEvents[N]) => void): this {
    this.command.off(eventName, listener);
    return this;
  }

  /**
   * Writes to the child's stdin: a string as UTF-8, bytes exactly. Resolves once every byte is in the
   * child's pipe, so awaiting each write gives flow control. Writes keep their order. With `pty`, this types
   * into the terminal: it is echoed and edited, and '\x03' is ^C (SIGINT to the foreground job).
   */
  async write(data: WriteData): Promise<void> {
    const requests: Array<Promise<null>> = [];
    if (typeof data === 'string') {
      for (const piece of splitText(data)) requests.push(this.#sidecar.request('write', { pid: this.pid, data: piece }));
    } else {
      const bytes = toBytes(data);
      let offset = 0;
      do {
        const piece = bytes.subarray(offset, offset + BYTES_CHUNK);
        requests.push(this.#sidecar.request('write', { pid: this.pid, data: encodeBase64(piece), encoding: 'base64' }));
        offset += BYTES_CHUNK;
      } while (offset < bytes.length);
    }
    await Promise.all(requests);
  }

  /**
   * Closes the child's stdin after pending writes; the child reads end of file. Harmless when already closed
   * or exited. With `pty`, sends end of file as a terminal does (^D; twice after a partly typed line, so
   * the typed part is read first) and the terminal stays open: each call sends another.
   */
  async closeStdin(): Promise<void> {
    try {
      await this.#sidecar.request('closeStdin', { pid: this.pid });
    } catch (error) {
      if (!this.#exitedBefore(error)) throw error;
    }
  }

  /**
   * Signals the child. No argument: SIGTERM to the whole tree, then SIGKILL after 2 s if it is still there.
   * A signal name or number, or `{signal, tree, forceAfterMs}`. Resolves once the signal is sent; 'close'
   * follows. Killing a child that has already exited does nothing.
   */
  async kill(signalOrOptions?: Signal | KillOptions): Promise<void> {
    if (this.#run?.arrivedExit) return;
    const options: KillOptions =
      typeof signalOrOptions === 'object' && signalOrOptions !== null ? signalOrOptions : { signal: signalOrOptions };
    const params: KillParams = { pid: this.pid };
    if (options.signal !== undefined) params.signal = normalizeSignal(options.signal);
    if (options.tree !== undefined) params.tree = options.tree;
    if (options.forceAfterMs !== undefined) params.forceAfterMs = options.forceAfterMs;
    try {
      await this.#sidecar.request('kill', params);
    } catch (error) {
      if (!this.#exitedBefore(error)) throw error;
    }
  }

  /**
   * Sets the size of the child's terminal (a child spawned with the `pty` option); the program gets SIGWINCH
   * and reads the new size. Rejects with NotATerminal for a child on pipes. Resizing a child that has exited
   * does nothing.
   */
  async resize(cols: number, rows: number): Promise<void> {
    try {
      await this.#sidecar.request('resize', { pid: this.pid, cols, rows });
    } catch (error) {
      if (!this.#exitedBefore(error)) throw error;
    }
  }

  /**
   * What the child's process tree (the child, its descendants and the rest of its process group) uses now:
   * CPU time in ms (`cpu.userMs`, `cpu.systemMs`), resident memory (`rssBytes`) and the number of
   * `descendants`. Rejects with UnknownProcess once the child has exited.
   */
  stats(): Promise<StatsResult> {
    return this.#sidecar.request('stats', { pid: this.pid });
  }

  /**
   * Resolves with `{code, signal}` once the child has exited and all its output has been emitted ('close');
   * rejects with a SidecarError if the connection to the sidecar is lost first.
   */
  wait(): Promise<TerminatedPayload> {
    if (!this.#run) {
      return Promise.reject(
        new SidecarError(
          ErrorCode.UnknownProcess,
          `Cannot wait for child ${this.pid}: it is not a running child that this client spawned on the default sidecar.`,
          { data: { pid: this.pid } },
        ),
      );
    }
    return this.#run.wait();
  }

  /** `{code, signal}` once 'close' has been emitted, else undefined. */
  get exitStatus(): TerminatedPayload | undefined {
    return this.#run?.exitStatus;
  }

  /** An UnknownProcess answer that only means the child exited before the request reached the sidecar. */
  #exitedBefore(error: unknown): boolean {
    // The sidecar writes `exit` before answering a later request about the pid, so by the time such an
    // answer is read, the exit has been seen.
    return isSidecarError(error) && error.code === ErrorCode.UnknownProcess && this.#run?.arrivedExit !== undefined;
  }
}

/** 'TERM' and 'term' mean SIGTERM; numbers pass through. */
function normalizeSignal(signal: Signal): Signal {
  if (typeof signal === 'number') return signal;
  const upper = signal.toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

/** Splits text into pieces of at most TEXT_CHUNK units without cutting a surrogate pair. */
function splitText(text: string): string[] {
  if (text.length <= TEXT_CHUNK) return [text];
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + TEXT_CHUNK, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}
