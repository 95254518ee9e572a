/**
 * The pty option, resize(), stats() and Sidecar.list() against the real sidecar, with real programs on a real
 * pseudo-terminal. A terminal's output is a terminal's: "\n" arrives as "\r\n", and typed input is echoed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, isSidecarError, type Sidecar } from '../src/transports/node.js';
import { collect, concatBytes, eventually, launchSidecar, nodeScript, python } from './helpers.js';

let sidecar: Sidecar;
before(async () => {
  sidecar = await launchSidecar();
});
after(() => sidecar.dispose());

const PTY = { cols: 80, rows: 24 };
/** dash: a known prompt, no start-up file, no line editor. */
const shell = () => sidecar.command('sh', ['-i'], { pty: PTY, env: { PS1: '$ ', ENV: null } });

describe('pty', () => {
  test('the child runs on a /dev/pts terminal of the given size; both streams come as stdout', { timeout: 20000 }, async () => {
    const command = sidecar.command('sh', ['-c', 'tty; stty size; echo to-stderr >&2; exit 4'], { pty: { cols: 100, rows: 30 } });
    const out = collect(command);
    const child = await command.spawn();
    assert.deepEqual(await child.wait(), { code: 4, signal: null });
    const text = out.stdout.join('');
    assert.match(text, /^\/dev\/pts\/\d+\r\n30 100\r\nto-stderr\r\n$/);
    assert.deepEqual(out.stderr, []);
  });

  test('output comes at once, without waiting for a newline', { timeout: 20000 }, async () => {
    const command = sidecar.command('sh', ['-c', 'printf "prompt> "; sleep 5'], { pty: PTY });
    const out = collect(command);
    const child = await command.spawn();
    assert.ok(await eventually(() => out.stdout.join('') === 'prompt> ', 1000), 'the prompt came later than the idle flush would allow');
    await child.kill('SIGKILL');
    await child.wait();
  });

  test('escape sequences and non-UTF-8 bytes pass through byte-exact with raw', { timeout: 20000 }, async () => {
    const screen = Uint8Array.from([
      ...Buffer.from('\x1b[?1049h\x1b[2J\x1b[H\x1b[1;31mred\x1b[0m\x1b[5;10H'),
      ...Array.from({ length: 128 }, (_, i) => 0x80 + i),
      ...Buffer.from('\x1b]0;title\x07\x1b[?1049l'),
    ]);
    const [node, args] = nodeScript(`process.stdout.write(Buffer.from(${JSON.stringify([...screen])}))`);
    const command = sidecar.command(node, args, { pty: PTY, encoding: 'raw' });
    const chunks: Uint8Array[] = [];
    command.stdout.on('data', (chunk) => chunks.push(chunk));
    const child = await command.spawn();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    assert.deepEqual(concatBytes(chunks), screen);
  });

  test('a mebibyte written just before the exit all arrives before close', { timeout: 30000 }, async () => {
    const size = 1024 * 1024;
    // No newline in it, so the terminal passes it unchanged; the child exits the moment the write is done.
    const [node, args] = nodeScript(`require('fs').writeSync(1, Buffer.alloc(${size}, 'abcdefgh')); process.exit(0)`);
    for (let round = 0; round < 3; round++) {
      const command = sidecar.command(node, args, { pty: PTY, encoding: 'raw' });
      const chunks: Uint8Array[] = [];
      let closedWith = -1;
      command.stdout.on('data', (chunk) => chunks.push(chunk));
      command.on('close', () => (closedWith = concatBytes(chunks).length));
      const child = await command.spawn();
      assert.deepEqual(await child.wait(), { code: 0, signal: null });
      assert.equal(closedWith, size, `round ${round}: bytes seen when close was emitted`);
      assert.ok(Buffer.from(concatBytes(chunks)).equals(Buffer.alloc(size, 'abcdefgh')));
    }
  });

  test('an interactive Python answers typed input and ends on closeStdin', { timeout: 20000 }, async () => {
    const command = sidecar.command(python, ['-i', '-q'], { pty: PTY, env: { PYTHONSTARTUP: null } });
    const out = collect(command);
    const child = await command.spawn();
    const screen = () => out.stdout.join('');
    assert.ok(await eventually(() => screen().includes('>>> '), 10000), 'no prompt');
    await child.write('print(6 * 7)\n');
    // The answer on a line of its own, then a prompt again. (Python 3.13's REPL redraws the line as it is
    // typed, in colour, so the screen holds more than the classic REPL's plain echo.)
    assert.ok(await eventually(() => /\n(\r|\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>])*42\r\n[^]*>>> /.test(screen()), 10000), screen());
    await child.closeStdin();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
  });

  test('closeStdin after a partly typed line hands the line over, then end of file', { timeout: 20000 }, async () => {
    const command = sidecar.command('cat', [], { pty: PTY });
    const out = collect(command);
    const child = await command.spawn();
    await child.write('whole\npart');
    await child.closeStdin();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    assert.equal(out.stdout.join(''), 'whole\r\npartwhole\r\npart');
  });

  test('^C interrupts the foreground job of a shell, which reads on', { timeout: 30000 }, async () => {
    const command = shell();
    const out = collect(command);
    const child = await command.spawn();
    assert.ok(await eventually(() => out.stdout.join('').includes('$ '), 10000), 'no prompt');
    // The job says when it runs (a forked shell before its exec may still have the parent's SIGINT handling).
    await child.write("sh -c 'echo sleep-$((1 + 1)); exec sleep 30'\n");
    assert.ok(await eventually(() => out.stdout.join('').includes('sleep-2\r\n'), 10000), 'the job did not start');
    assert.equal((await child.stats()).descendants, 1);
    await child.write('\x03');
    assert.ok(await waitForDescendants(child, 0), '^C did not end the sleep');
    await child.write('echo status-$?\n');
    assert.ok(await eventually(() => out.stdout.join('').includes('status-130\r\n'), 10000), out.stdout.join(''));
    await child.write('exit 3\n');
    assert.deepEqual(await child.wait(), { code: 3, signal: null });
  });

  test('resize: the shell sees the new size', { timeout: 20000 }, async () => {
    const command = shell();
    const out = collect(command);
    const child = await command.spawn();
    assert.ok(await eventually(() => out.stdout.join('').includes('$ '), 10000), 'no prompt');
    await child.write('stty size\n');
    assert.ok(await eventually(() => out.stdout.join('').includes('24 80\r\n'), 10000));
    await child.resize(132, 50);
    await child.write('stty size\n');
    assert.ok(await eventually(() => out.stdout.join('').includes('50 132\r\n'), 10000), out.stdout.join(''));
    assert.deepEqual((await sidecar.list()).find((c) => c.pid === child.pid)?.pty, { cols: 132, rows: 50 });
    await child.closeStdin(); // end of file at an empty prompt: the shell exits
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    await child.resize(10, 10); // harmless once the child has exited
  });

  test('resize of a child on pipes is NotATerminal; execute with pty is refused', { timeout: 20000 }, async () => {
    const child = await sidecar.command('sleep', ['30']).spawn();
    await assert.rejects(child.resize(100, 30), (e: unknown) => isSidecarError(e) && e.is('NotATerminal') && e.data.pid === child.pid);
    await child.kill('SIGKILL');
    await child.wait();
    await assert.rejects(sidecar.command('true', [], { pty: PTY }).execute(), (e: unknown) => isSidecarError(e) && e.code === ErrorCode.InvalidParams);
  });
});

