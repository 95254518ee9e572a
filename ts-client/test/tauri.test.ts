/**
 * The Tauri transport, driven through @tauri-apps/plugin-shell exactly as in a webview. mockIPC stands in for
 * the Rust side of the shell plugin only: its spawn / stdin_write / kill commands are carried out on a real
 * sidecar process (and the sidecar's children are real), and its events go back through the plugin's Channel
 * as the plugin (2.x, plugins/shell/src/process/mod.rs) would send them: in text mode (no encoding, what the
 * transport asks for) one message per line, read through an 8 KiB buffer and cut at "\n", or at "\r" when the
 * buffer holds no "\n", each decoded as UTF-8 (a line that is not UTF-8 becomes an Error event and is lost); in
 * raw mode JSON arrays of bytes, which the bridge cuts into pieces of a few bytes, so that lines and UTF-8
 * characters are reassembled by the transport, not by luck. `bridge.hold` stands for a page that does not get
 * to its messages: they wait in the bridge, as in the app's IPC queue, until released.
 */
import './tauri-window.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess as NodeChild } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:os';
import { after, before, test } from 'node:test';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { Command as ShellCommand } from '@tauri-apps/plugin-shell';
import {
  ClientErrorCode,
  Command,
  DEFAULT_TAURI_NOTIFICATION_BYTES,
  DEFAULT_TAURI_SIDECAR,
  DEFAULT_TAURI_WINDOW_BYTES,
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
/** How many of the next stdin_write calls fail, as an IPC call can. */
let failWrites = 0;
/** While set, a stdin_write that carries more than acknowledgements waits for it, as a slow IPC call would. */
let holdRequestWrites: Promise<void> | undefined;
const processes = new Map<number, NodeChild>();
/** The pids of the sidecars the bridge started, in order. */
const sidecarPids: number[] = [];
const exits = new Map<number, Promise<{ code: number | null; signal: string | null }>>();

type Internals = { runCallback(id: number, data: unknown): void };
const internals = () => (globalThis as unknown as { __TAURI_INTERNALS__: Internals }).__TAURI_INTERNALS__;

/** The messages of the sidecars' channels: delivered at once, or held (a page busy elsewhere) until released. */
const bridge = {
  hold: false,
  held: [] as Array<() => void>,
  /** What the bridge has read from each sidecar's stdout and not yet delivered, in bytes. */
  heldBytes: 0,
  release() {
    this.hold = false;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const deliver of held) deliver();
  },
};

/** The sidecars' short stdout lines so far, as sent. */
const shortLines: string[] = [];
/** The sidecars' stdout messages so far: the type and length of each payload. */
const stdoutMessages: Array<{ type: string; length: number; newlines: number; endsLine: boolean }> = [];

const BUF_CAPACITY = 8192; // std::io::BufReader's default, which plugin-shell's reader thread uses

