/**
 * JSON-RPC 2.0 over a Transport: numbers outgoing requests, matches answers to them by id, and hands
 * notifications to the layer above. It knows the protocol's framing (one message per line) and nothing of
 * processes.
 */
import { ClientErrorCode, SidecarError, abortedError, errorFromWire, notConnectedError } from './errors.js';
import { ErrorCode } from '../generated/errors.js';
import { LineSplitter } from './framing.js';
import type { Transport, TransportCloseInfo, WriteLane } from './transport.js';

export interface RpcHandlers {
  /** A notification from the sidecar (stdout, stderr, exit). */
  notification(method: string, params: unknown): void;
  /** Something arrived that is not a message we can act on; the connection goes on. */
  protocolError(error: SidecarError): void;
  /** The transport closed; every pending request has been rejected with `error`. */
  closed(error: SidecarError, info: TransportCloseInfo): void;
  /** The number of requests waiting for their answer may have changed (see RpcConnection.pendingCount). */
  pendingChanged?(): void;
}

export interface RequestOptions<R = unknown> {
  /**
   * Aborting sends `$/cancelRequest` for this request; the sidecar then answers (for `execute`, with
   * Cancelled). If the signal has already fired, nothing is sent and the call fails at once.
   */
  signal?: AbortSignal;
  /**
   * Called synchronously when the result arrives, before any later message is read. The promise's own
   * continuation runs later (on a microtask), after the rest of the chunk has been dispatched; anything that
   * must be in place before the next message (such as routing a new pid) belongs here.
   */
  onResult?: (result: R) => void;
}

interface Pending {
  readonly method: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: SidecarError) => void;
  readonly onResult: ((result: any) => void) | undefined;
}

type State = 'open' | 'closed';

export class RpcConnection {
  readonly #transport: Transport;
  readonly #handlers: RpcHandlers;
  readonly #pending = new Map<number, Pending>();
  /** Ids given up here (dispose) whose answers may still come; they are dropped quietly. */
  readonly #abandoned = new Set<number>();
  readonly #splitter: LineSplitter;
  #nextId = 1;
  #state: State = 'open';
  #closedError: SidecarError | undefined;
  /** Longest line the sidecar accepts (from initialize); longer requests fail here instead of hanging. */
  maxLineBytes: number | undefined;

  constructor(transport: Transport, handlers: RpcHandlers) {
    this.#transport = transport;
    this.#handlers = handlers;
    this.#splitter = new LineSplitter((line) => this.#receive(line));
    transport.start({
      data: (chunk) => {
        if (this.#state === 'open') this.#splitter.push(chunk);
      },
      close: (info) => this.#close(info),
    });
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** How many requests wait for their answer. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  request<R = unknown>(method: string, params: unknown, options: RequestOptions<R> = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.#state !== 'open') {
        reject(notConnectedError(`Cannot send ${method}: the sidecar connection is closed.`, this.#closedError));
        return;
      }
      const { signal } = options;
      if (signal?.aborted) {
        reject(abortedError(signal, method));
        return;
      }
      const id = this.#nextId++;
      const onAbort = () => this.notify('$/cancelRequest', { id });
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => signal?.removeEventListener('abort', onAbort);
      this.#pending.set(id, {
        method,
        resolve: (result) => {
          settle();
          resolve(result as R);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        onResult: options.onResult,
      });
      const failure = this.#send({ jsonrpc: '2.0', id, method, params }, method, (error) => this.#abandon(id, error));
      if (failure) {
        this.#pending.delete(id);
        settle();
        reject(failure);
      }
      this.#handlers.pendingChanged?.();
    });
  }

