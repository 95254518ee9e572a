/**
 * Sidecar: one connection to one sidecar process. It owns the transport and the JSON-RPC connection, routes
 * each pid's notifications (and raw channel frames) to the child that spawned it, and shuts everything down
 * on dispose().
 */
import { PROTOCOL_VERSION, type HostNotificationMethod, type HostNotificationTypes, type RequestMethod, type RequestTypes } from '../generated/methods.js';
import type { ExitParams, InitializeParams, InitializeResult, ListedChild, OutputParams, SpawnParams } from '../generated/protocol.js';
import { Command } from './command.js';
import { getDefaultSidecar, setDefaultSidecar } from './default-sidecar.js';
import { EventEmitter } from './emitter.js';
import { ClientErrorCode, SidecarError, invalidOptionError, notConnectedError } from './errors.js';
import type { StreamTextDecoder } from './encoding.js';
import type { CommandOptions } from './options.js';
import type { CallOptions, ProcessHost } from './process-host.js';
import type { ProcessSink } from './process-run.js';
import { RawRouter } from './raw-router.js';
import { RpcConnection } from './rpc.js';
import type { Transport, TransportCloseInfo } from './transport.js';

export interface ConnectOptions {
  /**
   * dispose(): how long (ms) to wait for the sidecar to stop its children and exit before it is killed.
   * Default 5000 (the sidecar gives children 2 s between SIGTERM and SIGKILL).
   */
  shutdownTimeoutMs?: number;
  /**
   * Ask for the raw channel in initialize when the transport offers one (the Node transport does): the output
   * of spawned Commands then travels as binary frames (text decoded here) instead of JSON notifications.
   * Default true. Without a channel, or when the sidecar declines, output travels in notifications (utf-8
   * text, or base64), with the same events.
   */
  rawChannel?: boolean;
  /**
   * End-to-end flow control (protocol: initialize flowControl): at most `windowBytes` of each spawned child's
   * output is on its way to this client before its listeners have taken it; past that the sidecar stops
   * reading the child, which waits. Default: what the transport asks for (the Tauri transport asks for it,
   * the Node transport relies on its pipe). false: off.
   */
  flowControl?: { windowBytes: number } | false;
  /**
   * The most bytes of a child's output one stdout/stderr notification carries (protocol: initialize
   * notificationBytes, 4 KiB to 1 MiB; the sidecar's default is 64 KiB). Default: what the transport asks for
   * (the Tauri transport asks for 128 KiB: its IPC pays per message; the Node transport takes the default).
   */
  notificationBytes?: number;
}

export interface LaunchOptions extends ConnectOptions {
  /** How to reach the sidecar. The 'process-sidecar/node' and 'process-sidecar/tauri' entries supply one. */
  transport?: Transport;
  /** Make this sidecar the one Command.create() uses. Default true. */
  setDefault?: boolean;
  /** Sent with initialize. */
  clientInfo?: InitializeParams['clientInfo'];
  /** How long (ms) the sidecar may take to answer initialize. Default 30000. */
  startTimeoutMs?: number;
}

export interface SidecarCloseEvent {
  /** The sidecar's exit code, when known. */
  code: number | null;
  /** The signal that ended the sidecar, when one did. */
  signal: string | number | null;
  /** What pending calls and running children were failed with. */
  error: SidecarError;
}

export interface SidecarEvents {
  /** The connection is over: the sidecar exited (or its stream ended), after dispose() or unexpectedly. */
  close: SidecarCloseEvent;
  /** A message from the sidecar that could not be matched to anything (the connection goes on). */
  error: SidecarError;
}

export type SidecarState = 'open' | 'disposing' | 'closed';

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;
const DEFAULT_START_TIMEOUT_MS = 30000;
/** Flow control: the longest an acknowledgement waits for others to go with it (see Sidecar.#consume). */
const ACK_DELAY_MS = 20;
/** After shutdown (or its time limit), how long end-of-file and then a kill each get to end the process. */
const EXIT_GRACE_MS = 2000;

