/**
 * The Tauri transport, driven through @tauri-apps/plugin-shell exactly as in a webview. mockIPC stands in for
 * the Rust side of the shell plugin only: its spawn / stdin_write / kill commands are carried out on a real
 * sidecar process (and the sidecar's children are real), and its events go back through the plugin's Channel
 * as the plugin would send them, with raw output as JSON arrays of bytes. The bridge cuts every chunk into
 * pieces of a few bytes, so lines and UTF-8 characters are reassembled by the transport, not by luck.
 */
import './tauri-window.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess as NodeChild } from 'node:child_process';
import { constants } from 'node:os';
import { after, before, test } from 'node:test';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { Command as ShellCommand } from '@tauri-apps/plugin-shell';
import {
  ClientErrorCode,
  Command,
  DEFAULT_TAURI_SIDECAR,
  Sidecar,
  TAURI_SIDECARS_KEY,
  getDefaultSidecar,
  isSidecarError,
  type TerminatedPayload,
} from '../src/transports/tauri.js';
import { eventually, nextEvent, processExists, python, repoRoot, sleep } from './helpers.js';

interface SpawnArgs {
  program: string;
  args: string[];
  options: { sidecar?: boolean; encoding?: string; cwd?: string; env?: Record<string, string> };
  onEvent: { id: number };
}

const calls: Array<{ cmd: string; args: any }> = [];
const processes = new Map<number, NodeChild>();
/** The pids of the sidecars the bridge started, in order. */
const sidecarPids: number[] = [];
const exits = new Map<number, Promise<{ code: number | null; signal: string | null }>>();

type Internals = { runCallback(id: number, data: unknown): void };
const internals = () => (globalThis as unknown as { __TAURI_INTERNALS__: Internals }).__TAURI_INTERNALS__;

function shellSpawn({ program, args, options, onEvent }: SpawnArgs): Promise<number> {
  // Tauri resolves a sidecar name to the bundled binary; here the bundled binary is `python -m sidecar`.
  const [file, argv] = options.sidecar ? [python, ['-m', 'sidecar', ...args]] : [program, args];
  const proc = spawn(file, argv, { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, stdio: 'pipe' });
  let index = 0;
  // What tauri::ipc::Channel delivers to the Channel's callback: an index (for ordering) and the message.
  const send = (message: unknown) => internals().runCallback(onEvent.id, { index: index++, message });
  const sendBytes = (event: 'Stdout' | 'Stderr', chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i += 3) send({ event, payload: Array.from(chunk.subarray(i, i + 3)) });
  };
  proc.stdout.on('data', (chunk: Buffer) => sendBytes('Stdout', chunk));
  proc.stderr.on('data', (chunk: Buffer) => sendBytes('Stderr', chunk));
  exits.set(
    proc.pid!,
    new Promise((resolve) =>
      proc.on('close', (code, signal) => {
        send({ event: 'Terminated', payload: { code, signal: signal ? constants.signals[signal] : null } });
        resolve({ code, signal });
      }),
    ),
  );
  return new Promise((resolve, reject) => {
    proc.once('spawn', () => {
      processes.set(proc.pid!, proc);
      if (options.sidecar) sidecarPids.push(proc.pid!);
      resolve(proc.pid!);
    });
    proc.once('error', reject);
  });
}

before(() => {
  mockIPC((cmd, payload) => {
    const args = payload as any;
    calls.push({ cmd, args });
    switch (cmd) {
      case 'plugin:shell|spawn':
        return shellSpawn(args as SpawnArgs);
      case 'plugin:shell|stdin_write': {
        const proc = processes.get(args.pid);
        if (!proc) throw new Error(`no child ${args.pid}`);
        proc.stdin!.write(typeof args.buffer === 'string' ? args.buffer : Buffer.from(args.buffer));
        return null;
      }
      case 'plugin:shell|kill':
        processes.get(args.pid)?.kill('SIGKILL');
        return null;
      default:
        throw new Error(`unexpected IPC command ${cmd}`);
    }
  });
});

after(() => {
  clearMocks();
  for (const proc of processes.values()) proc.kill('SIGKILL');
});

test('Sidecar.launch() from process-sidecar/tauri starts the bundled sidecar with raw output, and Command.create uses it', { timeout: 30000 }, async () => {
  const sidecar = await Sidecar.launch({ args: ['--log-level', 'error'] });
  try {
    const spawnCall = calls.find((c) => c.cmd === 'plugin:shell|spawn')!;
    assert.equal(spawnCall.args.program, DEFAULT_TAURI_SIDECAR);
    assert.equal(spawnCall.args.options.sidecar, true);
    assert.equal(spawnCall.args.options.encoding, 'raw');
    assert.equal(getDefaultSidecar(), sidecar);
    assert.equal(sidecar.info?.serverInfo.name, 'process-sidecar');

    // The Tauri-shaped code path: Command.create, listeners, spawn, close.
    const command = Command.create('printf', ['%s\\n%s\\n', 'ünïcödé 😀', 'two']);
    const lines: string[] = [];
    command.stdout.on('data', (line) => lines.push(line));
    const closed = nextEvent(command, 'close');
    await command.spawn();
    assert.deepEqual(await closed, { code: 0, signal: null } satisfies TerminatedPayload);
    assert.deepEqual(lines, ['ünïcödé 😀\n', 'two\n']);

    const result = await Command.create('sh', ['-c', 'printf out; printf err >&2; exit 4']).execute();
    assert.deepEqual(result, { code: 4, signal: null, stdout: 'out', stderr: 'err' });
  } finally {
    await sidecar.dispose();
  }
});

