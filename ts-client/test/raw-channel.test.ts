/**
 * The raw channel against the real sidecar: bytes of Commands with encoding 'raw' travel as frames on a
 * fourth pipe instead of base64 in JSON. Byte-exact on both streams, 'close' after every byte, early and late
 * listeners, many children at once, the fallbacks to base64 (no channel, channel turned off, sidecar says
 * no), and a failing channel. A "tap" transport wraps the real Node transport to count what crosses each
 * pipe, so the tests can tell which way the bytes really went without faking any of them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ClientErrorCode,
  Sidecar,
  createEventStreamTransport,
  createNodeTransport,
  isSidecarError,
  type NodeTransport,
  type RawChannelEvents,
  type Transport,
} from '../src/transports/node.js';
import { collect, concatBytes, eventually, nextEvent, processExists, python, repoRoot, sleep } from './helpers.js';

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** What crossed the wire: the sidecar's stdout as text, and how many bytes came on the raw channel. */
interface Tap {
  stdoutText(): string;
  rawBytes: number;
  /** The channel's events as the connection registered them, to inject a failure. */
  rawEvents: RawChannelEvents | undefined;
}

/** Wraps `inner`, recording its stdout and counting its raw channel; optionally names another descriptor, or
 * leaves out the channel's own utf-8 decoder (so that the client's TextDecoder decodes its text). */
function tapTransport(inner: NodeTransport, options: { fd?: number; utf8Decoder?: boolean } = {}): { transport: Transport; tap: Tap; inner: NodeTransport } {
  const stdout: Uint8Array[] = [];
  const tap: Tap = { stdoutText: () => new TextDecoder().decode(concatBytes(stdout)), rawBytes: 0, rawEvents: undefined };
  const channel = inner.rawChannel;
  const transport: Transport = {
    rawChannel: channel && {
      fd: options.fd ?? channel.fd,
      createUtf8Decoder: options.utf8Decoder === false ? undefined : channel.createUtf8Decoder,
      open(events) {
        tap.rawEvents = events;
        channel.open({
          data(chunk) {
            tap.rawBytes += chunk.length;
            events.data(chunk);
          },
          close: (error) => events.close(error),
        });
      },
    },
    start(events) {
      inner.start({
        data(chunk) {
          stdout.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk.slice());
          events.data(chunk);
        },
        close: (info) => events.close(info),
      });
    },
    write: (text) => inner.write(text),
    end: () => inner.end(),
    destroy: () => inner.destroy(),
  };
  return { transport, tap, inner };
}

function nodeTransport(options: { rawChannel?: boolean } = {}) {
  return createNodeTransport({ python, cwd: repoRoot, args: ['--log-level', 'error'], ...options });
}

/** Whether the sidecar sent any stdout/stderr notification for `pid`. */
function notifiedFor(tap: Tap, pid: number): boolean {
  return new RegExp(`"method":"std(out|err)","params":\\{"pid":${pid},`).test(tap.stdoutText());
}