  notify(method: string, params: unknown, lane?: WriteLane): void {
    if (this.#state !== 'open') return;
    const failure = this.#send({ jsonrpc: '2.0', method, params }, method, undefined, lane);
    if (failure) this.#handlers.protocolError(failure);
  }

  /** Rejects every pending request with `error` (dispose uses this; the requests are not cancelled on the wire). */
  rejectPending(error: SidecarError): void {
    const pending = [...this.#pending.entries()];
    this.#pending.clear();
    for (const [id, p] of pending) {
      this.#abandoned.add(id);
      p.reject(error);
    }
    if (pending.length) this.#handlers.pendingChanged?.();
  }

  /** A request whose line could not be written: it fails now (it may never reach the sidecar), and an answer
   * that comes all the same is ignored. */
  #abandon(id: number, error: SidecarError): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    this.#abandoned.add(id);
    pending.reject(error);
    this.#handlers.pendingChanged?.();
  }

  /** Returns an error instead of throwing, so that request() can reject just the one call; a write that fails
   * later goes to `onWriteFailed` (a request's), or is reported as a protocol error (a notification's). */
  #send(message: object, method: string, onWriteFailed?: (error: SidecarError) => void, lane?: WriteLane): SidecarError | undefined {
    const line = JSON.stringify(message) + '\n';
    const limit = this.maxLineBytes;
    // A line the sidecar would discard would also never be answered (its MessageTooLarge carries id null).
    // A string's UTF-8 size is between its length and three times that; count exactly only when it matters.
    if (limit !== undefined && line.length * 3 > limit) {
      const bytes = new TextEncoder().encode(line).length;
      if (bytes > limit) {
        return new SidecarError(ErrorCode.MessageTooLarge, `The ${method} request is ${bytes} bytes, more than the sidecar accepts (${limit}).`, {
          data: { limit, received: bytes },
          method,
        });
      }
    }
    try {
      const written = this.#transport.write(line, lane);
      if (written && typeof (written as Promise<void>).then === 'function') {
        (written as Promise<void>).catch((cause: unknown) => {
          const error = new SidecarError(ClientErrorCode.ConnectionClosed, `Could not send ${method} to the sidecar.`, { cause, method });
          if (onWriteFailed) onWriteFailed(error);
          else this.#handlers.protocolError(error);
        });
      }
      return undefined;
    } catch (cause) {
      return new SidecarError(ClientErrorCode.ConnectionClosed, `Could not send ${method} to the sidecar.`, { cause, method });
    }
  }

  #receive(line: string): void {
    const output = parseOutputNotification(line);
    if (output) {
      this.#handlers.notification(output.method, output.params);
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (cause) {
      this.#handlers.protocolError(
        new SidecarError(ClientErrorCode.ProtocolError, 'The sidecar wrote a line that is not JSON.', { cause, data: { line: line.slice(0, 200) } }),
      );
      return;
    }
    if (Array.isArray(message)) for (const m of message) this.#dispatch(m);
    else this.#dispatch(message);
  }

  #dispatch(message: unknown): void {
    if (typeof message !== 'object' || message === null) {
      this.#handlers.protocolError(new SidecarError(ClientErrorCode.ProtocolError, 'The sidecar sent a message that is not an object.', { data: message }));
      return;
    }
    const m = message as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    if (typeof m.method === 'string') {
      // We serve no requests; a message with a method is a notification to us.
      this.#handlers.notification(m.method, m.params);
      return;
    }
    const pending = typeof m.id === 'number' ? this.#pending.get(m.id) : undefined;
    if (!pending && this.#abandoned.delete(m.id as number)) return;
    if (!pending) {
      // An answer with id null is the sidecar telling us a line of ours was unreadable (ParseError,
      // MessageTooLarge): report it, since the request it belonged to cannot be known.
      const error = m.error !== undefined ? errorFromWire(m.error) : undefined;
      this.#handlers.protocolError(
        error ?? new SidecarError(ClientErrorCode.ProtocolError, `The sidecar answered an unknown request id ${JSON.stringify(m.id)}.`, { data: message }),
      );
      return;
    }
    this.#pending.delete(m.id as number);
    // Told after onResult: what it sets up (a spawned child's route) counts as work before this call stops counting.
    try {
      this.#settle(pending, m);
    } finally {
      this.#handlers.pendingChanged?.();
    }
  }

  #settle(pending: Pending, m: { result?: unknown; error?: unknown }): void {
    if (m.error !== undefined) {
      pending.reject(errorFromWire(m.error, pending.method));
      return;
    }
    try {
      pending.onResult?.(m.result);
    } catch (error) {
      pending.reject(error instanceof SidecarError ? error : new SidecarError(ClientErrorCode.ProtocolError, String(error), { cause: error }));
      return;
    }
    pending.resolve(m.result);
  }

  /** Gives up on a transport that never reported its end: behaves as if it had closed with `info`. */
  abandon(info: TransportCloseInfo, error: SidecarError): void {
    this.#close(info, error);
  }

  #close(info: TransportCloseInfo, knownError?: SidecarError): void {
    if (this.#state === 'closed') return;
    // Lines that were complete when the stream ended are still valid answers.
    this.#splitter.end();
    this.#state = 'closed';
    const error = knownError ?? closedError(info);
    this.#closedError = error;
    this.rejectPending(error);
    this.#handlers.closed(error, info);
  }
}