/** tauri::utils::io::read_line over a BufReader: "\n" ends a line; with none in the buffer, "\r" does. */
class TextModeReader {
  #buffer: Buffer = Buffer.alloc(0);
  #line: Buffer[] = [];
  constructor(readonly emit: (line: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    while (this.#buffer.length) {
      const available = this.#buffer.subarray(0, BUF_CAPACITY);
      let end = available.indexOf(0x0a);
      if (end === -1) end = available.indexOf(0x0d);
      if (end === -1) {
        this.#line.push(available);
        this.#buffer = this.#buffer.subarray(available.length);
        continue;
      }
      this.#line.push(available.subarray(0, end + 1));
      this.#buffer = this.#buffer.subarray(end + 1);
      this.emit(Buffer.concat(this.#line));
      this.#line = [];
    }
  }

  end(): void {
    if (this.#line.length) this.emit(Buffer.concat(this.#line));
    this.#line = [];
  }
}

function shellSpawn({ program, args, options, onEvent }: SpawnArgs): Promise<number> {
  // Tauri resolves a sidecar name to the bundled binary; here the bundled binary is `python -m sidecar`.
  const [file, argv] = options.sidecar ? [python, ['-m', 'sidecar', ...args]] : [program, args];
  const proc = spawn(file, argv, { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, stdio: 'pipe' });
  let index = 0;
  // What tauri::ipc::Channel delivers to the Channel's callback: an index (for ordering) and the message.
  const post = (message: unknown) => internals().runCallback(onEvent.id, { index: index++, message });
  const send = (message: { event: string; payload: unknown }, bytes = 0) => {
    if (options.sidecar && message.event === 'Stdout') {
      const text = typeof message.payload === 'string' ? message.payload : '';
      stdoutMessages.push({ type: typeof message.payload, length: text.length, newlines: text.split('\n').length - 1, endsLine: text.endsWith('\n') });
      if (text.length < 1000) shortLines.push(text);
    }
    if (bridge.hold || bridge.held.length) {
      bridge.held.push(() => post(message));
      bridge.heldBytes += bytes;
      // Held messages go first: order is kept.
      if (!bridge.hold) bridge.release();
    } else post(message);
  };
  const raw = options.encoding === 'raw';
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const reader = (event: 'Stdout' | 'Stderr') => {
    if (raw) {
      return {
        push: (chunk: Buffer) => {
          for (let i = 0; i < chunk.length; i += 3) send({ event, payload: Array.from(chunk.subarray(i, i + 3)) }, Math.min(3, chunk.length - i));
        },
        end: () => {},
      };
    }
    return new TextModeReader((line) => {
      let text: string;
      try {
        text = utf8.decode(line);
      } catch (error) {
        send({ event: 'Error', payload: String(error) });
        return;
      }
      send({ event, payload: text }, line.length);
    });
  };
  const out = reader('Stdout');
  const err = reader('Stderr');
  proc.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  proc.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  proc.stdout.on('end', () => out.end());
  proc.stderr.on('end', () => err.end());
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
        if (failWrites > 0) {
          failWrites--;
          throw new Error('stdin_write failed (the test asked for it)');
        }
        const deliver = () => {
          proc.stdin!.write(typeof args.buffer === 'string' ? args.buffer : Buffer.from(args.buffer));
          return null;
        };
        const onlyAcks = String(args.buffer).trimEnd().split('\n').every((line) => line.includes('"$/outputConsumed"'));
        return holdRequestWrites && !onlyAcks ? holdRequestWrites.then(deliver) : deliver();
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

test('Sidecar.launch() from process-sidecar/tauri starts the bundled sidecar in text mode with flow control and large notifications, and Command.create uses it', { timeout: 30000 }, async () => {
  const sidecar = await Sidecar.launch({ args: ['--log-level', 'error'] });
  try {
    const spawnCall = calls.find((c) => c.cmd === 'plugin:shell|spawn')!;
    assert.equal(spawnCall.args.program, DEFAULT_TAURI_SIDECAR);
    assert.equal(spawnCall.args.options.sidecar, true);
    assert.equal(spawnCall.args.options.encoding, undefined, 'the plugin\'s text mode: one message per protocol line');
    assert.deepEqual(sidecar.info?.capabilities.flowControl, { windowBytes: DEFAULT_TAURI_WINDOW_BYTES });
    assert.equal(sidecar.info?.capabilities.notificationBytes, DEFAULT_TAURI_NOTIFICATION_BYTES);
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

test('a write the plugin fails rejects the calls it carried, and later calls still go through', { timeout: 30000 }, async () => {
  const sidecar = await Sidecar.launch({ setDefault: false, args: ['--log-level', 'error'] });
  try {
    failWrites = 1;
    await assert.rejects(sidecar.list(), (error: unknown) => isSidecarError(error) && error.code === ClientErrorCode.ConnectionClosed && /list/.test(error.message));
    assert.equal(failWrites, 0);
    const result = await sidecar.command('sh', ['-c', 'echo after']).execute();
    assert.deepEqual([result.code, result.stdout], [0, 'after\n']);
    assert.deepEqual(await sidecar.list(), []);
  } finally {
    failWrites = 0;
    await sidecar.dispose();
  }
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

test('text mode: every protocol line arrives whole, as one message, however long; raw bytes stay exact', { timeout: 30000 }, async () => {
  const sidecar = await Sidecar.launch({ setDefault: false, stderr: 'ignore' });
  try {
    const from = stdoutMessages.length;
    const script = 'f=$(mktemp) && head -c 3000000 /dev/urandom > "$f" && sha256sum < "$f" >&2 && cat "$f"; rm -f "$f"';
    const command = sidecar.command('sh', ['-c', script], { encoding: 'raw' });
    const hash = createHash('sha256');
    let bytes = 0;
    let theirs = '';
    command.stdout.on('data', (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    command.stderr.on('data', (chunk) => (theirs += Buffer.from(chunk).toString()));
    const child = await command.spawn();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    assert.equal(bytes, 3000000);
    assert.equal(hash.digest('hex'), theirs.split(/\s/)[0]);
    const messages = stdoutMessages.slice(from);
    assert.ok(messages.every((m) => m.type === 'string' && m.newlines === 1 && m.endsLine), 'one line per message, each whole');
    // A 64 KiB notification of base64 is longer than the plugin's 8 KiB buffer: it still comes as one message.
    assert.ok(messages.some((m) => m.length > 64 * 1024), `longest message ${Math.max(...messages.map((m) => m.length))}`);
  } finally {
    await sidecar.dispose();
  }
});

test('flow control: while the page does not get to its messages, the child waits; then every byte arrives, exit last', { timeout: 60000 }, async () => {
  const window = 256 * 1024;
  const sidecar = await Sidecar.launch({ setDefault: false, stderr: 'ignore', flowControlWindowBytes: window });
  try {
    assert.deepEqual(sidecar.info?.capabilities.flowControl, { windowBytes: window });
    const total = 16 * 1024 * 1024;
    const command = sidecar.command('head', ['-c', String(total), '/dev/zero'], { encoding: 'raw' });
    let bytes = 0;
    let atClose = -1;
    command.stdout.on('data', (chunk) => (bytes += chunk.length));
    command.on('close', () => (atClose = bytes));
    const child = await command.spawn();
    bridge.hold = true;
    await sleep(1500);
    // At most the window and one read of the child's pipe (256 KiB), as base64 in JSON lines, is on its way.
    const bound = ((window + 256 * 1024) * 4) / 3 + 4096;
    assert.ok(bridge.heldBytes <= bound, `${bridge.heldBytes} bytes held in the IPC, more than ${bound}`);
    assert.ok(processExists(child.pid), 'the child waits (without flow control it would have written it all and exited)');
    bridge.release();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    assert.equal(bytes, total);
    assert.equal(atClose, total, 'close after the last byte');
  } finally {
    bridge.release();
    await sidecar.dispose();
  }
});

test('flow control: a child whose output nobody takes does not stall another', { timeout: 60000 }, async () => {
  const sidecar = await Sidecar.launch({ setDefault: false, stderr: 'ignore', flowControlWindowBytes: 128 * 1024 });
  try {
    const total = 8 * 1024 * 1024;
    // No listener yet: its run holds the events and acknowledges nothing.
    const idle = sidecar.command('head', ['-c', String(total), '/dev/zero'], { encoding: 'raw' });
    const idleChild = await idle.spawn();
    const busy = sidecar.command('head', ['-c', String(total), '/dev/zero'], { encoding: 'raw' });
    let busyBytes = 0;
    busy.stdout.on('data', (chunk) => (busyBytes += chunk.length));
    const busyChild = await busy.spawn();
    assert.deepEqual(await busyChild.wait(), { code: 0, signal: null });
    assert.equal(busyBytes, total);
    assert.ok(processExists(idleChild.pid), 'the unread child waits for its page');
    let idleBytes = 0;
    idle.stdout.on('data', (chunk) => (idleBytes += chunk.length));
    assert.deepEqual(await idleChild.wait(), { code: 0, signal: null });
    assert.equal(idleBytes, total);
  } finally {
    await sidecar.dispose();
  }
});

test('flow control: acknowledgements do not wait behind a request whose IPC call is slow', { timeout: 30000 }, async () => {
  const sidecar = await Sidecar.launch({ setDefault: false, stderr: 'ignore' });
  let release!: () => void;
  try {
    const command = sidecar.command('sh', ['-c', 'sleep 0.3; echo out; sleep 1']);
    const taken = new Promise<void>((resolve) => command.stdout.once('data', () => resolve()));
    const child = await command.spawn();
    holdRequestWrites = new Promise((resolve) => (release = resolve));
    const held = calls.length;
    const listed = sidecar.list(); // its write waits in the bridge
    await taken;
    const ackedMeanwhile = () =>
      calls.slice(held).some((c) => c.cmd === 'plugin:shell|stdin_write' && String(c.args.buffer).includes(`"$/outputConsumed","params":{"acks":[{"pid":${child.pid},`));
    assert.ok(await eventually(ackedMeanwhile, 5000), 'the acknowledgement was queued behind the held list request');
    release();
    assert.ok((await listed).some((entry) => entry.pid === child.pid));
    await child.wait();
  } finally {
    holdRequestWrites = undefined;
    release?.();
    await sidecar.dispose();
  }
});

test('flow control: a trickle of small notifications is acknowledged in batches, and in full once it stops', { timeout: 30000 }, async () => {
  const sidecar = await Sidecar.launch({ setDefault: false, stderr: 'ignore' });
  const before = calls.length;
  try {
    const command = sidecar.command('cat');
    const lines: string[] = [];
    command.stdout.on('data', (line) => lines.push(line));
    const child = await command.spawn();
    for (let i = 0; i < 40; i++) {
      const echoed = new Promise<void>((resolve) => command.stdout.once('data', () => resolve()));
      await child.write(`line ${i}\n`);
      await echoed;
    }
    const notifications = shortLines.filter((line) => line.includes(`"method":"stdout","params":{"pid":${child.pid},`)).length;
    assert.equal(lines.length, 40);
    const acked = () =>
      calls
        .slice(before)
        .filter((c) => c.cmd === 'plugin:shell|stdin_write')
        .flatMap((c) => String(c.args.buffer).split('\n'))
        .filter((line) => line.includes('"$/outputConsumed"'))
        .map((line) => JSON.parse(line).params.acks as Array<{ pid: number; notifications: number }>);
    // Within the ack delay (20 ms) of the last line, everything taken has been acknowledged.
    assert.ok(
      await eventually(() => acked().flat().filter((a) => a.pid === child.pid).reduce((n, a) => n + a.notifications, 0) === notifications, 5000),
      `acknowledged ${JSON.stringify(acked())} of ${notifications}`,
    );
    // Not one acknowledgement per line: they wait for one another (each line here is far below a quarter of the window).
    assert.ok(acked().length < notifications, `${acked().length} acknowledgements for ${notifications} notifications`);
    await child.closeStdin();
    await child.wait();
  } finally {
    await sidecar.dispose();
  }
});
