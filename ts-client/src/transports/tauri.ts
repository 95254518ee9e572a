/**
 * The Tauri transport: runs the bundled sidecar from a Tauri webview with @tauri-apps/plugin-shell and talks
 * over its stdio. Entry point 'process-sidecar/tauri'; it re-exports the whole core, with a Sidecar whose
 * launch() uses this transport by default. Browser-safe: no Node modules.
 *
 * The sidecar's stdout is read in the shell plugin's text mode: its reader thread sends one IPC message per line,
 * as a JSON string. Protocol lines are UTF-8 JSON, one per line, with no raw newline or carriage return inside
 * (JSON escapes them), so that mode is lossless here and hands over exactly one protocol line per message, of
 * any length; the raw mode instead sends chunks of at most 8 KiB as JSON arrays of numbers, about four bytes of
 * IPC per byte and many more messages (measured inside a real app: bench/ of examples/tauri-app).
 *
 * The shell plugin's reader never waits for the page, so nothing else would bound what a fast child pushes
 * into the app and the webview: the transport asks the sidecar for flow control (a window per child, see
 * Transport.flowControlWindowBytes), and the sidecar stops reading a child whose output the page has not taken.
 *
 * A reload of the page (location.reload(), a dev server's hot reload) ends the page's JavaScript but not the
 * processes the shell plugin started: its table of children lives in Rust, and the sidecar's stdin stays open.
 * So each sidecar's pid is remembered in the page's sessionStorage (which a reload keeps), and the next launch
 * in that window first kills, through the plugin, every sidecar an earlier load of the page left running.
 * For the bundled one-file sidecar, killing its bootloader makes the sidecar inside stop every child tree.
 */
import { Child as ShellChild, Command as ShellCommand } from '@tauri-apps/plugin-shell';
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
  /**
   * Before starting, kill the sidecars that an earlier load of this page (in this window) started and left
   * running, e.g. before a reload: their pids are kept in sessionStorage. Default true.
   */
  endStale?: boolean;
  /**
   * How the shell plugin delivers the sidecar's stdout: 'text' (default), one IPC message per protocol line; or
   * 'raw', byte chunks of at most 8 KiB as JSON arrays of numbers (slower; kept for comparison).
   */
  stdoutMode?: 'text' | 'raw';
  /**
   * The flow control window this transport asks for (bytes of output per child on their way to the page; see
   * LaunchOptions.flowControl, which overrides it). Default DEFAULT_TAURI_WINDOW_BYTES.
   */
  flowControlWindowBytes?: number;
  /**
   * The most output bytes per notification this transport asks for (see LaunchOptions.notificationBytes, which
   * overrides it). Default DEFAULT_TAURI_NOTIFICATION_BYTES.
   */
  notificationBytes?: number;
}

export const DEFAULT_TAURI_SIDECAR = 'binaries/process-sidecar';
/**
 * The flow control window the Tauri transport asks for by default: what a child may have on its way to the page
 * before its listeners took it. Chosen by measurement (examples/tauri-app/bench): large enough that a fast page
 * never waits for an acknowledgement, small enough that a slow one keeps the app and the webview flat.
 */
export const DEFAULT_TAURI_WINDOW_BYTES = 1024 * 1024;
/**
 * The notification size the Tauri transport asks for by default. Every IPC event of more than a few KiB costs
 * the page a round trip of its own (Tauri's channel has it fetch the payload), so fewer, larger ones carry
 * more; but the faster a page takes output in, the more garbage its web process holds between collections.
 * Measured in the app's benchmark (examples/tauri-app/bench, 3 rounds each, one session), binary throughput
 * against plugin-shell and the web process's growth under a 1 GiB flood: 64 KiB (the sidecar's default, which
 * suits a Node host) 3.47x and +21 MiB; 128 KiB 3.93x and +55 MiB; 256 KiB 4.30x and +63 MiB (5 rounds).
 */
export const DEFAULT_TAURI_NOTIFICATION_BYTES = 128 * 1024;
const STDERR_TAIL_CHARS = 4096;

/** The sessionStorage key under which the pids of this window's running sidecars are kept (a JSON array). */
export const TAURI_SIDECARS_KEY = 'process-sidecar:tauri-sidecars';
/** The sidecars this load of the page started: never stale. */
const startedHere = new Set<number>();

function sessionStore(): Storage | undefined {
  try {
    return globalThis.sessionStorage ?? undefined;
  } catch {
    return undefined; // storage disabled: nothing is remembered, nothing is ended
  }
}

