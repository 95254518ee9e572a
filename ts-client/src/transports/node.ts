/**
 * The Node transport: runs the sidecar as a child process of this Node process (an Electron main or utility
 * process, a VS Code extension host, a CLI) and talks over its stdio. Entry point 'process-sidecar/node'; it
 * re-exports the whole core, with a Sidecar whose launch() uses this transport by default.
 */
import { spawn, type ChildProcess as NodeChildProcess } from 'node:child_process';
import { Sidecar as CoreSidecar, type LaunchOptions } from '../core/sidecar.js';
import type { Transport, TransportEvents } from '../core/transport.js';

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
}

const STDERR_TAIL_BYTES = 4096;

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

  return {
    get pid() {
      return child?.pid;
    },
    start(events: TransportEvents) {
      const close = (info: Parameters<TransportEvents['close']>[0]) => {
        if (closed) return;
        closed = true;
        events.close({ ...info, stderrTail: stderrTail || undefined });
      };
      const proc = spawn(program, args, {
        cwd: options.cwd,
        env: options.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
      child = proc;
      proc.stdout!.on('data', (chunk: Buffer) => {
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
  };
}

export interface NodeLaunchOptions extends LaunchOptions, NodeTransportOptions {}

/** The core Sidecar, whose launch() starts `python3 -m sidecar` (or `options.program`) as a child process. */
export class Sidecar extends CoreSidecar {
  static override launch(options: NodeLaunchOptions = {}): Promise<Sidecar> {
    return super.launch({ ...options, transport: options.transport ?? createNodeTransport(options) }) as Promise<Sidecar>;
  }
}
