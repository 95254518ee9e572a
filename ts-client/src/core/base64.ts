/**
 * Base64 <-> bytes, the wire form of raw output and of byte writes. Uses Node's Buffer when the host has one
 * (several times faster on large chunks) without importing it, so browser bundles stay free of Node modules,
 * then Uint8Array.fromBase64 where the engine has it, and falls back to atob/btoa elsewhere. Results are plain
 * Uint8Arrays over their own memory in every case.
 */

interface BufferLike {
  write(text: string, offset: number, length: number, encoding: 'base64'): number;
  toString(encoding?: string): string;
}
interface BufferStatic {
  from(buffer: ArrayBufferLike, byteOffset?: number, length?: number): BufferLike;
}

const NodeBuffer = (globalThis as { Buffer?: BufferStatic }).Buffer;
/** Uint8Array.fromBase64 (ES2026), where the engine has it (JavaScriptCore, so Tauri's webview on Linux and macOS). */
const fromBase64 = (Uint8Array as unknown as { fromBase64?: (text: string) => Uint8Array }).fromBase64?.bind(Uint8Array);

export function decodeBase64(text: string): Uint8Array {
  if (NodeBuffer) {
    // Decode straight into memory we own, rather than into Buffer's shared pool.
    const out = new Uint8Array(Math.floor((text.length * 3) / 4));
    const written = NodeBuffer.from(out.buffer).write(text, 0, out.length, 'base64');
    return out.subarray(0, written);
  }
  // One native pass, with no binary string in between.
  if (fromBase64) return fromBase64(text);
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function encodeBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  // Chunks keep String.fromCharCode's argument list well below engine limits.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Accepts what Tauri's Child.write accepts for bytes (number[]) and the usual binary views. */
export function toBytes(data: Uint8Array | ArrayBuffer | ArrayBufferView | readonly number[]): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return Uint8Array.from(data);
}