// A stdout/stderr notification exactly as the sidecar writes it: {"jsonrpc":"2.0","method":"stdout",
// "params":{"pid":123,"data":"..."}}. The pieces around the pid and the data.
const OUTPUT_HEAD = '{"jsonrpc":"2.0","method":"std';
const OUTPUT_PARAMS = '","params":{"pid":';
const OUTPUT_DATA = ',"data":"';
const OUTPUT_TAIL = '"}}';

/**
 * The output notifications that make up nearly all of the sidecar's bytes, read without JSON.parse when that
 * changes nothing: a line of exactly the sidecar's shape whose data string holds no backslash (hence no
 * escape, and no quote but its closing one) has that string's characters as its value. Base64 data (raw
 * output) always qualifies, and skipping JSON.parse over it halves the client's cost per byte; text with
 * escapes (a newline is one) does not, and is parsed as usual, as is anything else. Returns undefined when the
 * line is not of that shape.
 */
export function parseOutputNotification(line: string): { method: 'stdout' | 'stderr'; params: { pid: number; data: string } } | undefined {
  if (!line.startsWith(OUTPUT_HEAD)) return undefined;
  let i = OUTPUT_HEAD.length;
  let method: 'stdout' | 'stderr';
  if (line.startsWith('out', i)) method = 'stdout';
  else if (line.startsWith('err', i)) method = 'stderr';
  else return undefined;
  i += 3;
  if (!line.startsWith(OUTPUT_PARAMS, i)) return undefined;
  i += OUTPUT_PARAMS.length;
  const pidStart = i;
  let pid = 0;
  for (let c = line.charCodeAt(i); c >= 0x30 && c <= 0x39; c = line.charCodeAt(++i)) pid = pid * 10 + (c - 0x30);
  const digits = i - pidStart;
  // A JSON integer: no leading zero, and small enough to be exact.
  if (digits === 0 || digits > 15 || (digits > 1 && line.charCodeAt(pidStart) === 0x30)) return undefined;
  if (!line.startsWith(OUTPUT_DATA, i)) return undefined;
  const dataStart = i + OUTPUT_DATA.length;
  const dataEnd = line.length - OUTPUT_TAIL.length;
  if (dataEnd < dataStart || !line.endsWith(OUTPUT_TAIL)) return undefined;
  // Escapes first: text usually has one (a newline) near its start, so this gives up early.
  if (line.indexOf('\\', dataStart) !== -1 || line.indexOf('"', dataStart) !== dataEnd) return undefined;
  // JSON forbids raw control characters in strings; the sidecar never writes them, so they are not looked for.
  return { method, params: { pid, data: line.slice(dataStart, dataEnd) } };
}

function closedError(info: TransportCloseInfo): SidecarError {
  let how: string;
  if (info.error !== undefined) how = `failed: ${info.error instanceof Error ? info.error.message : String(info.error)}`;
  else if (info.signal != null) how = `was killed by signal ${info.signal}`;
  else if (info.code != null) how = `exited with code ${info.code}`;
  else how = 'closed its stream';
  const tail = info.stderrTail?.trim();
  const hint = info.hint ? ` ${info.hint}` : '';
  return new SidecarError(ClientErrorCode.ConnectionClosed, `The sidecar ${how}.${hint}${tail ? ` Its last output: ${tail.slice(-500)}` : ''}`, {
    cause: info.error,
    data: { code: info.code ?? null, signal: info.signal ?? null, stderr: info.stderrTail },
  });
}