let dir: string;
let big: { out: Buffer; err: Buffer; outFile: string; errFile: string };
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raw-channel-'));
  // Random bytes: no period a lost, doubled or reordered piece could hide in.
  big = { out: randomBytes(32 * MiB), err: randomBytes(32 * MiB + 12345), outFile: path.join(dir, 'out'), errFile: path.join(dir, 'err') };
  writeFileSync(big.outFile, big.out);
  writeFileSync(big.errFile, big.err);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('over the raw channel (Node transport)', () => {
  let sidecar: Sidecar;
  let tap: Tap;
  before(async () => {
    const tapped = tapTransport(nodeTransport());
    tap = tapped.tap;
    sidecar = await Sidecar.launch({ transport: tapped.transport, setDefault: false });
  });
  after(() => sidecar.dispose());

  test('the sidecar took the channel', { timeout: 10000 }, () => {
    assert.equal(sidecar.info?.capabilities.rawChannel, true);
    assert.equal(sidecar.rawChannel, true);
  });

  test("32 MiB on stdout and on stderr at once arrive byte-exact, all before 'close', and only on the channel", { timeout: 60000 }, async () => {
    const command = sidecar.command('sh', ['-c', `cat "$1" & cat "$2" >&2; wait`, 'sh', big.outFile, big.errFile], { encoding: 'raw' });
    const out = collect(command);
    let atClose: [number, number] | undefined;
    command.on('close', () => {
      atClose = [out.stdout.reduce((n, c) => n + c.length, 0), out.stderr.reduce((n, c) => n + c.length, 0)];
    });
    const rawBefore = tap.rawBytes;
    const child = await command.spawn();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    assert.deepEqual(atClose, [big.out.length, big.err.length]);
    assert.ok(out.stdout.every((c) => c.constructor === Uint8Array));
    assert.equal(sha256(concatBytes(out.stdout)), sha256(big.out));
    assert.equal(sha256(concatBytes(out.stderr)), sha256(big.err));
    // Every byte came through the channel (plus frame headers), none as a notification.
    assert.ok(tap.rawBytes - rawBefore >= big.out.length + big.err.length);
    assert.equal(notifiedFor(tap, child.pid), false);
  });

  test('listeners attached right after `await spawn()`, or much later, get every byte', { timeout: 30000 }, async () => {
    for (let i = 0; i < 10; i++) {
      // printf writes and exits at once: spawn's answer, the frames and the exit tend to arrive together.
      const command = sidecar.command('sh', ['-c', `printf 'out${i}'; printf 'err${i}' >&2`], { encoding: 'raw' });
      const child = await command.spawn();
      if (i % 2) await sleep(200); // the child has long exited; nothing listens yet
      const out = collect(command);
      assert.deepEqual(await nextEvent(command, 'close'), { code: 0, signal: null });
      assert.equal(Buffer.from(concatBytes(out.stdout)).toString(), `out${i}`, `round ${i}`);
      assert.equal(Buffer.from(concatBytes(out.stderr)).toString(), `err${i}`, `round ${i}`);
      assert.equal(notifiedFor(tap, child.pid), false);
    }
  });

  test('50 raw children at once lose nothing and mix nothing up', { timeout: 60000 }, async () => {
    const sizes = Array.from({ length: 50 }, (_, i) => [(i * 97_003) % (2 * MiB), (i * 31_337) % (MiB / 2)] as const);
    const runs = await Promise.all(
      sizes.map(async ([outBytes, errBytes]) => {
        const command = sidecar.command('sh', ['-c', `head -c ${outBytes} "$1"; head -c ${errBytes} "$2" >&2`, 'sh', big.outFile, big.errFile], {
          encoding: 'raw',
        });
        const out = collect(command);
        const child = await command.spawn();
        return { child, out, outBytes, errBytes };
      }),
    );
    for (const { child, out, outBytes, errBytes } of runs) {
      assert.deepEqual(await child.wait(), { code: 0, signal: null });
      assert.equal(sha256(concatBytes(out.stdout)), sha256(big.out.subarray(0, outBytes)), `pid ${child.pid} stdout`);
      assert.equal(sha256(concatBytes(out.stderr)), sha256(big.err.subarray(0, errBytes)), `pid ${child.pid} stderr`);
    }
  });

  test('a raw child on a terminal, stdin, kill and execute still work', { timeout: 30000 }, async () => {
    const echo = sidecar.command('cat', [], { encoding: 'raw' });
    const out = collect(echo);
    const cat = await echo.spawn();
    await cat.write(new Uint8Array([0, 1, 2, 255]));
    await cat.closeStdin();
    assert.deepEqual(await cat.wait(), { code: 0, signal: null });
    assert.deepEqual([...concatBytes(out.stdout)], [0, 1, 2, 255]);

    const sleeper = await sidecar.command('sleep', ['30'], { encoding: 'raw' }).spawn();
    await sleeper.kill('SIGKILL');
    assert.deepEqual(await sleeper.wait(), { code: null, signal: 9 });
    await sleeper.kill(); // after the exit: nothing to do, no error

    const terminal = sidecar.command('printf', ['on a tty'], { encoding: 'raw', pty: { cols: 80, rows: 24 } });
    const shown = collect(terminal);
    const tty = await terminal.spawn();
    assert.deepEqual(await tty.wait(), { code: 0, signal: null });
    assert.equal(Buffer.from(concatBytes(shown.stdout)).toString(), 'on a tty');
    assert.deepEqual(shown.stderr, []);

    // execute() has no raw wire encoding (its result is JSON): base64, same bytes.
    const result = await sidecar.command('head', ['-c', '100000', big.outFile], { encoding: 'raw' }).execute();
    assert.equal(sha256(result.stdout), sha256(big.out.subarray(0, 100000)));
  });
});

