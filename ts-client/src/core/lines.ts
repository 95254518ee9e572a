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

/** Splits text into lines, each emitted with its "\n" (a "\r\n" stays whole); the unfinished tail waits. */
export class TextLineSplitter {
  readonly #onLine: (line: string) => void;
  #pending = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  /** The text after the last newline so far. */
  get pending(): string {
    return this.#pending;
  }

  push(text: string): void {
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      let line = text.slice(start, newline + 1);
      if (this.#pending) {
        line = this.#pending + line;
        this.#pending = '';
      }
      this.#onLine(line);
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) this.#pending += text.slice(start);
  }

  /** Returns the unfinished tail and forgets it. */
  takePending(): string {
    const text = this.#pending;
    this.#pending = '';
    return text;
  }
}

export class LineBuffer {
  readonly #emit: (line: string) => void;
  readonly #idleFlushMs: number | null;
  readonly #lines: TextLineSplitter;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(emit: (line: string) => void, options: LineBufferOptions) {
    this.#emit = emit;
    this.#idleFlushMs = options.idleFlushMs;
    this.#lines = new TextLineSplitter(emit);
  }

  push(text: string): void {
    if (!text) return;
    this.#clearTimer();
    this.#lines.push(text);
    const pending = this.#lines.pending.length;
    if (!pending) return;
    if (pending >= MAX_PENDING || this.#idleFlushMs === 0) this.flush();
    else if (this.#idleFlushMs !== null) this.#timer = setTimeout(() => this.flush(), this.#idleFlushMs);
  }

  /** Emits the partial line now, if there is one. */
  flush(): void {
    this.#clearTimer();
    const text = this.#lines.takePending();
    if (text) this.#emit(text);
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
