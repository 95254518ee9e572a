/**
 * The sidecar that `Command.create()` uses, so that code written against @tauri-apps/plugin-shell (which has
 * one implicit backend) works after a single start-up call. Sidecar.launch() sets it; dispose() clears it.
 */
import type { Sidecar } from './sidecar.js';

let current: Sidecar | null = null;

/** Makes `sidecar` the one that commands from `Command.create()` run on (null: none). */
export function setDefaultSidecar(sidecar: Sidecar | null): void {
  current = sidecar;
}

/** The sidecar that commands from `Command.create()` run on, or null if none was launched or set. */
export function getDefaultSidecar(): Sidecar | null {
  return current;
}
