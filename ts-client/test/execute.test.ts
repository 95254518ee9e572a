/** execute() against the real sidecar: results, encodings, input, limits, abort. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClientErrorCode, ErrorCode, isSidecarError, type Sidecar, type SidecarError } from '../src/transports/node.js';
import { launchSidecar, nodeScript } from './helpers.js';

let sidecar: Sidecar;
before(async () => {
  sidecar = await launchSidecar();
});
after(() => sidecar.dispose());

function isCode(code: number) {
  return (error: unknown): boolean => {
    assert.ok(isSidecarError(error), `expected a SidecarError, got ${String(error)}`);
    assert.equal(error.code, code, `${error.code} ${error.message}`);
    return true;
  };
}

describe('execute', () => {
  test('collects stdout, stderr and the exit code; a non-zero exit is a result', { timeout: 20000 }, async () => {
    const [node, args] = nodeScript('process.stdout.write("out\\nmore"); process.stderr.write("err\\n"); process.exitCode = 7');
    const result = await sidecar.command(node, args).execute();
    assert.deepEqual(result, { code: 7, signal: null, stdout: 'out\nmore', stderr: 'err\n' });
  });

  test('arguments are passed exactly, never through a shell', { timeout: 20000 }, async () => {
    const args = ['a b', '$HOME', '*', "it's", '"q"', ';', ''];
    const [node, script] = nodeScript('process.stdout.write(JSON.stringify(process.argv.slice(1)))');
    const result = await sidecar.command(node, [...script, ...args]).execute();
    assert.deepEqual(JSON.parse(result.stdout), args);
  });

  test('cwd, env (null removes a name) and clearEnv', { timeout: 20000 }, async () => {
    const [node, args] = nodeScript(
      'process.stdout.write(JSON.stringify({cwd: process.cwd(), a: process.env.PS_A, home: process.env.HOME ?? null, n: Object.keys(process.env).length}))',
    );
    const merged = JSON.parse((await sidecar.command(node, args, { cwd: '/tmp', env: { PS_A: 'x y', HOME: null } }).execute()).stdout);
    assert.equal(merged.cwd, '/tmp');
    assert.equal(merged.a, 'x y');
    assert.equal(merged.home, null);
    assert.ok(merged.n > 1);
    const cleared = JSON.parse((await sidecar.command(node, args, { clearEnv: true, env: { PS_A: '1' } }).execute()).stdout);
    assert.equal(cleared.a, '1');
    assert.equal(cleared.home, null);
  });

  test("encoding 'raw' returns Uint8Array output, byte-exact", { timeout: 20000 }, async () => {
    const [node, args] = nodeScript('process.stdout.write(Buffer.from(Array.from({length: 256}, (_, i) => i)))');
    const result = await sidecar.command(node, args, { encoding: 'raw' }).execute();
    assert.ok(result.stdout instanceof Uint8Array);
    assert.deepEqual(result.stdout, Uint8Array.from({ length: 256 }, (_, i) => i));
    assert.deepEqual(result.stderr, new Uint8Array(0));
  });

  test('another TextDecoder label decodes the output (shift_jis)', { timeout: 20000 }, async () => {
    // "こんにちは" in Shift_JIS.
    const [node, args] = nodeScript('process.stdout.write(Buffer.from([0x82, 0xb1, 0x82, 0xf1, 0x82, 0xc9, 0x82, 0xbf, 0x82, 0xcd]))');
    const result = await sidecar.command(node, args, { encoding: 'shift_jis' }).execute();
    assert.equal(result.stdout, 'こんにちは');
  });

  test('input is fed to stdin and then closed: text, and bytes', { timeout: 20000 }, async () => {
    const text = await sidecar.command('cat', [], { input: 'línea 1\nlínea 2\n' }).execute();
    assert.equal(text.stdout, 'línea 1\nlínea 2\n');
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    const raw = await sidecar.command('cat', [], { input: bytes, encoding: 'raw' }).execute();
    assert.deepEqual(raw.stdout, bytes);
    // Bytes in, text out: the wire is base64 both ways and the text is decoded here.
    const mixed = await sidecar.command('cat', [], { input: new TextEncoder().encode('ö\n') }).execute();
    assert.equal(mixed.stdout, 'ö\n');
  });

  test("stdin 'null' gives end of file at once", { timeout: 20000 }, async () => {
    const result = await sidecar.command('cat', [], { stdin: 'null' }).execute();
    assert.deepEqual(result, { code: 0, signal: null, stdout: '', stderr: '' });
  });

  test('timeout stops the tree and fails with TimedOut, with the output so far', { timeout: 20000 }, async () => {
    const [node, args] = nodeScript('process.stdout.write("started\\n"); setInterval(() => {}, 1000)');
    const started = Date.now();
    await assert.rejects(sidecar.command(node, args, { timeout: 700 }).execute(), (error: SidecarError) => {
      isCode(ErrorCode.TimedOut)(error);
      assert.ok(error.is('TimedOut'));
      assert.equal(error.data.reason, 'timeout');
      assert.equal(error.data.stdout, 'started\n');
      return true;
    });
    assert.ok(Date.now() - started < 5000);
  });

  test('maxBuffer fails with MaxBufferExceeded', { timeout: 20000 }, async () => {
    const [node, args] = nodeScript('process.stdout.write("x".repeat(100000))');
    await assert.rejects(sidecar.command(node, args, { maxBuffer: 1000 }).execute(), (error: SidecarError) => {
      isCode(ErrorCode.MaxBufferExceeded)(error);
      assert.ok(error.is('MaxBufferExceeded'));
      assert.equal(error.data.stream, 'stdout');
      return true;
    });
  });

  test('aborting the signal cancels the request: Cancelled, with the output so far', { timeout: 20000 }, async () => {
    const [node, args] = nodeScript('process.stdout.write("partial"); setInterval(() => {}, 1000)');
    const controller = new AbortController();
    const pending = sidecar.command(node, args, { signal: controller.signal }).execute();
    setTimeout(() => controller.abort(new Error('user gave up')), 500);
    await assert.rejects(pending, (error: SidecarError) => {
      isCode(ErrorCode.Cancelled)(error);
      assert.ok(error.is('Cancelled'));
      assert.equal(error.data.stdout, 'partial');
      return true;
    });
  });

  test('an already aborted signal fails at once without running anything: Aborted, not the sidecar\'s Cancelled', { timeout: 20000 }, async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(sidecar.command('sh', ['-c', 'exit 0'], { signal: controller.signal }).execute(), (error: SidecarError) => {
      isCode(ClientErrorCode.Aborted)(error);
      // Nothing reached the sidecar, so there is no output so far: it must not pass for Cancelled and its data.
      assert.equal(error.is('Cancelled'), false);
      assert.equal(error.data, undefined);
      return true;
    });
  });

  test('the sidecar keeps serving execute while another runs (answers out of order)', { timeout: 20000 }, async () => {
    const slow = sidecar.command('sleep', ['1']).execute();
    const fast = await sidecar.command('printf', ['fast']).execute();
    assert.equal(fast.stdout, 'fast');
    assert.equal((await slow).code, 0);
  });
});
