/**
 * The options of a Command and how they become wire params. Tauri's names (cwd, env, encoding) keep their
 * meaning; the rest are this client's additions.
 */
import type { ExecuteParams, PtySize, SpawnParams } from '../generated/protocol.js';
import type { OutputMode } from './encoding.js';
import { encodeBase64, toBytes } from './base64.js';
import { ErrorCode, SidecarError, invalidOptionError } from './errors.js';

/** A signal by name ('SIGTERM', 'SIGINT', ...) or number. */
export type Signal = string | number;

export interface CommandOptions {
  /** Working directory of the child. Default: the sidecar's. */
  cwd?: string;
  /** Variables merged over the sidecar's environment; null (or undefined) removes a name. */
  env?: Record<string, string | null | undefined>;
  /** Start from an empty environment, then apply `env`. */
  clearEnv?: boolean;
  /**
   * How output is decoded: 'utf-8' (default) for text lines, 'raw' for Uint8Array chunks, or any other
   * TextDecoder label ('utf-16le', 'shift_jis', ...).
   */
  encoding?: string;
  /** 'pipe' (default): the child's stdin is writable; 'null': it reads /dev/null (end of file at once). */
  stdin?: 'pipe' | 'null';
  /**
   * spawn() only: run the child on a pseudo-terminal of `cols` x `rows` cells instead of pipes (a terminal
   * pane, an interactive program). Its output, stdout and stderr merged as a terminal merges them, comes on
   * `stdout`; `write()` types into the terminal, `closeStdin()` sends end of file (^D), `resize()` changes
   * the size. `idleFlushMs` defaults to 0: a terminal's output is not line-oriented.
   */
  pty?: PtySize;
  /** execute() only: written to the child's stdin, which is then closed. */
  input?: string | Uint8Array | readonly number[];
  /**
   * Milliseconds. execute(): the tree is stopped and the call fails with TimedOut. spawn(): the child is
   * killed (SIGTERM of the tree, then SIGKILL), and 'close' reports the signal.
   */
  timeout?: number;
  /** execute() only: most bytes kept per stream; past it the call fails with MaxBufferExceeded. */
  maxBuffer?: number;
  /** When the child is stopped by timeout, abort or maxBuffer: SIGKILL follows SIGTERM after this long (ms). Default 2000. */
  forceAfterMs?: number;
  /** execute(): aborting cancels the request (it fails with Cancelled). spawn(): aborting kills the child. */
  signal?: AbortSignal;
  /**
   * Text output only: how long (ms) a line without its newline (a prompt) waits before it is emitted anyway.
   * Default 50. null: until the newline or the exit. 0: emit partial text at once.
   */
  idleFlushMs?: number | null;
}

/**
 * The options of Command.create() under the name @tauri-apps/plugin-shell gives them (`cwd`, `env`,
 * `encoding`, and this package's additions), so that code typed against the shell plugin compiles unchanged.
 */
export type SpawnOptions = CommandOptions;

export interface ProgramSpec {
  readonly program: string;
  readonly args: readonly string[];
}

function wireEnv(env: CommandOptions['env']): Record<string, string | null> | undefined {
  if (!env) return undefined;
  const out: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(env)) out[name] = value ?? null;
  return out;
}

export function spawnParams(spec: ProgramSpec, options: CommandOptions, mode: OutputMode): SpawnParams {
  const params: SpawnParams = commonParams(spec, options);
  if (mode.wire !== 'utf-8') params.encoding = mode.wire;
  if (options.pty !== undefined) params.pty = { cols: options.pty.cols, rows: options.pty.rows };
  return params;
}

/** What spawn and execute share. */
function commonParams(spec: ProgramSpec, options: CommandOptions): SpawnParams & ExecuteParams {
  const params: SpawnParams & ExecuteParams = { program: spec.program, args: [...spec.args] };
  if (options.cwd !== undefined) params.cwd = options.cwd;
  const env = wireEnv(options.env);
  if (env) params.env = env;
  if (options.clearEnv !== undefined) params.clearEnv = options.clearEnv;
  if (options.stdin !== undefined) params.stdin = options.stdin;
  return params;
}

export function executeParams(spec: ProgramSpec, options: CommandOptions, mode: OutputMode): ExecuteParams {
  if (options.pty !== undefined) {
    throw invalidOptionError('options.pty', 'no pty with execute()', options.pty, 'pty is a spawn() option: execute() collects output through pipes.');
  }
  const params: ExecuteParams = commonParams(spec, options);
  // execute's result is JSON: its output never takes the raw channel (Command.execute() resolves 'raw' to base64).
  if (mode.wire === 'raw') throw new SidecarError(ErrorCode.InternalError, 'execute() cannot use the raw channel (a defect of the client).');
  if (mode.wire !== 'utf-8') params.encoding = mode.wire;
  if (options.input !== undefined) {
    const input = options.input;
    if (mode.wire === 'base64') {
      params.input = encodeBase64(typeof input === 'string' ? new TextEncoder().encode(input) : toBytes(input));
    } else {
      params.input = input as string; // resolveEncoding chose utf-8 only for string input
    }
  }
  if (options.timeout !== undefined) params.timeoutMs = Math.max(1, Math.ceil(options.timeout));
  if (options.maxBuffer !== undefined) params.maxBuffer = options.maxBuffer;
  if (options.forceAfterMs !== undefined) params.forceAfterMs = options.forceAfterMs;
  return params;
}

/** Whether execute's input must travel as bytes (forcing the base64 wire encoding). */
export function inputIsBytes(options: CommandOptions): boolean {
  return options.input !== undefined && typeof options.input !== 'string';
}
