/**
 * The raw channel's reading side without a sidecar: the frame decoder over chunks split anywhere, and the
 * router's ordering rules (frames before the spawn answer, exit before the end frames). The channel itself,
 * end to end, is tested against the real sidecar in raw-channel.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RAW_FRAME_HEADER_BYTES, RAW_FRAME_MAX_PAYLOAD_BYTES, RawStream, type RawStreamName } from '../src/generated/raw-channel.js';
import { RawFrameDecoder } from '../src/core/raw-frames.js';
import { RawRouter } from '../src/core/raw-router.js';
import { ClientErrorCode, isSidecarError } from '../src/index.js';
import { concatBytes } from './helpers.js';

/** One frame as the sidecar writes it: pid (u32 BE), stream (u8), length (u32 BE), payload. */
function frame(pid: number, stream: RawStreamName | number, payload: Uint8Array = new Uint8Array(0), length = payload.length): Uint8Array {
  const out = new Uint8Array(RAW_FRAME_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, pid);
  view.setUint8(4, typeof stream === 'number' ? stream : RawStream[stream]);
  view.setUint32(5, length);
  out.set(payload, RAW_FRAME_HEADER_BYTES);
  return out;
}

/** Deterministic bytes that do not repeat with any short period. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

type Event = { pid: number; stream: RawStreamName; payload: Uint8Array | null };

/** Feeds `bytes` to a decoder in pieces cut at `cuts`; returns what it yielded. */
function decode(bytes: Uint8Array, cuts: number[]): Event[] {
  const events: Event[] = [];
  const decoder = new RawFrameDecoder((pid, stream, payload) => events.push({ pid, stream, payload }));
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.push(bytes.subarray(start, cut));
    start = cut;
  }
  assert.equal(decoder.midFrame, false);
  return events;
}

/** Per (pid, stream): the bytes joined, and whether the end came last. */
function streams(events: Event[]): Map<string, { bytes: Uint8Array; ended: boolean }> {
  const pieces = new Map<string, { chunks: Uint8Array[]; ended: boolean }>();
  for (const e of events) {
    const key = `${e.pid}/${e.stream}`;
    const entry = pieces.get(key) ?? { chunks: [], ended: false };
    pieces.set(key, entry);
    assert.equal(entry.ended, false, `${key}: bytes after the end`);
    if (e.payload) entry.chunks.push(e.payload);
    else entry.ended = true;
  }
  return new Map([...pieces].map(([key, v]) => [key, { bytes: concatBytes(v.chunks), ended: v.ended }]));
}

describe('RawFrameDecoder', () => {
  const a = pattern(1000, 1);
  const b = pattern(70000, 2);
  const c = pattern(3, 3);
  const wire = concatBytes([
    frame(7, 'stdout', a),
    frame(8, 'stderr', c),
    frame(7, 'stdout', b),
    frame(8, 'stderr'),
    frame(4294967295, 'stdout', c),
    frame(7, 'stderr'),
    frame(7, 'stdout'),
    frame(4294967295, 'stdout'),
  ]);
  const expect = (events: Event[]) => {
    const s = streams(events);
    assert.deepEqual(s.get('7/stdout'), { bytes: concatBytes([a, b]), ended: true });
    assert.deepEqual(s.get('7/stderr'), { bytes: new Uint8Array(0), ended: true });
    assert.deepEqual(s.get('8/stderr'), { bytes: c, ended: true });
    assert.deepEqual(s.get('4294967295/stdout'), { bytes: c, ended: true });
  };

  test('many frames in one chunk: payloads are views of the chunk, not copies', { timeout: 5000 }, () => {
    const events = decode(wire, []);
    expect(events);
    // Every frame lies within the one chunk, so each payload comes whole, as a view of it.
    assert.deepEqual(
      events.map((e) => e.payload?.length ?? null),
      [a.length, c.length, b.length, null, c.length, null, null, null],
    );
    for (const e of events) if (e.payload) assert.equal(e.payload.buffer, wire.buffer);
  });

  test('a header split at every possible place', { timeout: 5000 }, () => {
    const head = frame(7, 'stdout', a).length; // the second frame's header starts here
    for (let cut = head; cut <= head + RAW_FRAME_HEADER_BYTES; cut++) expect(decode(wire, [cut]));
  });

  test('a payload spanning many chunks comes in order, in pieces, never copied', { timeout: 5000 }, () => {
    const cuts: number[] = [];
    for (let at = 1500; at < wire.length; at += 4096) cuts.push(at);
    const events = decode(wire, cuts);
    expect(events);
    for (const e of events) if (e.payload) assert.equal(e.payload.buffer, wire.buffer);
  });

  test('one byte at a time, and random cuts', { timeout: 10000 }, () => {
    expect(decode(wire, Array.from({ length: wire.length - 1 }, (_, i) => i + 1)));
    const random = pattern(200, 9);
    for (let round = 0; round < 50; round++) {
      const cuts = new Set<number>();
      for (let i = 0; i < 20; i++) cuts.add(1 + ((random[(round * 20 + i) % random.length]! * 9973 * (round + 1)) % (wire.length - 1)));
      expect(decode(wire, [...cuts].sort((x, y) => x - y)));
    }
  });

  test('hands on plain Uint8Arrays even when fed Node Buffers', { timeout: 5000 }, () => {
    const events = decode(Buffer.from(frame(1, 'stdout', c)), []);
    assert.equal(events[0]!.payload!.constructor, Uint8Array);
  });

  test('a frame of the largest payload is accepted, one byte more is a protocol error', { timeout: 5000 }, () => {
    const header = frame(1, 'stdout', new Uint8Array(0), RAW_FRAME_MAX_PAYLOAD_BYTES);
    const decoder = new RawFrameDecoder(() => {});
    decoder.push(header);
    assert.equal(decoder.midFrame, true);
    decoder.push(new Uint8Array(RAW_FRAME_MAX_PAYLOAD_BYTES));
    assert.equal(decoder.midFrame, false);
    const isProtocolError = (e: unknown) => isSidecarError(e) && e.code === ClientErrorCode.ProtocolError;
    assert.throws(() => decoder.push(frame(1, 'stdout', new Uint8Array(0), RAW_FRAME_MAX_PAYLOAD_BYTES + 1)), isProtocolError);
    // No resynchronising a byte stream: it stays failed.
    assert.throws(() => decoder.push(frame(1, 'stdout', c)), isProtocolError);
    assert.throws(() => new RawFrameDecoder(() => {}).push(frame(1, 3, c)), /unknown stream 3/);
  });
});