export class Sidecar extends EventEmitter<SidecarEvents> implements ProcessHost {
  /**
   * Starts a sidecar through `options.transport`, waits for its answer to initialize, and (unless
   * `setDefault: false`) makes it the default for Command.create(). Import Sidecar from
   * 'process-sidecar/node' or 'process-sidecar/tauri' to get a transport chosen for you.
   */
  static async launch(options: LaunchOptions = {}): Promise<Sidecar> {
    const { transport } = options;
    if (!transport) {
      throw notConnectedError(
        "Sidecar.launch() needs a transport: import Sidecar from 'process-sidecar/node' or 'process-sidecar/tauri', or pass options.transport.",
      );
    }
    const sidecar = new this(transport, options);
    try {
      await withTimeout(
        sidecar.initialize(options.clientInfo ? { clientInfo: options.clientInfo } : {}),
        options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
        () => notConnectedError(`The sidecar did not answer initialize within ${options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS} ms.`),
      );
    } catch (error) {
      await sidecar.dispose();
      throw error;
    }
    if (options.setDefault !== false) setDefaultSidecar(sidecar);
    return sidecar;
  }

  readonly #transport: Transport;
  readonly #rpc: RpcConnection;
  readonly #processes = new Map<number, ProcessSink>();
  readonly #shutdownTimeoutMs: number;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;
  #disposing: Promise<void> | undefined;
  #closeError: SidecarError | undefined;
  #info: InitializeResult | undefined;
  /** Reads the transport's raw channel, when it has one. */
  readonly #raw: RawRouter | undefined;
  readonly #rawWanted: boolean;
  /** Whether the sidecar accepted the channel and it has not ended: raw spawns then use it. */
  #rawOpen = false;
  #rawEnded = false;
  /** What the transport was last told by setBusy (undefined: not yet). */
  #busy: boolean | undefined;
  /** The flow control window to ask for in initialize (undefined: none). */
  readonly #windowWanted: number | undefined;
  readonly #notificationBytesWanted: number | undefined;
  /** The window the sidecar agreed to (bytes per child); 0 when it took none. With one, output notifications
   * are acknowledged as listeners take them. */
  #windowBytes = 0;
  /** Notifications handed to listeners and not yet acknowledged, per pid. */
  readonly #consumed = new Map<number, number>();
  /** The size (data length) of those notifications, all pids together. */
  #consumedSize = 0;
  #acksScheduled = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Connects over `transport` and starts it, without the initialize handshake (launch() does both).
   */
  constructor(transport: Transport, options: ConnectOptions = {}) {
    super();
    this.#transport = transport;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.#rawWanted = options.rawChannel !== false;
    this.#windowWanted = options.flowControl === false ? undefined : options.flowControl?.windowBytes ?? transport.flowControlWindowBytes;
    this.#notificationBytesWanted = options.notificationBytes ?? transport.notificationBytes;
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.#rpc = new RpcConnection(transport, {
      notification: (method, params) => this.#onNotification(method, params),
      protocolError: (error) => this.emit('error', error),
      closed: (error, info) => this.#onClosed(error, info),
      pendingChanged: () => this.#updateBusy(),
    });
    const channel = transport.rawChannel;
    if (channel) {
      // Opened (read) even if it is never asked for, so that the transport can deliver and end it.
      this.#raw = new RawRouter();
      channel.open({ data: (chunk) => this.#onRawData(chunk), close: (error) => this.#onRawClosed(error) });
    }
    this.#updateBusy();
  }

  /** Whether spawned Commands' output travels on the raw channel (else in notifications: utf-8 text or base64). */
  get rawChannel(): boolean {
    return this.#rawOpen && this.state === 'open';
  }

  /** The raw channel's utf-8 decoder for text it carries, if it offers one (ProcessHost). */
  get createUtf8Decoder(): (() => StreamTextDecoder) | undefined {
    const channel = this.#transport.rawChannel;
    return channel?.createUtf8Decoder ? () => channel.createUtf8Decoder!() : undefined;
  }

  /** What the sidecar said about itself in initialize (undefined before it answered). */
  get info(): InitializeResult | undefined {
    return this.#info;
  }

  get state(): SidecarState {
    if (!this.#rpc.isOpen) return 'closed';
    return this.#disposing ? 'disposing' : 'open';
  }

  /** Resolves when the connection is over (after dispose(), or when the sidecar exits on its own). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** The handshake: learns the sidecar's version and limits. launch() calls it. */
  async initialize(params: InitializeParams = {}): Promise<InitializeResult> {
    const channel = this.#transport.rawChannel;
    if (params.rawChannel === undefined && channel && this.#rawWanted && !this.#rawEnded) {
      params = { ...params, rawChannel: { fd: channel.fd } };
    }
    if (params.flowControl === undefined && this.#windowWanted !== undefined) {
      params = { ...params, flowControl: { windowBytes: this.#windowWanted } };
    }
    if (params.notificationBytes === undefined && this.#notificationBytesWanted !== undefined) {
      params = { ...params, notificationBytes: this.#notificationBytesWanted };
    }
    const result = await this.request('initialize', params);
    if (result.protocolVersion !== PROTOCOL_VERSION) {
      throw new SidecarError(
        ClientErrorCode.ProtocolError,
        `The sidecar speaks protocol version ${String(result.protocolVersion)}; this client speaks ${PROTOCOL_VERSION}.`,
        { data: result },
      );
    }
    this.#info = result;
    this.#rpc.maxLineBytes = result.capabilities.maxLineBytes;
    // Frames can only be read from the descriptor this side reads; the sidecar says whether it took it (an
    // older sidecar leaves rawChannel out: no). Once open, it stays open for the session.
    if (channel && params.rawChannel?.fd === channel.fd && result.capabilities.rawChannel === true && !this.#rawEnded) {
      this.#rawOpen = true;
    }
    // The first initialize decides, on both sides; an older sidecar leaves flowControl out: none.
    this.#windowBytes = result.capabilities.flowControl?.windowBytes ?? 0;
    return result;
  }

  /** A Command that runs on this sidecar (Command.create() runs on the default one). */
  command(program: string, args: string | readonly string[] | undefined, options: CommandOptions & { encoding: 'raw' }): Command<Uint8Array>;
  command(program: string, args?: string | readonly string[], options?: CommandOptions): Command<string>;
  command(program: string, args?: string | readonly string[], options?: CommandOptions): Command<any> {
    return new Command(program, args, options, this);
  }

  /**
   * The path of the binary `name` in the directory of the sidecar's executable (Command.sidecar() uses it):
   * the last part of `name` only, as Tauri's shell plugin does, so 'binaries/ffmpeg' is `<dir>/ffmpeg`. Throws
   * InvalidParams when the sidecar has not answered initialize or did not say where it is (an older sidecar).
   */
  programBesideSidecar(name: string): string {
    const dir = this.#info?.serverInfo.executableDir;
    const base = name.split(/[\\/]/).pop() ?? '';
    if (!base || base === '.' || base === '..') {
      throw invalidOptionError('program', 'the name of a binary beside the sidecar', name, `Command.sidecar(${JSON.stringify(name)}) names no binary.`);
    }
    if (dir === undefined) {
      throw invalidOptionError(
        'program',
        'a sidecar that reports serverInfo.executableDir',
        name,
        `Command.sidecar(${JSON.stringify(name)}) needs to know where the sidecar is installed, and this sidecar did not say ` +
          `(${this.#info ? 'it is older than this client' : 'it has not answered initialize'}): use Command.create() with the binary's path.`,
      );
    }
    const separator = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
    return dir.endsWith(separator) ? `${dir}${base}` : `${dir}${separator}${base}`;
  }

  /**
   * The children spawned on this sidecar that have not yet exited (from any Command), oldest first: pid,
   * program, args, cwd, `startedAt` (ms since the epoch: `new Date(startedAt)`) and `pty` (the terminal's
   * size, or null for a child on pipes). Children of execute() are not listed.
   */
  async list(): Promise<ListedChild[]> {
    return (await this.request('list', {})).children;
  }

  /** Sends a request of the protocol and resolves with its result; rejects with a SidecarError. */
  request<M extends RequestMethod>(
    method: M,
    params: RequestTypes[M]['params'],
    options: CallOptions & { onResult?: (result: RequestTypes[M]['result']) => void } = {},
  ): Promise<RequestTypes[M]['result']> {
    if (this.#disposing) return Promise.reject(notConnectedError(`Cannot send ${method}: the sidecar has been disposed.`));
    return this.#rpc.request<RequestTypes[M]['result']>(method, params, options);
  }

  /** Sends a notification of the protocol (`$/cancelRequest`). */
  notify<M extends HostNotificationMethod>(method: M, params: HostNotificationTypes[M]): void {
    if (!this.#disposing) this.#rpc.notify(method, params);
  }

  /** @internal Used by Command.spawn(). */
  async spawnProcess(params: SpawnParams, sink: ProcessSink): Promise<number> {
    const raw = params.encoding === 'raw';
    const { pid } = await this.request('spawn', params, {
      // Route the pid before the next message is read: its output may be in the same chunk as this answer.
      onResult: (result) => {
        this.#processes.set(result.pid, sink);
        // Its frames may have been read already; the router hands them over now, in order.
        if (raw) this.#raw?.route(result.pid, sink);
        // (the busy state follows: rpc calls pendingChanged right after this)
      },
    });
    return pid;
  }

  /** @internal For `new Child(pid)`: the Child that spawn() returned for a pid whose exit is not yet reported. */
  findChild(pid: number): unknown {
    return this.#processes.get(pid)?.child;
  }

  /**
   * Ends the connection: fails pending calls with one Disposed error, asks the sidecar to stop every child
   * (their 'close' events still arrive) and to exit, and kills it if it has not exited in time. Resolves when
   * the sidecar is gone. Calling it again returns the same promise.
   */
  dispose(): Promise<void> {
    if (!this.#disposing) {
      this.#disposing = this.#dispose();
      this.#updateBusy();
    }
    return this.#disposing;
  }

  async #dispose(): Promise<void> {
    if (getDefaultSidecar() === this) setDefaultSidecar(null);
    this.#rpc.rejectPending(new SidecarError(ClientErrorCode.Disposed, 'The sidecar was disposed while this call was pending.'));
    if (!this.#rpc.isOpen) return;
    // shutdown stops every child tree and reports each exit before it answers; the sidecar then exits.
    const shutdown = this.#rpc.request('shutdown', {}).catch(() => undefined);
    await withTimeout(Promise.race([shutdown, this.#closed]), this.#shutdownTimeoutMs, () => undefined).catch(() => undefined);
    if (await this.#closesWithin(0)) return;
    // End of file also makes the sidecar stop; it is the only way left if shutdown went unanswered.
    try {
      await this.#transport.end();
    } catch {
      // The stream may already be gone; the close event says so.
    }
    if (await this.#closesWithin(EXIT_GRACE_MS)) return;
    this.#transport.destroy();
    if (await this.#closesWithin(EXIT_GRACE_MS)) return;
    // The transport never reported the end; stop waiting for it.
    this.#onClosed(new SidecarError(ClientErrorCode.ConnectionClosed, 'The sidecar did not exit after it was killed.'), {});
  }

  async #closesWithin(ms: number): Promise<boolean> {
    if (!this.#rpc.isOpen) return true;
    if (ms === 0) return false;
    return (await withTimeout(this.#closed.then(() => true), ms, () => undefined)) ?? false;
  }

  #onNotification(method: string, params: unknown): void {
    switch (method) {
      case 'stdout':
      case 'stderr': {
        const { pid, data } = params as OutputParams;
        const sink = this.#processes.get(pid);
        // With flow control every notification is acknowledged once taken, also one nobody routes (the
        // sidecar would hold that child back for ever otherwise).
        const consumed = this.#windowBytes > 0 ? () => this.#consume(pid, data.length) : undefined;
        if (sink) sink[method](data, consumed);
        else consumed?.();
        break;
      }
      case 'exit': {
        const exit = params as ExitParams;
        const sink = this.#processes.get(exit.pid);
        if (!sink) break;
        // Exit is the last message for a pid.
        const finish = () => {
          if (this.#processes.get(exit.pid) === sink) this.#processes.delete(exit.pid);
          sink.exit(exit);
          this.#updateBusy();
        };
        // A raw child's last frames may still be in the channel: its exit waits for both end frames. Until
        // then the sink stays routed, so that a lost connection still reaches it.
        if (this.#raw?.holdExit(exit.pid, finish)) sink.exitArrived(exit);
        else finish();
        break;
      }
      default:
        // Newer sidecars may add notifications; an older client ignores them.
        break;
    }
  }

  /**
   * A notification of `pid` (`size`: its data's length) was taken by its listeners. Acknowledgements go out
   * together, once a quarter of the window has been taken since the last ones, or ACK_DELAY_MS after the
   * first one waiting, whichever comes first: a stream of large notifications is acknowledged well before
   * the sidecar would stop (a data string's length never exceeds the bytes it carries by more than 4/3, as
   * base64, nor falls short by more than 3x, as UTF-8), while a trickle of small ones (an echo, a prompt)
   * costs an acknowledgement only now and then, not a message to the sidecar for each line.
   */
  #consume(pid: number, size: number): void {
    this.#consumed.set(pid, (this.#consumed.get(pid) ?? 0) + 1);
    this.#consumedSize += size;
    if (this.#acksScheduled) return;
    if (this.#consumedSize * 4 >= this.#windowBytes) {
      this.#acksScheduled = true;
      // At the end of this turn (a chunk of notifications is dispatched synchronously): one message for all.
      queueMicrotask(() => this.#sendAcks());
    } else if (this.#ackTimer === undefined) {
      const timer = setTimeout(() => this.#sendAcks(), ACK_DELAY_MS) as unknown as { unref?: () => void };
      timer.unref?.(); // a pending acknowledgement keeps no Node program alive
      this.#ackTimer = timer as ReturnType<typeof setTimeout>;
    }
  }

  #sendAcks(): void {
    this.#acksScheduled = false;
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const acks = [...this.#consumed].map(([pid, notifications]) => ({ pid, notifications }));
    this.#consumed.clear();
    this.#consumedSize = 0;
    if (acks.length && this.#rpc.isOpen) this.#rpc.notify('$/outputConsumed', { acks }, 'acks');
  }

  #onRawData(chunk: Uint8Array): void {
    if (this.#closeError) return;
    try {
      this.#raw!.push(chunk);
    } catch (error) {
      this.#failRawChannel(error);
    }
  }

  #onRawClosed(error: unknown): void {
    this.#rawOpen = false;
    this.#rawEnded = true;
    // End of file: the sidecar closes its end as it exits, after the end frames of every raw child. The
    // transport's own close follows and settles whatever is left; acting here could race the last lines of
    // stdout (exits of other children), which are read from another pipe.
    if (error === undefined || this.#closeError) return;
    this.#failRawChannel(error);
  }

  /**
   * The channel failed or carried something unreadable: raw children can no longer get their bytes, and the
   * sidecar would block writing frames nobody reads. Treated as the loss of the connection: pending calls
   * and running children fail now, and the sidecar is told to go (end of file on its stdin, then a kill).
   */
  #failRawChannel(cause: unknown): void {
    if (this.#closeError) return;
    const reason = cause instanceof Error ? cause.message : String(cause);
    this.#onClosed(new SidecarError(ClientErrorCode.ConnectionClosed, `The raw channel failed: ${reason}`, { cause }), {});
    const transport = this.#transport;
    void Promise.resolve()
      .then(() => transport.end())
      .catch(() => undefined);
    const timer = setTimeout(() => transport.destroy(), this.#shutdownTimeoutMs) as unknown as { unref?: () => void };
    // Do not keep a host alive for this (Node's timers have unref, a browser's are numbers): the sidecar also
    // exits when the host does (end of file on its stdin).
    timer.unref?.();
  }

  #onClosed(error: SidecarError, info: TransportCloseInfo): void {
    if (this.#closeError) return;
    this.#closeError = error;
    this.#rawOpen = false;
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#raw?.clear();
    if (this.#rpc.isOpen) this.#rpc.abandon(info, error);
    const sinks = [...this.#processes.values()];
    this.#processes.clear();
    for (const sink of sinks) sink.lost(error);
    this.#markClosed();
    this.#updateBusy();
    this.emit('close', { code: info.code ?? null, signal: info.signal ?? null, error });
  }

  /**
   * Busy: a call waits for its answer, a spawned child has not exited (its exit may wait for the last frames
   * of the raw channel), or dispose() is under way. The transport is told of each change (Transport.setBusy),
   * so that an idle sidecar does not keep a Node program running and a busy one does.
   */
  #updateBusy(): void {
    const busy = this.#rpc.isOpen && (this.#rpc.pendingCount > 0 || this.#processes.size > 0 || this.#disposing !== undefined);
    if (busy === this.#busy) return;
    this.#busy = busy;
    this.#transport.setBusy?.(busy);
  }
}

/** Rejects with `onTimeout()` (or resolves with it, if it returns no error) when `promise` takes longer than `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => SidecarError | undefined): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T | undefined>((resolve, reject) => {
    timer = setTimeout(() => {
      const error = onTimeout();
      if (error) reject(error);
      else resolve(undefined);
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
