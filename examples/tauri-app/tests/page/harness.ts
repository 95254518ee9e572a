// What the test page and the benchmark's page share: the line protocol to the harness through the app's
// e2e_report command (each message becomes a line on the app's stdout; `ask` also waits for the harness's
// one-line JSON reply), a log on the page, and the failure a check raises.
import { invoke } from '@tauri-apps/api/core';

export type Json = Record<string, unknown>;

export const tell = (message: Json) => invoke('e2e_report', { message, wait: false });

export async function ask(message: Json): Promise<Json> {
  return JSON.parse((await invoke<string>('e2e_report', { message, wait: true })) ?? 'null');
}

export const log = (text: string) => (document.getElementById('log')!.textContent += `${text}\n`);

/** A check of the page's own that did not hold (as opposed to an error of the code under test). */
export class Failure extends Error {}

export function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Failure(what);
}
