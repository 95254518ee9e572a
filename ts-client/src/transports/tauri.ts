/**
 * The Tauri transport: runs the bundled sidecar from a Tauri webview with @tauri-apps/plugin-shell and talks
 * over its stdio. Entry point 'process-sidecar/tauri'; it re-exports the whole core, with a Sidecar whose
 * launch() uses this transport by default. Browser-safe: no Node modules.
 *
 * The shell plugin is asked for encoding 'raw', because its text mode decodes line by line and would be a
 * second, lossy framing layer; lines are split here on newline bytes, then decoded, exactly as elsewhere.
 */
import { Command as ShellCommand, type Child as ShellChild } from '@tauri-apps/plugin-shell';
import { Sidecar as CoreSidecar, type LaunchOptions } from '../core/sidecar.js';
import type { Transport, TransportCloseInfo, TransportEvents } from '../core/transport.js';

export * from '../index.js';

export interface TauriTransportOptions {
  /**
   * The sidecar as named in `bundle > externalBin` of tauri.conf.json (and allowed in the capability's
   * shell:allow-spawn scope with `sidecar: true`). Default 'binaries/process-sidecar'. Ignored when
   * `program` is given.
   */
  sidecar?: string;
  /** Instead of a bundled sidecar: a program allowed in the shell scope (e.g. a python), run with `args`. */
  program?: string;
  /** Arguments for the sidecar, e.g. ['--log-level', 'error'] (with `program` = python: ['-m', 'sidecar']). */
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** The sidecar's stderr (its logs): 'console' (default) logs each line with console.warn, 'ignore' drops it, a function receives the text. */
  stderr?: 'console' | 'ignore' | ((text: string) => void);
}

export const DEFAULT_TAURI_SIDECAR = 'binaries/process-sidecar';
const STDERR_TAIL_CHARS = 4096;

/** What the shell plugin may deliver for a raw chunk, depending on its version and the IPC path. */
type RawPayload = Uint8Array | ArrayBuffer | number[] | string;

function toChunk(payload: RawPayload): Uint8Array | string {
  if (typeof payload === 'string' || payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  return Uint8Array.from(payload);
}

export function createTauriTransport(options: TauriTransportOptions = {}): Transport {
  const shellOptions = { encoding: 'raw', cwd: options.cwd, env: options.env } as const;
  const command = options.program
    ? ShellCommand.create(options.program, options.args ?? [], shellOptions)
    : ShellCommand.sidecar(options.sidecar ?? DEFAULT_TAURI_SIDECAR, options.args ?? [], shellOptions);

  let spawned: Promise<ShellChild | undefined> = Promise.resolve(undefined);
  // Writes are IPC calls; each waits for the previous one so they reach the sidecar in order, and lines
  // queued meanwhile are sent together.
  let queued = '';
  let writing: Promise<void> = Promise.resolve();
  let closed = false;
  let lastError: unknown;
  let stderrTail = '';

  const stderrDecoder = new TextDecoder();
  let stderrLine = '';
  const stderrSink = options.stderr ?? 'console';
  const onStderr = (payload: RawPayload) => {
    const chunk = toChunk(payload);
    const text = typeof chunk === 'string' ? chunk : stderrDecoder.decode(chunk, { stream: true });
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_CHARS);
    if (stderrSink === 'ignore') return;
    if (typeof stderrSink === 'function') {
      stderrSink(text);
      return;
    }
    stderrLine += text;
    const lines = stderrLine.split('\n');
    stderrLine = lines.pop() ?? '';
    for (const line of lines) if (line) console.warn(`[process-sidecar] ${line}`);
  };

  return {
    start(events: TransportEvents) {
      const close = (info: TransportCloseInfo) => {
        if (closed) return;
        closed = true;
        events.close({ ...info, stderrTail: stderrTail || undefined });
      };
      command.stdout.on('data', (payload: RawPayload) => {
        if (!closed) events.data(toChunk(payload));
      });
      command.stderr.on('data', onStderr);
      command.on('error', (error: unknown) => {
        // The plugin reports read errors here; the sidecar's exit follows and reports the end.
        lastError = error;
      });
      command.on('close', (payload: { code: number | null; signal: number | null }) => {
        close({ code: payload.code, signal: payload.signal, error: payload.code === 0 ? undefined : lastError });
      });
      spawned = command.spawn().then(
        (child) => child,
        (error: unknown) => {
          close({ error });
          return undefined;
        },
      );
    },
    write(text) {
      queued += text;
      writing = writing.then(async () => {
        if (!queued) return;
        const batch = queued;
        queued = '';
        const child = await spawned;
        if (child && !closed) await child.write(batch);
      });
      return writing;
    },
    end() {
      // The shell plugin cannot close a child's stdin; the `shutdown` request that dispose() sends first
      // makes the sidecar exit by itself.
    },
    destroy() {
      void spawned.then((child) => child?.kill()).catch(() => {});
    },
  };
}

export interface TauriLaunchOptions extends LaunchOptions, TauriTransportOptions {}

/** The core Sidecar, whose launch() starts the bundled sidecar through @tauri-apps/plugin-shell. */
export class Sidecar extends CoreSidecar {
  static override launch(options: TauriLaunchOptions = {}): Promise<Sidecar> {
    return super.launch({ ...options, transport: options.transport ?? createTauriTransport(options) }) as Promise<Sidecar>;
  }
}
