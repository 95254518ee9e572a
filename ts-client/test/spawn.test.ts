/** spawn() against the real sidecar: streaming, stdin, signals, bytes, characters, partial lines, early output. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, isSidecarError, type Sidecar, type TerminatedPayload } from '../src/transports/node.js';
import { collect, concatBytes, eventually, launchSidecar, nextEvent, nodeScript, processExists, sleep } from './helpers.js';

let sidecar: Sidecar;
before(async () => {
  sidecar = await launchSidecar();
});
after(() => sidecar.dispose());

describe('spawn and stream', () => {
  test('emits stdout and stderr line by line, then close with the exit code', { timeout: 20000 }, async () => {
    const [node, args] = nodeScript('console.log("one"); console.error("err"); process.stdout.write("two\\nthree\\n"); process.exitCode = 3');
    const command = sidecar.command(node, args);
    const out = collect(command);
    const closes: TerminatedPayload[] = [];
    command.on('close', (payload) => closes.push(payload));
    const child = await command.spawn();
    assert.ok(Number.isInteger(child.pid) && child.pid > 0);
    assert.deepEqual(await child.wait(), { code: 3, signal: null });
    assert.deepEqual(out.stdout, ['one\n', 'two\n', 'three\n']);
    assert.deepEqual(out.stderr, ['err\n']);
    assert.deepEqual(closes, [{ code: 3, signal: null }]);
    assert.deepEqual(child.exitStatus, { code: 3, signal: null });
  });

  test('listeners attached right after `await spawn()` get output the child wrote at once', { timeout: 20000 }, async () => {
    // printf writes and exits immediately: spawn's answer, the output and the exit tend to arrive together.
    for (let i = 0; i < 5; i++) {
      const command = sidecar.command('printf', ['first\\nsecond\\n']);
      const child = await command.spawn();
      const out = collect(command);
      const closed = nextEvent(command, 'close');
      assert.deepEqual(await closed, { code: 0, signal: null });
      assert.deepEqual(out.stdout, ['first\n', 'second\n'], `round ${i}`);
      assert.equal(child.pid > 0, true);
    }
  });

  test('events are held until the first listener, however late it comes', { timeout: 20000 }, async () => {
    const command = sidecar.command('printf', ['early\\n']);
    const child = await command.spawn();
    await sleep(300); // the child has long exited; nothing listens yet
    const out = collect(command);
    const closed = nextEvent(command, 'close');
    assert.deepEqual(await closed, { code: 0, signal: null });
    assert.deepEqual(out.stdout, ['early\n']);
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
  });

  test('child.stdout / child.on reach the command emitters', { timeout: 20000 }, async () => {
    const child = await sidecar.command('printf', ['x\\n']).spawn();
    const lines: string[] = [];
    child.stdout.on('data', (line) => lines.push(line));
    const payload = await new Promise<TerminatedPayload>((resolve) => child.once('close', resolve));
    assert.deepEqual(payload, { code: 0, signal: null });
    assert.deepEqual(lines, ['x\n']);
  });
});

describe('stdin', () => {
  test('write echoes through cat, closeStdin ends it', { timeout: 20000 }, async () => {
    const command = sidecar.command('cat');
    const out = collect(command);
    const child = await command.spawn();
    await child.write('hello\n');
    await eventually(() => out.stdout.length === 1);
    assert.deepEqual(out.stdout, ['hello\n']);
    await child.write(new TextEncoder().encode('bytes\n'));
    await child.write([0x6e, 0x75, 0x6d, 0x0a]); // number[] as in Tauri: "num\n"
    await child.closeStdin();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    assert.deepEqual(out.stdout, ['hello\n', 'bytes\n', 'num\n']);
    // After the exit, closeStdin and kill are harmless; write is an error.
    await child.closeStdin();
    await child.kill();
    await assert.rejects(child.write('late'), (e: unknown) => isSidecarError(e) && e.code === ErrorCode.UnknownProcess);
  });

  test('a large write (several MiB, split into chunks) arrives whole and in order', { timeout: 30000 }, async () => {
    const command = sidecar.command('cat', [], { encoding: 'raw' });
    const chunks: Uint8Array[] = [];
    command.stdout.on('data', (chunk) => chunks.push(chunk));
    const child = await command.spawn();
    const big = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 10)) & 0xff;
    await child.write(big);
    const text = 'ü'.repeat(1_500_000); // over one text chunk
    await child.write(text);
    await child.closeStdin();
    await child.wait();
    const got = concatBytes(chunks);
    assert.equal(got.length, big.length + Buffer.byteLength(text));
    assert.ok(Buffer.from(got.subarray(0, big.length)).equals(Buffer.from(big)));
    assert.equal(Buffer.from(got.subarray(big.length)).toString('utf8'), text);
  });
});

describe('kill', () => {
  const waiter = nodeScript('process.stdout.write("ready\\n"); setInterval(() => {}, 1000)');

  async function spawnReady(script = waiter) {
    const command = sidecar.command(script[0], script[1]);
    const ready = nextEvent(command.stdout, 'data', (line) => line === 'ready\n');
    const child = await command.spawn();
    await ready;
    return child;
  }

  test('kill() sends SIGTERM: close has code null and signal 15', { timeout: 20000 }, async () => {
    const child = await spawnReady();
    await child.kill();
    assert.deepEqual(await child.wait(), { code: null, signal: 15 });
  });

  test('kill(signal) by name or number', { timeout: 20000 }, async () => {
    const a = await spawnReady();
    await a.kill('SIGKILL');
    assert.deepEqual(await a.wait(), { code: null, signal: 9 });
    const b = await spawnReady();
    await b.kill(2);
    assert.deepEqual(await b.wait(), { code: null, signal: 2 });
    const c = await spawnReady();
    await c.kill({ signal: 'HUP', tree: false });
    assert.deepEqual(await c.wait(), { code: null, signal: 1 });
  });

  test('a child that ignores SIGTERM gets SIGKILL after forceAfterMs', { timeout: 20000 }, async () => {
    const child = await spawnReady(nodeScript('process.on("SIGTERM", () => {}); process.stdout.write("ready\\n"); setInterval(() => {}, 1000)'));
    const started = Date.now();
    await child.kill({ forceAfterMs: 300 });
    assert.deepEqual(await child.wait(), { code: null, signal: 9 });
    assert.ok(Date.now() - started >= 250);
  });

  test('the default kill reaches the whole tree (a grandchild too)', { timeout: 20000 }, async () => {
    const command = sidecar.command('sh', ['-c', 'sleep 30 & echo $!; wait']);
    const firstLine = nextEvent(command.stdout, 'data');
    const child = await command.spawn();
    const grandchild = Number((await firstLine).trim());
    assert.ok(processExists(grandchild));
    await child.kill();
    await child.wait();
    assert.ok(await eventually(() => !processExists(grandchild)), 'the grandchild is gone');
  });

  test('an unknown signal name is InvalidParams', { timeout: 20000 }, async () => {
    const child = await spawnReady();
    await assert.rejects(child.kill('SIGNOPE'), (e: unknown) => isSidecarError(e) && e.code === ErrorCode.InvalidParams);
    await child.kill('SIGKILL');
    await child.wait();
  });

  test('the signal option kills a spawned child; timeout too', { timeout: 20000 }, async () => {
    const controller = new AbortController();
    const [node, args] = nodeScript('setInterval(() => {}, 1000)');
    const child = await sidecar.command(node, args, { signal: controller.signal }).spawn();
    controller.abort();
    assert.deepEqual(await child.wait(), { code: null, signal: 15 });
    const timed = await sidecar.command(node, args, { timeout: 300 }).spawn();
    assert.deepEqual(await timed.wait(), { code: null, signal: 15 });
  });
});

describe('encodings', () => {
  test("raw: all 256 byte values come back exactly, as Uint8Array chunks", { timeout: 20000 }, async () => {
    const [node, args] = nodeScript(
      'const b = Buffer.from(Array.from({length: 256}, (_, i) => i)); for (let i = 0; i < 64; i++) process.stdout.write(b)',
    );
    const command = sidecar.command(node, args, { encoding: 'raw' });
    const chunks: Uint8Array[] = [];
    command.stdout.on('data', (chunk) => {
      assert.ok(chunk instanceof Uint8Array);
      chunks.push(chunk);
    });
    const child = await command.spawn();
    await child.wait();
    const all = concatBytes(chunks);
    assert.equal(all.length, 256 * 64);
    for (let i = 0; i < all.length; i++) assert.equal(all[i], i & 0xff);
  });

  test('raw: bytes written to cat round-trip', { timeout: 20000 }, async () => {
    const command = sidecar.command('cat', [], { encoding: 'raw' });
    const chunks: Uint8Array[] = [];
    command.stdout.on('data', (chunk) => chunks.push(chunk));
    const child = await command.spawn();
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await child.write(bytes);
    await child.write(bytes.buffer);
    await child.closeStdin();
    await child.wait();
    assert.deepEqual(concatBytes(chunks), concatBytes([bytes, bytes]));
  });

  test('utf-8: a character split across two writes of the child arrives whole', { timeout: 20000 }, async () => {
    // "€" is e2 82 ac; the child writes e2, pauses, then the rest.
    const [node, args] = nodeScript(
      'process.stdout.write(Buffer.from([0x41, 0xe2])); setTimeout(() => process.stdout.write(Buffer.from([0x82, 0xac, 0x0a])), 200)',
    );
    // idleFlushMs null: the pause is longer than the idle flush, which would emit "A" alone (correctly).
    const command = sidecar.command(node, args, { idleFlushMs: null });
    const out = collect(command);
    const child = await command.spawn();
    await child.wait();
    assert.deepEqual(out.stdout, ['A€\n']);
  });

  test('utf-8 written by the host in pieces that split a character (through cat)', { timeout: 20000 }, async () => {
    const command = sidecar.command('cat');
    const out = collect(command);
    const child = await command.spawn();
    const bytes = new TextEncoder().encode('😀é\n');
    await child.write(bytes.subarray(0, 2));
    await sleep(150);
    await child.write(bytes.subarray(2, 5));
    await sleep(150);
    await child.write(bytes.subarray(5));
    await child.closeStdin();
    await child.wait();
    assert.equal(out.stdout.join(''), '😀é\n');
    assert.ok(!out.stdout.join('').includes('\uFFFD'));
  });

  test('a TextDecoder label (utf-16le) with a character split across chunks', { timeout: 20000 }, async () => {
    const [node, args] = nodeScript(
      'const b = Buffer.from("héllo 😀\\n", "utf16le"); process.stdout.write(b.subarray(0, 3)); setTimeout(() => process.stdout.write(b.subarray(3, 13)), 150); setTimeout(() => process.stdout.write(b.subarray(13)), 300)',
    );
    const command = sidecar.command(node, args, { encoding: 'utf-16le', idleFlushMs: null });
    const out = collect(command);
    const child = await command.spawn();
    await child.wait();
    assert.deepEqual(out.stdout, ['héllo 😀\n']);
  });
});

describe('partial lines', () => {
  const prompter = nodeScript(
    'process.stdout.write("Password: "); process.stdin.once("data", (d) => { process.stdout.write("got " + String(d).trim()); process.exit(0) })',
  );

  test('a prompt without newline is delivered after a short idle, a last partial line at exit', { timeout: 20000 }, async () => {
    const command = sidecar.command(prompter[0], prompter[1]);
    const out = collect(command);
    // The child waits for our answer, so the prompt can only arrive through the idle flush.
    const prompt = nextEvent(command.stdout, 'data');
    const child = await command.spawn();
    assert.equal(await prompt, 'Password: ');
    await child.write('secret\n');
    await child.wait();
    assert.deepEqual(out.stdout, ['Password: ', 'got secret']);
  });

  test('idleFlushMs: null holds the partial line until the exit', { timeout: 20000 }, async () => {
    const command = sidecar.command(prompter[0], prompter[1], { idleFlushMs: null });
    const out = collect(command);
    const child = await command.spawn();
    await sleep(500);
    assert.deepEqual(out.stdout, []);
    await child.write('x\n');
    await child.wait();
    assert.deepEqual(out.stdout, ['Password: got x']);
  });
});