test('write and closeStdin through stdin_write; raw bytes; dispose ends the sidecar process cleanly', { timeout: 30000 }, async () => {
  const before = calls.length;
  const sidecar = await Sidecar.launch({ setDefault: false, stderr: 'ignore' });
  const sidecarPid = sidecarPids.at(-1)!;
  const writes = () => calls.slice(before).filter((c) => c.cmd === 'plugin:shell|stdin_write');

  const command = sidecar.command('cat', [], { encoding: 'raw' });
  const chunks: Uint8Array[] = [];
  command.stdout.on('data', (chunk) => chunks.push(chunk));
  const child = await command.spawn();
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  await child.write(bytes);
  await child.write('tail\n');
  await child.closeStdin();
  assert.deepEqual(await child.wait(), { code: 0, signal: null });
  const all = Buffer.concat(chunks);
  assert.ok(all.equals(Buffer.concat([Buffer.from(bytes), Buffer.from('tail\n')])));
  assert.ok(writes().length > 0 && writes().every((c) => typeof c.args.buffer === 'string'));

  await sidecar.dispose();
  // The shell plugin cannot close stdin; dispose's shutdown request made the sidecar exit by itself.
  const exit = await exits.get(sidecarPid)!;
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(calls.slice(before).some((c) => c.cmd === 'plugin:shell|kill'), false, 'no kill was needed');
});

test('the sidecar dying is reported to pending calls', { timeout: 30000 }, async () => {
  const sidecar = await Sidecar.launch({ setDefault: false, stderr: 'ignore' });
  const pid = sidecarPids.at(-1)!;
  // Short: a SIGKILLed sidecar cannot stop its children, so this one must end by itself.
  const pending = sidecar.command('sleep', ['2']).execute();
  await sleep(200);
  processes.get(pid)!.kill('SIGKILL');
  await assert.rejects(pending, (error: unknown) => isSidecarError(error) && error.code === ClientErrorCode.ConnectionClosed);
  assert.equal(sidecar.state, 'closed');
});

test('a reload: the next launch kills the sidecar an earlier load of the page left running, and its children end', { timeout: 30000 }, async () => {
  // The earlier load of the page: a sidecar started through the shell plugin, with a child, and its pid in
  // sessionStorage, as the transport leaves them. Its JavaScript is gone; the plugin's child is not.
  const old = ShellCommand.sidecar(DEFAULT_TAURI_SIDECAR, ['--log-level', 'error'], { encoding: 'raw' });
  let answer = '';
  old.stdout.on('data', (chunk) => void (answer += Buffer.from(chunk as ArrayLike<number>).toString())); // number[] from the bridge
  const oldChild = await old.spawn();
  sessionStorage.setItem(TAURI_SIDECARS_KEY, JSON.stringify([oldChild.pid]));
  await oldChild.write('{"jsonrpc":"2.0","id":1,"method":"spawn","params":{"program":"sleep","args":["1000"]}}\n');
  assert.ok(await eventually(() => answer.includes('"pid"'), 10000), answer);
  const sleeper: number = JSON.parse(answer.split('\n')[0]!).result.pid;
  assert.ok(processExists(sleeper));

  // The new load of the page launches its sidecar as usual.
  const before = calls.length;
  const sidecar = await Sidecar.launch({ setDefault: false, stderr: 'ignore' });
  try {
    const mine = calls.slice(before).map((c) => `${c.cmd} ${c.args.pid ?? ''}`.trim());
    assert.deepEqual(mine.slice(0, 2), [`plugin:shell|kill ${oldChild.pid}`, 'plugin:shell|spawn'], 'the stale one is killed first');
    assert.ok((await exits.get(oldChild.pid)!).signal === 'SIGKILL');
    // A killed sidecar's guardian stops its children (the bundled binary's does it at once).
    assert.ok(await eventually(() => !processExists(sleeper), 5000), `the old sidecar's child ${sleeper} is gone`);
    assert.deepEqual(JSON.parse(sessionStorage.getItem(TAURI_SIDECARS_KEY)!), [sidecarPids.at(-1)]);
    assert.equal((await sidecar.command('sh', ['-c', 'echo works']).execute()).stdout, 'works\n');
  } finally {
    await sidecar.dispose();
  }
  assert.equal(sessionStorage.getItem(TAURI_SIDECARS_KEY), null, 'a disposed sidecar is forgotten');

  // A sidecar of this very load is never taken for a stale one.
  const first = await Sidecar.launch({ setDefault: false, stderr: 'ignore' });
  const second = await Sidecar.launch({ setDefault: false, stderr: 'ignore' });
  try {
    assert.equal(first.state, 'open');
    assert.equal((await first.command('sh', ['-c', 'echo still']).execute()).stdout, 'still\n');
    assert.equal(JSON.parse(sessionStorage.getItem(TAURI_SIDECARS_KEY)!).length, 2);
  } finally {
    await Promise.all([first.dispose(), second.dispose()]);
  }
});
