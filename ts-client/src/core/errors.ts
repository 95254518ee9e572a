/**
 * One error type for everything that can go wrong between the host and a child: the sidecar's JSON-RPC errors
 * (codes from protocol/errors.json, see ErrorCode) and the few that only the client can see (ClientErrorCode:
 * the connection closed, was disposed, or was never there).
 */
import { ErrorCode, ErrorName, type ErrorDataMap } from '../generated/errors.js';

/**
 * Errors raised by this client itself. They use the -32095..-32099 range, which protocol/errors.json keeps free
 * for exactly this (-32096..-32099 is where vscode-jsonrpc puts its own client-side codes), so they never
 * collide with an answer from the sidecar.
 */
export const ClientErrorCode = {
  /** The sidecar exited, or its stream ended, while the call was pending or the child was running. */
  ConnectionClosed: -32099,
  /** The sidecar sent something that is not a JSON-RPC message of protocol version 1. */
  ProtocolError: -32098,
  /** The call was pending when dispose() was called. */
  Disposed: -32097,
  /** There is no open sidecar to send to: it was disposed or has closed, or no default sidecar was set. */
  NotConnected: -32096,
  /**
   * An AbortSignal had fired before the call was sent: nothing reached the sidecar. (An abort after it was sent
   * makes execute() fail with the sidecar's Cancelled, whose data holds the output so far.)
   */
  Aborted: -32095,
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];
export type ClientErrorName = keyof typeof ClientErrorCode;

const clientErrorNames: { readonly [code: number]: ClientErrorName | undefined } = Object.fromEntries(
  Object.entries(ClientErrorCode).map(([name, code]) => [code, name as ClientErrorName]),
);

export interface SidecarErrorOptions {
  data?: unknown;
  cause?: unknown;
  /** The request that failed, when there is one. */
  method?: string;
}

export class SidecarError extends Error {
  /** A code from {@link ErrorCode} (answered by the sidecar) or {@link ClientErrorCode} (raised here). */
  readonly code: number;
  /** `error.data` as the sidecar sent it (see ErrorDataMap for its shape per code), or client-side details. */
  readonly data: unknown;
  /** The request method that failed, when the error answers one. */
  readonly method: string | undefined;

  constructor(code: number, message: string, options: SidecarErrorOptions = {}) {
    // `cause` goes through the standard ES2022 option so that consoles and loggers show the chain.
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SidecarError';
    this.code = code;
    this.data = options.data;
    this.method = options.method;
  }

  /** The symbolic name of {@link code}, e.g. 'SpawnFailed' or 'ConnectionClosed', or undefined for a code unknown to this version. */
  get codeName(): ErrorName | ClientErrorName | undefined {
    return ErrorName[this.code] ?? clientErrorNames[this.code];
  }

  /** Narrows `data` to its documented shape: `if (err.is('SpawnFailed')) err.data.code === 'ENOENT'`. */
  is<N extends ErrorName>(name: N): this is SidecarError & { data: ErrorDataMap[N] } {
    return this.code === ErrorCode[name];
  }
}

/** Whether `value` is a SidecarError, also one made by another copy of this package. */
export function isSidecarError(value: unknown): value is SidecarError {
  return (
    value instanceof SidecarError ||
    (value instanceof Error && value.name === 'SidecarError' && typeof (value as { code?: unknown }).code === 'number')
  );
}

/** Builds the error for a JSON-RPC error object received from the sidecar. */
export function errorFromWire(wire: unknown, method?: string): SidecarError {
  const error = (typeof wire === 'object' && wire !== null ? wire : {}) as { code?: unknown; message?: unknown; data?: unknown };
  const code = typeof error.code === 'number' ? error.code : ErrorCode.InternalError;
  const message = typeof error.message === 'string' && error.message ? error.message : `${method ?? 'request'} failed`;
  return new SidecarError(code, message, { data: error.data, method });
}

/** The error for a call made while there is no connection to send it on. */
export function notConnectedError(message: string, cause?: unknown): SidecarError {
  return new SidecarError(ClientErrorCode.NotConnected, message, { cause });
}

/** The error for work given up because an AbortSignal fired before it reached the sidecar. */
export function abortedError(signal: AbortSignal, method: string): SidecarError {
  return new SidecarError(ClientErrorCode.Aborted, `${method} was aborted before it was sent.`, {
    cause: signal.reason,
    method,
  });
}

/** InvalidParams for an option the client refuses before anything is sent, with the data the sidecar's own has. */
export function invalidOptionError(field: string, expected: string, received: unknown, message: string, cause?: unknown): SidecarError {
  return new SidecarError(ErrorCode.InvalidParams, message, { cause, data: { field, expected, received } });
}

export { ErrorCode, ErrorName };
export type { ErrorDataMap };
