/**
 * The pieces of the core that need no sidecar: the emitter, protocol-line framing, output line buffering,
 * base64 and encoding resolution. Everything that crosses the wire is tested against the real sidecar elsewhere.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventEmitter } from '../src/core/emitter.js';
import { LineSplitter } from '../src/core/framing.js';
import { LineBuffer } from '../src/core/lines.js';
import { parseOutputNotification } from '../src/core/rpc.js';
import { decodeBase64, encodeBase64 } from '../src/core/base64.js';
import { resolveEncoding } from '../src/core/encoding.js';
import { createOutputDecoder } from '../src/core/output.js';
import { SidecarError, ErrorCode, isSidecarError } from '../src/index.js';
import { sleep } from './helpers.js';

describe('EventEmitter', () => {
  test('on/once/off/prepend/listenerCount/removeAllListeners behave like Node', { timeout: 5000 }, () => {
    const e = new EventEmitter<{ a: number; b: string }>();
    const calls: string[] = [];
    const one = (n: number) => calls.push(`one${n}`);
    const two = (n: number) => calls.push(`two${n}`);
    e.on('a', one).addListener('a', two).prependListener('a', (n) => calls.push(`first${n}`));
    e.once('a', (n) => calls.push(`once${n}`));
    e.prependOnceListener('a', (n) => calls.push(`ponce${n}`));
    assert.equal(e.listenerCount('a'), 5);
    assert.equal(e.emit('a', 1), true);
    assert.deepEqual(calls, ['ponce1', 'first1', 'one1', 'two1', 'once1']);
    assert.equal(e.listenerCount('a'), 3);
    calls.length = 0;
    e.off('a', one).removeListener('a', two);
    e.emit('a', 2);
    assert.deepEqual(calls, ['first2']);
    assert.equal(e.emit('b', 'x'), false);
    e.on('b', () => {});
    e.removeAllListeners('a');
    assert.equal(e.listenerCount('a'), 0);
    assert.equal(e.listenerCount('b'), 1);
    e.removeAllListeners();
    assert.deepEqual(e.eventNames(), []);
  });

  test('off removes a once listener by the original function, and one registration at a time', { timeout: 5000 }, () => {
    const e = new EventEmitter<{ a: number }>();
    let n = 0;
    const f = () => n++;
    e.once('a', f);
    e.off('a', f);
    e.emit('a', 0);
    assert.equal(n, 0);
    e.on('a', f).on('a', f);
    e.off('a', f);
    e.emit('a', 0);
    assert.equal(n, 1);
  });

  test("a throwing listener does not stop the others, and 'error' without listeners does not throw", { timeout: 5000 }, async () => {
    const e = new EventEmitter<{ a: number; error: Error }>();
    let reached = false;
    // The emitter reports listener exceptions with reportError when the host has it (browsers do); capture
    // them there, since the test runner would count a real uncaught exception as a failure of this test.
    const uncaught: unknown[] = [];
    const g = globalThis as { reportError?: (e: unknown) => void };
    const saved = g.reportError;
    g.reportError = (err) => uncaught.push(err);
    try {
      e.on('a', () => {
        throw new Error('boom');
      });
      e.on('a', () => (reached = true));
      e.emit('a', 1);
      assert.equal(reached, true);
      assert.equal(e.emit('error', new Error('nobody listens')), false);
      assert.equal(uncaught.length, 1);
      assert.equal((uncaught[0] as Error).message, 'boom');
    } finally {
      if (saved) g.reportError = saved;
      else delete g.reportError;
    }
  });
});

describe('LineSplitter (protocol framing)', () => {
  test('splits on newline bytes across chunk boundaries, including inside a multi-byte character', { timeout: 5000 }, () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((l) => lines.push(l));
    const bytes = new TextEncoder().encode('{"a":"é€😀"}\n{"b":1}\r\n\n{"c":');
    for (const b of bytes) splitter.push(Uint8Array.of(b)); // one byte at a time
    splitter.push(new TextEncoder().encode('2}'));
    assert.deepEqual(lines, ['{"a":"é€😀"}', '{"b":1}']);
    splitter.end();
    assert.deepEqual(lines, ['{"a":"é€😀"}', '{"b":1}', '{"c":2}']);
  });

  test('accepts text chunks too', { timeout: 5000 }, () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((l) => lines.push(l));
    splitter.push('a\nb');
    splitter.push('c\n');
    assert.deepEqual(lines, ['a', 'bc']);
  });
});

describe('output notifications read without JSON.parse', () => {
  const line = (method: string, pid: unknown, data: string) => JSON.stringify({ jsonrpc: '2.0', method, params: { pid, data } });

  test('a line of the sidecar\'s shape with no escape gives what JSON.parse gives', { timeout: 5000 }, () => {
    for (const [method, pid, data] of [
      ['stdout', 1234, encodeBase64(new Uint8Array([0, 1, 2, 250, 251, 255]))],
      ['stderr', 7, 'plain text, no newline'],
      ['stdout', 0, ''],
      ['stdout', 99999999, 'h€llo 😀 ünïcode'],
    ] as const) {
      const text = line(method, pid, data);
      const fast = parseOutputNotification(text);
      assert.ok(fast, text);
      const parsed = JSON.parse(text);
      assert.deepEqual(fast, { method: parsed.method, params: parsed.params });
    }
  });

  test('anything else is left to JSON.parse', { timeout: 5000 }, () => {
    for (const text of [
      line('stdout', 1, 'a line\n'), // escaped newline
      line('stdout', 1, 'say "hi"'), // escaped quotes
      line('stdout', 1, 'back\\slash'),
      line('stdout', 1, '\u0001'),
      line('exit', 1, 'x'),
      line('stdoutx', 1, 'x'),
      line('stdout', '12', 'x'), // a string pid
      line('stdout', -1, 'x'),
      line('stdout', 1.5, 'x'),
      '{"jsonrpc":"2.0","method":"stdout","params":{"pid":012,"data":"x"}}', // not JSON
      '{"jsonrpc":"2.0","method":"stdout","params":{"pid":1,"data":"x","more":1}}',
      '{"jsonrpc":"2.0","method":"stdout","params":{"pid":1,"data":"x"},"id":3}',
      '{"jsonrpc":"2.0","method":"stdout","params":{"pid":1,"data":"x"}} ',
      '{"jsonrpc":"2.0","method":"stdout","params":{"pid":1,"data":"x"',
      '{"jsonrpc":"2.0","method":"stdout","params":{"pid":1,"data":"}}',
      '{"jsonrpc":"2.0","result":{"pid":1},"id":1}',
    ]) {
      assert.equal(parseOutputNotification(text), undefined, text);
    }
  });
});

describe('LineBuffer (output lines)', () => {
  test('emits lines with their terminator, holds a partial line, flushes it after idle', { timeout: 5000 }, async () => {
    const out: string[] = [];
    const lines = new LineBuffer((l) => out.push(l), { idleFlushMs: 30 });
    lines.push('one\ntwo\r\nthr');
    assert.deepEqual(out, ['one\n', 'two\r\n']);
    lines.push('ee\nprompt> ');
    assert.deepEqual(out, ['one\n', 'two\r\n', 'three\n']);
    await sleep(80);
    assert.deepEqual(out, ['one\n', 'two\r\n', 'three\n', 'prompt> ']);
    lines.push('answer\n');
    assert.deepEqual(out.at(-1), 'answer\n');
    lines.dispose();
  });

  test('idleFlushMs null waits for the newline or flush()', { timeout: 5000 }, async () => {
    const out: string[] = [];
    const lines = new LineBuffer((l) => out.push(l), { idleFlushMs: null });
    lines.push('no newline');
    await sleep(60);
    assert.deepEqual(out, []);
    lines.flush();
    assert.deepEqual(out, ['no newline']);
  });
});

describe('base64 and encodings', () => {
  test('base64 round-trips every byte value, with and without Node Buffer', { timeout: 5000 }, () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = encodeBase64(all);
    assert.equal(text, Buffer.from(all).toString('base64'));
    const back = decodeBase64(text);
    assert.deepEqual(back, all);
    assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
    assert.deepEqual(decodeBase64(''), new Uint8Array(0));
  });

  test('resolveEncoding maps utf-8 spellings to the utf-8 wire, raw and other labels to base64', { timeout: 5000 }, () => {
    assert.deepEqual(resolveEncoding(undefined), { kind: 'text', wire: 'utf-8' });
    assert.deepEqual(resolveEncoding('UTF8'), { kind: 'text', wire: 'utf-8' });
    assert.deepEqual(resolveEncoding('raw'), { kind: 'raw', wire: 'base64' });
    assert.deepEqual(resolveEncoding('latin1'), { kind: 'decoded', wire: 'base64', label: 'windows-1252' });
    assert.deepEqual(resolveEncoding('utf-8', true), { kind: 'decoded', wire: 'base64', label: 'utf-8' });
    assert.throws(
      () => resolveEncoding('no-such-encoding'),
      (err: unknown) => isSidecarError(err) && err.code === ErrorCode.InvalidParams,
    );
  });

  test('a decoded stream never splits a character across chunks', { timeout: 5000 }, () => {
    const out: string[] = [];
    const decoder = createOutputDecoder({ kind: 'decoded', wire: 'base64', label: 'utf-16le' }, (c) => out.push(c as string), null);
    const bytes = new Uint8Array(Buffer.from('h€llo\n😀!', 'utf16le'));
    for (let i = 0; i < bytes.length; i += 3) decoder.push(encodeBase64(bytes.subarray(i, i + 3)));
    decoder.end();
    assert.deepEqual(out, ['h€llo\n', '😀!']);
  });
});

test('SidecarError carries code, data, cause and a name for the code', { timeout: 5000 }, () => {
  const cause = new Error('root');
  const err = new SidecarError(ErrorCode.SpawnFailed, 'no such program', { data: { program: 'x', errno: 2, code: 'ENOENT' }, cause });
  assert.ok(err instanceof Error);
  assert.equal(err.code, -32000);
  assert.equal(err.codeName, 'SpawnFailed');
  assert.equal(err.cause, cause);
  assert.ok(err.is('SpawnFailed') && err.data.code === 'ENOENT');
  assert.equal(err.is('UnknownProcess'), false);
});
