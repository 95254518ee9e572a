/**
 * Maps the `encoding` option (Tauri's name) to what travels on the wire and how the client turns it back
 * into events:
 *
 * - utf-8 (the default, any spelling of it): wire "utf-8". The sidecar never splits a character across
 *   chunks and replaces invalid bytes with U+FFFD, so chunks are usable text as they come.
 * - 'raw': wire "base64", emitted as Uint8Array chunks, byte-exact.
 * - any other TextDecoder label ('utf-16le', 'shift_jis', 'windows-1252', ...): wire "base64", decoded here by
 *   one streaming TextDecoder per stream, so a character split across chunks is never broken.
 *
 * For spawn() on a sidecar whose raw channel is open, every one of them is wire "raw" instead: the bytes come
 * as binary frames on that channel, and text is decoded here (see withRawChannel).
 */
import { invalidOptionError } from './errors.js';

export type WireEncoding = 'utf-8' | 'base64' | 'raw';

export type OutputMode =
  /** Text that arrives as text. */
  | { readonly kind: 'text'; readonly wire: 'utf-8' }
  /** Text that arrives as bytes (base64, or frames on the raw channel) and is decoded here with `label`. */
  | { readonly kind: 'decoded'; readonly wire: 'base64' | 'raw'; readonly label: string }
  /** Bytes, as base64 in notifications or as frames on the raw channel. */
  | { readonly kind: 'raw'; readonly wire: 'base64' | 'raw' };

export const RAW = 'raw';

/**
 * @param bytesIn whether the request also carries bytes the other way (execute's `input` as bytes): then the
 *   wire must be base64 even for utf-8 text, since one encoding covers both directions.
 */
export function resolveEncoding(encoding: string | undefined, bytesIn = false): OutputMode {
  if (encoding === undefined || encoding === null) {
    return bytesIn ? { kind: 'decoded', wire: 'base64', label: 'utf-8' } : { kind: 'text', wire: 'utf-8' };
  }
  if (encoding === RAW) return { kind: 'raw', wire: 'base64' };
  let canonical: string;
  try {
    canonical = new TextDecoder(encoding).encoding;
  } catch (cause) {
    throw invalidOptionError(
      'options.encoding',
      "'raw' or a TextDecoder label",
      encoding,
      `Unknown encoding ${JSON.stringify(encoding)}: use 'raw' or a TextDecoder label such as 'utf-8'.`,
      cause,
    );
  }
  if (canonical === 'utf-8' && !bytesIn) return { kind: 'text', wire: 'utf-8' };
  return { kind: 'decoded', wire: 'base64', label: canonical };
}

/**
 * The mode a spawn uses on a host whose raw channel is open or not. Where it is open, every output goes over
 * it as bytes, text too: text is decoded here by a streaming decoder per stream (for utf-8 the channel's own
 * where it offers one, else TextDecoder; the same U+FFFD for invalid bytes as the sidecar's own decoding), so
 * neither side escapes it into JSON or parses it back. Where it is not, bytes go as base64 and utf-8 as the sidecar's text. execute() never calls this: its
 * result is JSON.
 */
export function withRawChannel(mode: OutputMode, rawChannelOpen: boolean): OutputMode {
  if (!rawChannelOpen) return mode;
  switch (mode.kind) {
    case 'raw':
      return { kind: 'raw', wire: 'raw' };
    case 'text':
      return { kind: 'decoded', wire: 'raw', label: 'utf-8' };
    case 'decoded':
      return { ...mode, wire: 'raw' };
  }
}

/** What the client needs of a decoder: TextDecoder's decode(), streaming (`stream: true`) until the last call. */
export interface StreamTextDecoder {
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}

/**
 * A decoder for a whole stream of `mode`'s kind. For utf-8 the BOM is kept, as the sidecar's own utf-8
 * decoding keeps it; other labels follow TextDecoder's defaults.
 */
export function createTextDecoder(label: string): TextDecoder {
  return new TextDecoder(label, { ignoreBOM: label === 'utf-8' });
}