function storedPids(): number[] {
  try {
    const value: unknown = JSON.parse(sessionStore()?.getItem(TAURI_SIDECARS_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((pid): pid is number => Number.isInteger(pid)) : [];
  } catch {
    return [];
  }
}

function storePids(pids: number[]): void {
  try {
    const store = sessionStore();
    if (pids.length) store?.setItem(TAURI_SIDECARS_KEY, JSON.stringify(pids));
    else store?.removeItem(TAURI_SIDECARS_KEY);
  } catch {
    // full or disabled: the worst case is a stale sidecar that lives until the app exits
  }
}

/**
 * Kills, through the shell plugin, the sidecars that an earlier load of this page started and left running.
 * The plugin only kills children it started and still holds, so a pid that has ended (or been reused by an
 * unrelated process) is harmless.
 */
export async function endStaleSidecars(): Promise<number[]> {
  const stale = storedPids().filter((pid) => !startedHere.has(pid));
  if (!stale.length) return [];
  await Promise.all(stale.map((pid) => new ShellChild(pid).kill().catch(() => undefined)));
  storePids(storedPids().filter((pid) => !stale.includes(pid)));
  return stale;
}

/** What the shell plugin may deliver for a raw chunk, depending on its version and the IPC path. */
type RawPayload = Uint8Array | ArrayBuffer | number[] | string;

function toChunk(payload: RawPayload): Uint8Array | string {
  if (typeof payload === 'string' || payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  return Uint8Array.from(payload);
}

/** Sends text in order, one send at a time; what is queued while one is under way goes together in the next.
 * Each write settles with the send that carried its text; a failed send fails those writes, not later ones. */
function serialWriter(): (text: string, send: (batch: string) => Promise<void>) => Promise<void> {
  let queued = '';
  let next: Promise<void> | undefined; // the send that text queued now will go with
  let writing: Promise<void> = Promise.resolve();
  return (text, send) => {
    queued += text;
    if (!next) {
      next = writing.then(() => {
        const batch = queued;
        queued = '';
        next = undefined;
        return send(batch);
      });
      writing = next.catch(() => {});
    }
    return next;
  };
}

export function createTauriTransport(options: TauriTransportOptions = {}): Transport {
  // No encoding: the plugin's text mode (UTF-8 lines), unless raw is asked for.
  const shellOptions = { encoding: options.stdoutMode === 'raw' ? 'raw' : undefined, cwd: options.cwd, env: options.env };
  const command = options.program
    ? ShellCommand.create(options.program, options.args ?? [], shellOptions)
    : ShellCommand.sidecar(options.sidecar ?? DEFAULT_TAURI_SIDECAR, options.args ?? [], shellOptions);

  let spawned: Promise<ShellChild | undefined> = Promise.resolve(undefined);
  // Writes are IPC calls; each waits for the previous one so they reach the sidecar in order, and lines
  // queued meanwhile are sent together. Flow control's acknowledgements go in a queue of their own: their
  // order against requests does not matter, and a request (say the next write of an echo) must not wait
  // for the acknowledgement of the output it just read.
  const requests = serialWriter();
  const acks = serialWriter();
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
    flowControlWindowBytes: options.flowControlWindowBytes ?? DEFAULT_TAURI_WINDOW_BYTES,
    notificationBytes: options.notificationBytes ?? DEFAULT_TAURI_NOTIFICATION_BYTES,
    start(events: TransportEvents) {
      const close = (info: TransportCloseInfo) => {
        if (closed) return;
        closed = true;
        void spawned.then((child) => {
          if (!child) return;
          startedHere.delete(child.pid);
          storePids(storedPids().filter((pid) => pid !== child.pid));
        });
        events.close({ ...info, stderrTail: stderrTail || undefined });
      };
      command.stdout.on('data', (payload: RawPayload) => {
        if (!closed) events.data(toChunk(payload));
      });
      command.stderr.on('data', onStderr);
      command.on('error', (error: unknown) => {
        // The plugin reports read errors here (in text mode also a line that is not UTF-8, which the sidecar
        // never writes); the sidecar's exit follows and reports the end.
        lastError = error;
      });
      command.on('close', (payload: { code: number | null; signal: number | null }) => {
        close({ code: payload.code, signal: payload.signal, error: payload.code === 0 ? undefined : lastError });
      });
      const stale = options.endStale === false ? Promise.resolve([]) : endStaleSidecars();
      spawned = stale
        .then(() => command.spawn())
        .then(
          (child) => {
            startedHere.add(child.pid);
            storePids([...storedPids().filter((pid) => pid !== child.pid), child.pid]);
            return child;
          },
          (error: unknown) => {
            close({ error });
            return undefined;
          },
        );
    },
    write(text, lane) {
      const send = async (batch: string) => {
        const child = await spawned;
        if (child && !closed) await child.write(batch);
      };
      return (lane === 'acks' ? acks : requests)(text, send);
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
