/**
 * Splits the sidecar's stdout into protocol lines. Each message is one line of UTF-8 JSON ended by "\n".
 *
 * Bytes are split on the 0x0a byte before decoding (UTF-8 never uses 0x0a inside a multi-byte character), so a
 * chunk boundary in the middle of a character or a line costs nothing; the unfinished tail is kept as a list
 * of chunks and joined once, when its newline arrives, so a long line read in many pieces is not re-copied on
 * every piece. This is also why there is no readline here: it roughly halves throughput.
 */

import { TextLineSplitter } from './lines.js';

const NEWLINE = 0x0a;

export class LineSplitter {
  readonly #onLine: (line: string) => void;
  readonly #decoder = new TextDecoder('utf-8');
  #tail: Uint8Array[] = [];
  /** For a transport that delivers text (Tauri's line events): the same splitting as output lines. */
  readonly #text = new TextLineSplitter((line) => this.#emit(line.slice(0, -1)));

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  /** Feeds a chunk read from the stream; calls onLine for each line it completes, in order. */
  push(chunk: Uint8Array | string): void {
    if (typeof chunk === 'string') this.#text.push(chunk);
    else this.#pushBytes(chunk);
  }

  /** The stream ended: a last line without its newline is still a line. */
  end(): void {
    if (this.#tail.length) {
      const rest = this.#takeTail(new Uint8Array(0));
      if (rest.length) this.#emit(this.#decoder.decode(rest));
    }
    const rest = this.#text.takePending();
    if (rest) this.#emit(rest);
  }

  #pushBytes(chunk: Uint8Array): void {
    let start = 0;
    let newline = chunk.indexOf(NEWLINE);
    while (newline !== -1) {
      let line = chunk.subarray(start, newline);
      if (this.#tail.length) line = this.#takeTail(line);
      this.#emit(this.#decoder.decode(line));
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      // Copy: the transport may reuse its buffer once this call returns.
      this.#tail.push(chunk.slice(start));
    }
  }

  #takeTail(last: Uint8Array): Uint8Array {
    let length = last.length;
    for (const piece of this.#tail) length += piece.length;
    const joined = new Uint8Array(length);
    let offset = 0;
    for (const piece of this.#tail) {
      joined.set(piece, offset);
      offset += piece.length;
    }
    joined.set(last, offset);
    this.#tail = [];
    return joined;
  }

  #emit(line: string): void {
    // The protocol tolerates "\r\n"; JSON.parse would too, but blank-line detection should not.
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.length) this.#onLine(text);
  }
}