describe('list and stats', () => {
  test('list shows the live spawned children with their launch, and forgets them after close', { timeout: 20000 }, async () => {
    const before = Date.now();
    const piped = await sidecar.command('sleep', ['30'], { cwd: '/' }).spawn();
    const terminal = await sidecar.command('sleep', ['31'], { pty: { cols: 90, rows: 20 } }).spawn();
    const listed = (await sidecar.list()).filter((c) => c.pid === piped.pid || c.pid === terminal.pid);
    assert.deepEqual(
      listed.map(({ startedAt, ...rest }) => rest),
      [
        { pid: piped.pid, program: 'sleep', args: ['30'], cwd: '/', pty: null },
        { pid: terminal.pid, program: 'sleep', args: ['31'], cwd: listed[1]!.cwd, pty: { cols: 90, rows: 20 } },
      ],
    );
    for (const { startedAt } of listed) assert.ok(startedAt >= before - 1000 && startedAt <= Date.now() + 1000, String(startedAt));
    await piped.kill();
    await terminal.kill();
    await piped.wait();
    await terminal.wait();
    const after = (await sidecar.list()).map((c) => c.pid);
    assert.ok(!after.includes(piped.pid) && !after.includes(terminal.pid));
  });

  test('stats counts the descendants, CPU time and memory of the tree', { timeout: 30000 }, async () => {
    const burner = "const b = Buffer.alloc(64 << 20, 1); const t = process.cpuUsage(); while (process.cpuUsage(t).user < 400000) {} console.log('burnt'); setInterval(() => b, 1000)";
    const command = sidecar.command('sh', ['-c', `"${process.execPath}" -e "${burner}" & sleep 30 & wait`]);
    const out = collect(command);
    const child = await command.spawn();
    assert.ok(await eventually(() => out.stdout.join('').includes('burnt'), 20000), 'the burner did not finish');
    const stats = await child.stats();
    assert.equal(stats.pid, child.pid);
    assert.equal(stats.descendants, 2);
    assert.ok(stats.cpu.userMs >= 350, JSON.stringify(stats));
    assert.ok(stats.rssBytes >= 64 << 20, JSON.stringify(stats));
    await child.kill();
    await child.wait();
    await assert.rejects(child.stats(), (e: unknown) => isSidecarError(e) && e.code === ErrorCode.UnknownProcess);
  });

  test('initialize advertises pty, resize, list and stats', { timeout: 5000 }, () => {
    const capabilities = sidecar.info!.capabilities;
    assert.deepEqual([capabilities.pty, capabilities.resize, capabilities.list, capabilities.stats], [true, true, true, true]);
  });
});

/** Polls stats() until the child's tree has `count` descendants. */
async function waitForDescendants(child: { stats(): Promise<{ descendants: number }> }, count: number, ms = 10000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await child.stats()).descendants === count) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
