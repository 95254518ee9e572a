/**
 * process-sidecar: the host side of the process-sidecar protocol. This entry point is the browser-safe core
 * (no Node modules). Transports: 'process-sidecar/node', 'process-sidecar/tauri', 'process-sidecar/stream'.
 */
export { Sidecar } from './core/sidecar.js';
export type { ConnectOptions, LaunchOptions, SidecarCloseEvent, SidecarEvents, SidecarState } from './core/sidecar.js';
export { Command, DEFAULT_IDLE_FLUSH_MS } from './core/command.js';
export type { ChildProcess, CommandEvents, IOPayload, OutputEvents } from './core/command.js';
export { Child } from './core/child.js';
export type { KillOptions, WriteData } from './core/child.js';
export type { CommandOptions, Signal, SpawnOptions } from './core/options.js';
export type { TerminatedPayload } from './core/process-run.js';
export { EventEmitter } from './core/emitter.js';
export { SidecarError, ClientErrorCode, ErrorCode, ErrorName, isSidecarError } from './core/errors.js';
export type { ClientErrorName, ErrorDataMap } from './core/errors.js';
export { getDefaultSidecar, setDefaultSidecar } from './core/default-sidecar.js';
export type { Transport, TransportEvents, TransportCloseInfo, RawChannel, RawChannelEvents, WriteLane } from './core/transport.js';
export { createStreamTransport, createEventStreamTransport } from './transports/stream.js';
export type { StreamTransportOptions, EventStreamLike, EventStreamTransportOptions } from './transports/stream.js';
export { PROTOCOL_VERSION, METHODS } from './generated/methods.js';
export type * from './generated/methods.js';
export type * from './generated/protocol.js';
