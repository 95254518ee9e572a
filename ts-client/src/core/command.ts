/**
 * Command: what to run and how, plus the events of its children. Same shape as @tauri-apps/plugin-shell's
 * Command (create, spawn, execute, 'close'/'error', stdout/stderr 'data'), run by a sidecar instead of the
 * Tauri backend.
 */
import { Child } from './child.js';
import { getDefaultSidecar } from './default-sidecar.js';
import { EventEmitter } from './emitter.js';
import { resolveEncoding, withRawChannel } from './encoding.js';
import { SidecarError, abortedError, notConnectedError } from './errors.js';
import { executeParams, inputIsBytes, spawnParams, type CommandOptions, type ProgramSpec } from './options.js';
import { decodeWhole } from './output.js';
import type { ProcessHost } from './process-host.js';
import { ProcessRun, type TerminatedPayload } from './process-run.js';

/** What an output event carries: a line of text, or a chunk of bytes with encoding 'raw'. */
export type IOPayload = string | Uint8Array;

/** The result of execute(). */
export interface ChildProcess<O extends IOPayload = string> {
  /** Exit code, or null if a signal ended the child. */
  code: number | null;
  /** Number of the signal that ended the child, or null. */
  signal: number | null;
  stdout: O;
  stderr: O;
}

export interface CommandEvents {
  /** A child of this command has exited and all of its output has been emitted. */
  close: TerminatedPayload;
  /** The connection to the sidecar was lost while a child ran ('close' follows, with code and signal null). */
  error: SidecarError;
}

export interface OutputEvents<O extends IOPayload> {
  /** A line (terminator included) or, with encoding 'raw', a chunk of bytes. */
  data: O;
}

/** Default for CommandOptions.idleFlushMs. */
export const DEFAULT_IDLE_FLUSH_MS = 50;

/** The stdout or stderr emitter of a Command; tells the Command when someone starts listening. */
class OutputEmitter<O extends IOPayload> extends EventEmitter<OutputEvents<O>> {
  readonly #onListen: () => void;
  constructor(onListen: () => void) {
    super();
    this.#onListen = onListen;
  }
  protected override listenerAdded(): void {
    this.#onListen();
  }
}

export class Command<O extends IOPayload = string> extends EventEmitter<CommandEvents> {
  /** Emits 'data' for the stdout of this command's children. */
  readonly stdout: EventEmitter<OutputEvents<O>>;
  /** Emits 'data' for the stderr of this command's children. */
  readonly stderr: EventEmitter<OutputEvents<O>>;
  readonly program: string;
  readonly args: readonly string[];
  readonly options: Readonly<CommandOptions>;
  readonly #host: ProcessHost | undefined;
  #besideSidecar = false;
  /** Children whose events are still to be delivered. */
  readonly #runs = new Set<ProcessRun>();

  /**
   * A command for `program` (a name looked up on the child's PATH, or a path) with `args` (one string is one
   * argument), run on the default sidecar. Nothing starts until spawn() or execute().
   */
  static create(program: string, args: string | readonly string[] | undefined, options: CommandOptions & { encoding: 'raw' }): Command<Uint8Array>;
  static create(program: string, args?: string | readonly string[], options?: CommandOptions): Command<string>;
  static create(program: string, args?: string | readonly string[], options?: CommandOptions): Command<any> {
    return new Command(program, args, options);
  }

  /**
   * A command for a binary shipped beside the sidecar, as `Command.sidecar` of @tauri-apps/plugin-shell runs
   * one listed in `bundle > externalBin`: Tauri installs those files next to the app's executable, where the
   * bundled sidecar is too. `program` is the name as listed there ('binaries/ffmpeg'); its last part is looked
   * up in the directory of the sidecar's executable (`sidecar.info.serverInfo.executableDir`), so
   * 'binaries/ffmpeg' runs `<that directory>/ffmpeg`. With a sidecar run as `python -m sidecar`, that is
   * the directory of its Python. Run on the default sidecar; a sidecar started with a scope must allow the
   * resulting path.
   */
  static sidecar(program: string, args: string | readonly string[] | undefined, options: CommandOptions & { encoding: 'raw' }): Command<Uint8Array>;
  static sidecar(program: string, args?: string | readonly string[], options?: CommandOptions): Command<string>;
  static sidecar(program: string, args?: string | readonly string[], options?: CommandOptions): Command<any> {
    const command = new Command(program, args, options);
    command.#besideSidecar = true;
    return command;
  }

  /** Whether this command was made by Command.sidecar(): `program` names a binary in the sidecar's directory. */
  get besideSidecar(): boolean {
    return this.#besideSidecar;
  }

