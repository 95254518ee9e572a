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

/** Runs one step the harness asked for, and gives the `result` message for it (`fields` say which step): its
 * detail, or the error's name, message and stack. */
export async function outcome(fields: Json, step: () => Promise<Json>): Promise<Json> {
  try {
    return { type: 'result', ...fields, ok: true, detail: await step() };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { type: 'result', ...fields, ok: false, error: message, stack: error instanceof Error ? error.stack : undefined };
  }
}