describe('text over the raw channel', () => {
  // Bytes a decoder can get wrong, each written on its own with a pause between (so each write is likely a frame
  // of its own and a character is split across frames): a character split in three, a lone continuation byte,
  // an overlong "/", an encoded surrogate, a code point above U+10FFFF, bytes that are never utf-8, a sequence cut
  // short by the next character, a BOM, and a sequence left unfinished when the stream ends.
  const pieces = ['41 f0 9f', '98 80 0a', '80 42 0a', 'c0 af 0a', 'ed a0 80 0a', 'f4 90 80 80 0a', 'fe ff 0a', 'e2 82 43 0a', 'ef bb bf 44 0a', 'e2 82'];
  const script = `import os, sys, time\nfor piece in sys.argv[1:]:\n    os.write(int(os.environ['FD']), bytes.fromhex(piece))\n    time.sleep(0.05)\n`;

  /** What a Command emits for the pieces on stdout and stderr, and the pid, launched over `transport`. */
  async function textOf(transport: Transport): Promise<{ stdout: string[]; stderr: string[]; pid: number; rawChannel: boolean }> {
    const sidecar = await Sidecar.launch({ transport, setDefault: false });
    try {
      const streams = await Promise.all(
        ['1', '2'].map(async (fd) => {
          const command = sidecar.command(python, ['-c', script, ...pieces], { env: { FD: fd }, idleFlushMs: null });
          const out = collect(command);
          const child = await command.spawn();
          assert.deepEqual(await child.wait(), { code: 0, signal: null });
          return { lines: fd === '1' ? out.stdout : out.stderr, pid: child.pid };
        }),
      );
      return { stdout: streams[0]!.lines, stderr: streams[1]!.lines, pid: streams[0]!.pid, rawChannel: sidecar.rawChannel };
    } finally {
      await sidecar.dispose();
    }
  }

  test('decodes as the sidecar does, U+FFFD for the same bytes, a split character whole, and only on the channel', { timeout: 30000 }, async () => {
    assert.equal(typeof nodeTransport().rawChannel?.createUtf8Decoder, 'function', "the Node transport offers Node's decoder");
    const overChannel = tapTransport(nodeTransport());
    const viaChannel = await textOf(overChannel.transport);
    const withTextDecoder = await textOf(tapTransport(nodeTransport(), { utf8Decoder: false }).transport);
    const asNotifications = tapTransport(nodeTransport({ rawChannel: false }));
    const viaNotifications = await textOf(asNotifications.transport);
    assert.equal(viaChannel.rawChannel, true);
    assert.equal(viaNotifications.rawChannel, false);
    // The sidecar's own decoding (errors="replace") is the reference; the client's must equal it, line by line,
    // with Node's decoder and with TextDecoder (what a channel without a decoder of its own gets).
    assert.deepEqual(viaChannel.stdout, viaNotifications.stdout);
    assert.deepEqual(viaChannel.stderr, viaNotifications.stderr);
    assert.deepEqual(withTextDecoder.stdout, viaNotifications.stdout);
    assert.deepEqual(withTextDecoder.stderr, viaNotifications.stderr);
    assert.equal(viaChannel.stdout.join(''), 'A😀\n\uFFFDB\n\uFFFD\uFFFD\n\uFFFD\uFFFD\uFFFD\n\uFFFD\uFFFD\uFFFD\uFFFD\n\uFFFD\uFFFD\n\uFFFDC\n\uFEFFD\n\uFFFD');
    assert.equal(notifiedFor(overChannel.tap, viaChannel.pid), false, 'text came as notifications over an open channel');
    assert.ok(overChannel.tap.rawBytes > 0);
    assert.equal(notifiedFor(asNotifications.tap, viaNotifications.pid), true);
  });
});