describe('RawRouter', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  const text = (chunks: Uint8Array[]) => new TextDecoder().decode(concatBytes(chunks));
  function sink() {
    const got = { stdout: [] as Uint8Array[], stderr: [] as Uint8Array[] };
    return { got, sink: { stdout: (b: Uint8Array) => got.stdout.push(b), stderr: (b: Uint8Array) => got.stderr.push(b) } };
  }

  test('frames read before the spawn answer wait for it, then come first and in order', { timeout: 5000 }, () => {
    const router = new RawRouter();
    router.push(concatBytes([frame(5, 'stdout', bytes('one ')), frame(6, 'stderr', bytes('other')), frame(5, 'stderr', bytes('err'))]));
    const five = sink();
    router.route(5, five.sink);
    router.push(frame(5, 'stdout', bytes('two')));
    assert.equal(text(five.got.stdout), 'one two');
    assert.equal(text(five.got.stderr), 'err');
    const six = sink();
    router.route(6, six.sink);
    assert.equal(text(six.got.stderr), 'other');
  });

  test('an exit read before the end frames is held until both have come', { timeout: 5000 }, () => {
    const router = new RawRouter();
    const five = sink();
    router.route(5, five.sink);
    router.push(frame(5, 'stdout', bytes('last bytes')));
    let finished = 0;
    assert.equal(router.holdExit(5, () => finished++), true);
    router.push(frame(5, 'stdout'));
    assert.equal(finished, 0, 'stderr has not ended yet');
    router.push(concatBytes([frame(5, 'stderr', bytes('late')), frame(5, 'stderr')]));
    assert.equal(finished, 1);
    assert.equal(text(five.got.stderr), 'late');
    // The route is gone with the exit: a new child with the same pid starts afresh.
    assert.equal(router.holdExit(5, () => finished++), false);
  });

  test('a reused pid: frames after the end frames, and a spawn answer read early, go to the new child', { timeout: 5000 }, () => {
    const router = new RawRouter();
    const first = sink();
    router.route(5, first.sink);
    let finished = 0;
    // The host read the earlier child's exit, then the new child's spawn answer (stdout), before the
    // earlier child's last frames (the channel).
    assert.equal(router.holdExit(5, () => finished++), true);
    const second = sink();
    router.route(5, second.sink);
    router.push(concatBytes([frame(5, 'stdout', bytes('old')), frame(5, 'stdout'), frame(5, 'stderr')]));
    assert.equal(finished, 1);
    router.push(frame(5, 'stdout', bytes('new')));
    assert.equal(text(first.got.stdout), 'old');
    assert.equal(text(second.got.stdout), 'new');
  });

  test('a reused pid: frames of the new child read before the earlier child\'s exit wait for its spawn answer', { timeout: 5000 }, () => {
    const router = new RawRouter();
    const first = sink();
    router.route(7, first.sink);
    router.push(concatBytes([frame(7, 'stdout'), frame(7, 'stderr'), frame(7, 'stdout', bytes('new'))]));
    assert.equal(router.holdExit(7, () => assert.fail('both ends were read: not held')), false);
    const second = sink();
    router.route(7, second.sink);
    assert.equal(text(first.got.stdout), '');
    assert.equal(text(second.got.stdout), 'new');
  });

  test('an exit read after both end frames runs at once; pids that are not raw are not held', { timeout: 5000 }, () => {
    const router = new RawRouter();
    router.route(9, sink().sink);
    router.push(concatBytes([frame(9, 'stderr'), frame(9, 'stdout')]));
    assert.equal(router.holdExit(9, () => assert.fail('not held, so the caller finishes')), false);
    assert.equal(router.holdExit(10, () => assert.fail('not raw')), false);
  });
});
