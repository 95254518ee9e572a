/**
 * Turns a stream of text chunks into Tauri-style line events: one event per line, with its terminator
 * ("\n", or "\r\n") kept.
 *
 * Unlike a plain line reader it never sits on text forever (the trap of Tauri plugins-workspace #1632): text
 * without a newline, such as a prompt ("Password: "), is emitted once the stream has been idle for
 * `idleFlushMs`, and whatever is left when the stream ends is emitted then. A pathologically long line is
 * emitted in pieces of at most MAX_PENDING characters rather than held in memory whole.
 */

const MAX_PENDING = 1 << 20;

export interface LineBufferOptions {
  /** How long a partial line may wait for its newline, in ms. null: until the stream ends. 0: not at all. */
  idleFlushMs: number | null;
}

export class LineBuffer {
  readonly #emit: (line: string) => void;
  readonly #idleFlushMs: number | null;
  #pending = '';
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(emit: (line: string) => void, options: LineBufferOptions) {
    this.#emit = emit;
    this.#idleFlushMs = options.idleFlushMs;
  }

  push(text: string): void {
    if (!text) return;
    this.#clearTimer();
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      let line = text.slice(start, newline + 1);
      if (this.#pending) {
        line = this.#pending + line;
        this.#pending = '';
      }
      this.#emit(line);
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) this.#pending += text.slice(start);
    if (!this.#pending) return;
    if (this.#pending.length >= MAX_PENDING || this.#idleFlushMs === 0) this.flush();
    else if (this.#idleFlushMs !== null) this.#timer = setTimeout(() => this.flush(), this.#idleFlushMs);
  }

  /** Emits the partial line now, if there is one. */
  flush(): void {
    this.#clearTimer();
    if (!this.#pending) return;
    const text = this.#pending;
    this.#pending = '';
    this.#emit(text);
  }

  /** Drops the idle timer without emitting (the run is over and its last text was flushed). */
  dispose(): void {
    this.#clearTimer();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