describe('fallback to base64', () => {
  async function rawRoundTrip(sidecar: Sidecar, tap: Tap | undefined): Promise<void> {
    const command = sidecar.command('head', ['-c', String(3 * MiB + 1), big.outFile], { encoding: 'raw' });
    const out = collect(command);
    const child = await command.spawn();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    assert.equal(sha256(concatBytes(out.stdout)), sha256(big.out.subarray(0, 3 * MiB + 1)));
    if (tap) {
      assert.equal(notifiedFor(tap, child.pid), true, 'the bytes came as notifications');
      assert.equal(tap.rawBytes, 0, 'nothing on the channel');
    }
  }

  /** Launches over `transport`, checks the sidecar answered that no channel is open, relays raw bytes as base64. */
  async function expectBase64(transport: Transport, tap: Tap | undefined, options: { rawChannel?: boolean } = {}): Promise<void> {
    const sidecar = await Sidecar.launch({ transport, setDefault: false, ...options });
    try {
      assert.equal(sidecar.info?.capabilities.rawChannel, false);
      assert.equal(sidecar.rawChannel, false);
      await rawRoundTrip(sidecar, tap);
    } finally {
      await sidecar.dispose();
    }
  }

  test('a transport without a channel (stream transport): never asked, base64', { timeout: 30000 }, async () => {
    const proc = spawn(python, ['-m', 'sidecar', '--log-level', 'error'], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
    const transport = createEventStreamTransport({ readable: proc.stdout, writable: proc.stdin, destroy: () => proc.kill('SIGKILL') });
    assert.equal(transport.rawChannel, undefined);
    await expectBase64(transport, undefined);
  });

  test('launched with rawChannel: false: three pipes only, base64', { timeout: 30000 }, async () => {
    const inner = nodeTransport({ rawChannel: false });
    assert.equal(inner.rawChannel, undefined);
    const { transport, tap } = tapTransport(inner);
    await expectBase64(transport, tap);
    // The same option through Sidecar.launch of the Node entry.
    const plain = await Sidecar.launch({ python, cwd: repoRoot, args: ['--log-level', 'error'], rawChannel: false, setDefault: false });
    try {
      assert.equal(plain.rawChannel, false);
    } finally {
      await plain.dispose();
    }
  });

  test('a channel the connection does not ask for is not used', { timeout: 30000 }, async () => {
    const { transport, tap } = tapTransport(nodeTransport());
    await expectBase64(transport, tap, { rawChannel: false });
  });

  test('the sidecar declines (a descriptor it does not have): its answer is respected', { timeout: 30000 }, async () => {
    const { transport, tap } = tapTransport(nodeTransport(), { fd: 9 });
    await expectBase64(transport, tap);
  });
});

describe('a failing channel', () => {
  for (const how of ['fails', 'carries a corrupt frame'] as const) {
    test(`when the channel ${how}, running children fail as on a lost connection and the sidecar goes`, { timeout: 30000 }, async () => {
      const { transport, tap, inner } = tapTransport(nodeTransport());
      const sidecar = await Sidecar.launch({ transport, setDefault: false, shutdownTimeoutMs: 3000 });
      const closed = nextEvent(sidecar, 'close');
      const raw = await sidecar.command('sleep', ['30'], { encoding: 'raw' }).spawn();
      const text = await sidecar.command('sleep', ['30']).spawn();
      if (how === 'fails') tap.rawEvents!.close(new Error('injected'));
      else tap.rawEvents!.data(new Uint8Array([0, 0, 0, 1, 7, 0, 0, 0, 1, 0])); // stream 7 does not exist
      const isLost = (e: unknown) => isSidecarError(e) && e.code === ClientErrorCode.ConnectionClosed && /raw channel failed/.test(e.message);
      await assert.rejects(raw.wait(), isLost);
      await assert.rejects(text.wait(), isLost);
      assert.ok(isLost((await closed).error));
      assert.equal(sidecar.state, 'closed');
      await assert.rejects(sidecar.command('true').execute(), (e: unknown) => isSidecarError(e) && e.code === ClientErrorCode.NotConnected);
      // The sidecar was told to go (end of file on stdin) and stopped its children on the way out.
      assert.ok(await eventually(() => !processExists(inner.pid!), 10000), 'the sidecar exited');
      assert.ok(await eventually(() => !processExists(raw.pid) && !processExists(text.pid), 10000), 'its children are gone');
      await sidecar.dispose();
    });
  }
});

describe('the session ends', () => {
  test("dispose stops raw children that are flooding: each gets its 'close', after its bytes, and no error", { timeout: 30000 }, async () => {
    const sidecar = await Sidecar.launch({ transport: nodeTransport(), setDefault: false });
    assert.equal(sidecar.rawChannel, true);
    const runs = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const command = sidecar.command('cat', ['/dev/zero'], { encoding: 'raw' });
        let received = 0;
        let atClose = -1;
        const errors: unknown[] = [];
        command.stdout.on('data', (chunk) => (received += chunk.length));
        command.on('error', (e) => errors.push(e));
        command.on('close', () => (atClose = received));
        const child = await command.spawn();
        return { child, errors, received: () => received, atClose: () => atClose };
      }),
    );
    await eventually(() => runs.every((run) => run.received() > MiB));
    await sidecar.dispose();
    for (const run of runs) {
      assert.deepEqual(await run.child.wait(), { code: null, signal: 15 });
      assert.deepEqual(run.errors, []);
      assert.equal(run.atClose(), run.received(), "no byte after 'close'");
    }
  });

  test('a sidecar killed under a raw child: error, then close, as without the channel', { timeout: 30000 }, async () => {
    const transport = nodeTransport();
    const sidecar = await Sidecar.launch({ transport, setDefault: false });
    const command = sidecar.command('sleep', ['2'], { encoding: 'raw' });
    const events: string[] = [];
    command.on('error', () => events.push('error'));
    command.on('close', (payload) => events.push(`close ${JSON.stringify(payload)}`));
    const child = await command.spawn();
    process.kill(transport.pid!, 'SIGKILL');
    await assert.rejects(child.wait(), (e: unknown) => isSidecarError(e) && e.code === ClientErrorCode.ConnectionClosed);
    assert.deepEqual(events, ['error', 'close {"code":null,"signal":null}']);
    await sidecar.dispose();
  });
});