  /**
   * Prefer Command.create() (default sidecar) or sidecar.command() (that sidecar).
   * @param host the sidecar to run on; when absent, the default sidecar at the time of spawn()/execute().
   */
  constructor(program: string, args: string | readonly string[] = [], options: CommandOptions = {}, host?: ProcessHost) {
    super();
    this.program = program;
    this.args = Object.freeze(typeof args === 'string' ? [args] : [...args]);
    this.options = Object.freeze({ ...options });
    this.#host = host;
    const observe = () => this.#observeRuns();
    this.stdout = new OutputEmitter<O>(observe);
    this.stderr = new OutputEmitter<O>(observe);
  }

  /**
   * Starts the program and resolves with its Child as soon as it runs. Output is emitted on
   * `stdout`/`stderr`, then 'close'. Listeners may be attached before spawn() or right after it resolves:
   * none of the child's events is emitted before there is a listener.
   */
  async spawn(): Promise<Child<O>> {
    const host = this.#resolveHost();
    const { options } = this;
    const mode = withRawChannel(resolveEncoding(options.encoding), host.rawChannel);
    if (options.signal?.aborted) throw abortedError(options.signal, 'spawn');
    const run = new ProcessRun(
      {
        emitStdout: (chunk) => this.stdout.emit('data', chunk as O),
        emitStderr: (chunk) => this.stderr.emit('data', chunk as O),
        emitClose: (payload) => this.emit('close', payload),
        emitError: (error) => this.emit('error', error),
        hasListeners: () => this.#hasListeners(),
      },
      mode,
      // A terminal's output is a stream of characters and escape sequences, not lines: nothing waits.
      options.idleFlushMs === undefined ? (options.pty ? 0 : DEFAULT_IDLE_FLUSH_MS) : options.idleFlushMs,
      host.createUtf8Decoder,
    );
    const pid = await host.spawnProcess(spawnParams(this.#spec(host), options, mode), run);
    const child = new Child<O>(host, pid, this, run);
    run.child = child;
    this.#runs.add(run);
    run.onFinished(() => this.#runs.delete(run));
    this.#stopOnAbortOrTimeout(child, run);
    run.release();
    return child;
  }

  /**
   * Runs the program to its end and resolves with its exit status and all of its output. A non-zero exit is
   * a result, not an error. Emits no events.
   */
  async execute(): Promise<ChildProcess<O>> {
    const host = this.#resolveHost();
    const { options } = this;
    const mode = resolveEncoding(options.encoding, inputIsBytes(options));
    if (options.signal?.aborted) throw abortedError(options.signal, 'execute');
    const result = await host.request('execute', executeParams(this.#spec(host), options, mode), { signal: options.signal });
    return {
      code: result.code,
      signal: result.signal,
      stdout: decodeWhole(mode, result.stdout) as O,
      stderr: decodeWhole(mode, result.stderr) as O,
    };
  }

  protected override listenerAdded(): void {
    this.#observeRuns();
  }

  #resolveHost(): ProcessHost {
    const host = this.#host ?? getDefaultSidecar();
    if (!host) {
      throw notConnectedError(
        `No sidecar to run ${this.program}: call Sidecar.launch() (or setDefaultSidecar()) first, or use sidecar.command().`,
      );
    }
    return host;
  }

  /** What runs: for Command.sidecar(), the program resolved in the sidecar's directory. */
  #spec(host: ProcessHost): ProgramSpec {
    return { program: this.#besideSidecar ? host.programBesideSidecar(this.program) : this.program, args: this.args };
  }

  #hasListeners(): boolean {
    return this.eventNames().length > 0 || this.stdout.eventNames().length > 0 || this.stderr.eventNames().length > 0;
  }

  #observeRuns(): void {
    for (const run of this.#runs) run.observe();
  }

  /** The `signal` and `timeout` options of a spawned child both end in kill(), which stops the whole tree. */
  #stopOnAbortOrTimeout(child: Child<O>, run: ProcessRun): void {
    const { signal, timeout, forceAfterMs } = this.options;
    const stop = () => {
      child.kill(forceAfterMs === undefined ? undefined : { forceAfterMs }).catch(() => {
        // The child may be gone already, or the sidecar with it; either way there is nothing left to stop.
      });
    };
    if (signal) {
      if (signal.aborted) stop();
      else {
        signal.addEventListener('abort', stop, { once: true });
        run.onFinished(() => signal.removeEventListener('abort', stop));
      }
    }
    if (timeout !== undefined) {
      const timer = setTimeout(stop, timeout);
      run.onFinished(() => clearTimeout(timer));
    }
  }
}
