/**
 * The Node transport: runs the sidecar as a child process of this Node process (an Electron main or utility
 * process, a VS Code extension host, a CLI) and talks over its stdio. Entry point 'process-sidecar/node'; it
 * re-exports the whole core, with a Sidecar whose launch() uses this transport by default.
 */
import { spawn, type ChildProcess as NodeChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { StreamTextDecoder } from '../core/encoding.js';
import { Sidecar as CoreSidecar, type LaunchOptions } from '../core/sidecar.js';
import type { RawChannel, RawChannelEvents, Transport, TransportCloseInfo, TransportEvents } from '../core/transport.js';

export * from '../index.js';

export interface NodeTransportOptions {
  /**
   * The sidecar program, e.g. a bundled `process-sidecar` binary; run with `args`. When absent, `python`
   * runs the sidecar module: `<python> -m sidecar <args>`.
   */
  program?: string;
  /** The Python that has the sidecar installed, when `program` is absent. Default 'python3' ('python' on Windows). */
  python?: string;
  /** Extra arguments for the sidecar, e.g. ['--log-level', 'error']. */
  args?: readonly string[];
  /** Working directory of the sidecar (where `-m sidecar` must be importable, unless it is installed). */
  cwd?: string;
  /** Environment of the sidecar. Default: this process's. */
  env?: Record<string, string | undefined>;
  /**
   * The sidecar's stderr (its logs): 'inherit' (default) writes it to this process's stderr, 'ignore' drops
   * it, a function receives it as text. The last few KiB are kept either way to explain an unexpected exit.
   */
  stderr?: 'inherit' | 'ignore' | ((text: string) => void);
  /**
   * Give the sidecar the raw channel: a fourth pipe (descriptor 3 in the sidecar) on which the output of
   * spawned Commands travels as binary frames (text decoded here) instead of JSON. Default true; false starts
   * the sidecar with its three standard pipes only, and output travels in notifications (utf-8 or base64).
   */
  rawChannel?: boolean;
}

const STDERR_TAIL_BYTES = 4096;

/**
 * Node's own streaming utf-8 decoder (native; what `setEncoding('utf8')` uses) for text on the raw channel: it
 * decodes as TextDecoder does (U+FFFD for the same bytes, a split character kept whole, the BOM kept) with about
 * 40% less CPU per MiB than Node 20's TextDecoder.
 */
function createNodeUtf8Decoder(): StreamTextDecoder {
  const decoder = new StringDecoder('utf8');
  return { decode: (input, options) => (options?.stream ? decoder.write(input ?? EMPTY) : decoder.end(input)) };
}
const EMPTY = new Uint8Array(0);
/** The raw channel's descriptor in the sidecar: the first one after stdin, stdout and stderr. */
const RAW_CHANNEL_FD = 3;

export interface NodeTransport extends Transport {
  /** The sidecar's process id, once started. */
  readonly pid: number | undefined;
}

export function createNodeTransport(options: NodeTransportOptions = {}): NodeTransport {
  const program = options.program ?? options.python ?? (process.platform === 'win32' ? 'python' : 'python3');
  const args = options.program ? [...(options.args ?? [])] : ['-m', 'sidecar', ...(options.args ?? [])];
  let child: NodeChildProcess | undefined;
  let stderrTail = '';
  let closed = false;
  // Held (ref'd) until the connection says it is idle, and again whenever it is busy: see Transport.setBusy.
  let busy = true;
  const holdHandles = () => {
    if (!child) return;
    const method = busy ? 'ref' : 'unref';
    child[method]();
    // The pipes are handles of their own (net.Socket): stdin, stdout, stderr and the raw channel.
    for (const stream of child.stdio) (stream as { ref?: () => void; unref?: () => void } | null)?.[method]?.();
  };
  const withRawChannel = options.rawChannel !== false;
  let rawEvents: RawChannelEvents | undefined;
  let rawClosed = false;
  const closeRaw = (error?: unknown) => {
    if (rawClosed) return;
    rawClosed = true;
    rawEvents?.close(error);
  };
  const rawChannel: RawChannel | undefined = withRawChannel
    ? {
        fd: RAW_CHANNEL_FD,
        open(events) {
          rawEvents = events;
        },
        createUtf8Decoder: createNodeUtf8Decoder,
      }
    : undefined;

  return {
    get pid() {
      return child?.pid;
    },
    rawChannel,
    start(events: TransportEvents) {
      const close = (info: Parameters<TransportEvents['close']>[0]) => {
        if (closed) return;
        closed = true;
        const hint = options.program ? undefined : pythonHint(program, info, stderrTail);
        events.close({ ...info, stderrTail: stderrTail || undefined, ...(hint ? { hint } : {}) });
      };
      const proc = spawn(program, args, {
        cwd: options.cwd,
        env: options.env,
        // fd 3 in the sidecar is the write end of the raw channel's pipe; the sidecar only touches it when
        // initialize asks, and never lets its children inherit it.
        stdio: withRawChannel ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
      child = proc;
      if (!busy) holdHandles();
      const raw = withRawChannel ? (proc.stdio[RAW_CHANNEL_FD] as Readable | null | undefined) : undefined;
      if (raw) {
        // Always read it, opened or not: the child's 'close' waits for every pipe to end, and a sidecar
        // writing to an unread channel would block.
        raw.on('data', (chunk: Buffer) => {
          if (!rawClosed) rawEvents?.data(chunk);
        });
        raw.on('end', () => closeRaw());
        raw.on('error', (error) => closeRaw(error));
        // 'close' without 'end': the pipe was torn down before the sidecar closed its end. When the sidecar
        // never started (no pid), that is expected and the transport's own close says why.
        raw.on('close', () => closeRaw(proc.pid === undefined ? undefined : new Error('The raw channel closed before its end.')));
      } else if (withRawChannel) {
        closeRaw();
      }
      // Decoded by Node's own stream decoder (native, and never splitting a character): text lines cost the
      // connection a third of what splitting bytes and decoding each line with a TextDecoder did.
      proc.stdout!.setEncoding('utf8');
      proc.stdout!.on('data', (chunk: string) => {
        if (!closed) events.data(chunk);
      });
      const stderrSink = options.stderr ?? 'inherit';
      proc.stderr!.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
        if (stderrSink === 'inherit') process.stderr.write(chunk);
        else if (typeof stderrSink === 'function') stderrSink(chunk.toString('utf8'));
      });
      // EPIPE when the sidecar is gone: its exit is reported through 'close'.
      proc.stdin!.on('error', () => {});
      // 'error' without a process (ENOENT, EACCES): 'close' may never follow.
      proc.on('error', (error) => {
        if (proc.pid === undefined) close({ error });
      });
      // 'close' waits for the process's exit and the end of its stdio, so every line has been read.
      proc.on('close', (code, signal) => close({ code, signal }));
    },
    write(text) {
      if (child?.stdin?.writable) child.stdin.write(text);
    },
    end() {
      child?.stdin?.end();
    },
    destroy() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    setBusy(value) {
      if (value === busy) return;
      busy = value;
      holdHandles();
    },
  };
}

/** Where the Python sidecar comes from, for the error of a `python -m sidecar` that could not start. */
function installHint(install: string): string {
  return (
    `${install} (pip install process-sidecar; in a checkout of process-sidecar, pip install .), or pass ` +
    "{ python: '/path/to/a/python/that/has/it' } or { program: '/path/to/process-sidecar' } (the command that " +
    'pip installs, or the self-contained binary that python -m sidecar.bundle builds).'
  );
}

/** What to do when `<python> -m sidecar` failed in a way that says the sidecar is not there, else undefined. */
function pythonHint(python: string, info: TransportCloseInfo, stderrTail: string): string | undefined {
  const error = info.error as NodeJS.ErrnoException | undefined;
  if (error?.code === 'ENOENT') {
    return `There is no ${python} to run the sidecar with: ${installHint('install Python 3.11 or later and the sidecar into it')}`;
  }
  const missing = /No module named '?([\w.]+)'?/.exec(stderrTail);
  if (!missing) return undefined;
  const module = missing[1]!;
  if (module === 'sidecar') return `${python} has no module named sidecar (the Python half of process-sidecar): ${installHint('install it into that Python')}`;
  return `${python} lacks the module ${module}, which the sidecar needs: ${installHint('install the sidecar with its dependencies into that Python')}`;
}

export interface NodeLaunchOptions extends LaunchOptions, NodeTransportOptions {}

/** The core Sidecar, whose launch() starts `python3 -m sidecar` (or `options.program`) as a child process. */
export class Sidecar extends CoreSidecar {
  static override launch(options: NodeLaunchOptions = {}): Promise<Sidecar> {
    return super.launch({ ...options, transport: options.transport ?? createNodeTransport(options) }) as Promise<Sidecar>;
  }
}
