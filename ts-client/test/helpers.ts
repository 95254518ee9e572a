/**
 * Shared test setup: where the repository and its Python are, how to launch a real sidecar, and small
 * helpers for children that are real programs (node scripts run with this very node binary, sh, cat).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sidecar, createNodeTransport, type NodeLaunchOptions, type Command, type IOPayload, type EventEmitter } from '../src/transports/node.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The ts-client package. */
export const clientDir = path.resolve(here, '..');
/** The repository root: `python -m sidecar` runs from here. */
export const repoRoot = path.resolve(clientDir, '..');

/** SIDECAR_PYTHON, else the repository's .venv, else python3 on PATH. */
export const python: string =
  process.env.SIDECAR_PYTHON ||
  (existsSync(path.join(repoRoot, '.venv', 'bin', 'python')) ? path.join(repoRoot, '.venv', 'bin', 'python') : 'python3');

/**
 * The sidecar's arguments in tests: --no-scope runs anything, as the default does, without the warning that
 * says so on every start (tests that care about scope pass their own).
 */
export const TEST_ARGS = ['--no-scope'];

/** Launches a real sidecar for a test file (not made the default unless asked). */
export function launchSidecar(options: NodeLaunchOptions = {}): Promise<Sidecar> {
  return Sidecar.launch({ python, cwd: repoRoot, setDefault: false, args: TEST_ARGS, ...options });
}

/** A node transport for the test sidecar, for tests that need to see its process. */
export function testTransport() {
  return createNodeTransport({ python, cwd: repoRoot, args: TEST_ARGS });
}

/** [program, args] running `code` as a node script. */
export function nodeScript(code: string): [string, string[]] {
  return [process.execPath, ['-e', code]];
}

/** Collects every stdout/stderr event of a command, in order. */
export function collect<O extends IOPayload>(command: Command<O>): { stdout: O[]; stderr: O[] } {
  const out = { stdout: [] as O[], stderr: [] as O[] };
  command.stdout.on('data', (chunk) => out.stdout.push(chunk));
  command.stderr.on('data', (chunk) => out.stderr.push(chunk));
  return out;
}

/** Resolves with the first event `name` of `emitter` that satisfies `predicate`. */
export function nextEvent<E extends Record<string, any>, N extends keyof E>(
  emitter: EventEmitter<E>,
  name: N,
  predicate: (arg: E[N]) => boolean = () => true,
): Promise<E[N]> {
  return new Promise((resolve) => {
    const listener = (arg: E[N]) => {
      if (!predicate(arg)) return;
      emitter.off(name, listener);
      resolve(arg);
    };
    emitter.on(name, listener);
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether a process with this pid exists (and is not a zombie we could still signal). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls until `condition` holds or `ms` pass; returns whether it held. */
export async function eventually(condition: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(20);
  }
  return condition();
}

export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
