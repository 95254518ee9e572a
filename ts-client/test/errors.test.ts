/** Errors answered by the real sidecar arrive as SidecarError with the protocol's codes and data. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode, SidecarError, isSidecarError, type Sidecar } from '../src/transports/node.js';
import { launchSidecar } from './helpers.js';

let sidecar: Sidecar;
before(async () => {
  sidecar = await launchSidecar();
});
after(() => sidecar.dispose());

function expectCode(code: number, check: (error: SidecarError) => void = () => {}) {
  return (error: unknown): boolean => {
    assert.ok(isSidecarError(error), `expected a SidecarError, got ${String(error)}`);
    assert.equal(error.code, code, `${error.code}: ${error.message}`);
    assert.ok(error.message.length > 0);
    check(error);
    return true;
  };
}

test('a missing program fails spawn with SpawnFailed, data.code ENOENT', { timeout: 20000 }, async () => {
  await assert.rejects(
    sidecar.command('definitely-not-a-program-ps').spawn(),
    expectCode(ErrorCode.SpawnFailed, (error) => {
      assert.ok(error.is('SpawnFailed'));
      assert.equal(error.data.code, 'ENOENT');
      assert.equal(error.data.program, 'definitely-not-a-program-ps');
      assert.equal(error.method, 'spawn');
      assert.equal(error.codeName, 'SpawnFailed');
    }),
  );
});

test('execute of a missing program, and a missing cwd, fail with SpawnFailed', { timeout: 20000 }, async () => {
  await assert.rejects(
    sidecar.command('/no/such/program').execute(),
    expectCode(ErrorCode.SpawnFailed, (e) => assert.equal((e.data as { code: string }).code, 'ENOENT')),
  );
  await assert.rejects(sidecar.command('true', [], { cwd: '/no/such/dir' }).execute(), expectCode(ErrorCode.SpawnFailed));
});

test('a pid this sidecar did not spawn is UnknownProcess', { timeout: 20000 }, async () => {
  await assert.rejects(
    sidecar.request('kill', { pid: 999999 }),
    expectCode(ErrorCode.UnknownProcess, (e) => assert.deepEqual(e.data, { pid: 999999 })),
  );
  await assert.rejects(sidecar.request('write', { pid: process.pid, data: 'x' }), expectCode(ErrorCode.UnknownProcess));
});

test("writing to a child spawned with stdin 'null' is StdinUnavailable", { timeout: 20000 }, async () => {
  const child = await sidecar.command('sleep', ['5'], { stdin: 'null' }).spawn();
  try {
    await assert.rejects(
      child.write('x'),
      expectCode(ErrorCode.StdinUnavailable, (e) => assert.equal((e.data as { reason: string }).reason, 'null')),
    );
  } finally {
    await child.kill('SIGKILL');
    await child.wait();
  }
});

test('invalid params are InvalidParams naming the field', { timeout: 20000 }, async () => {
  await assert.rejects(
    // Deliberately wrong on the wire: args must be strings.
    sidecar.request('spawn', { program: 'true', args: [1 as unknown as string] }),
    expectCode(ErrorCode.InvalidParams, (e) => assert.match(String((e.data as { field: string }).field), /args/)),
  );
});

test('an unknown encoding label is refused here, before anything is sent', { timeout: 20000 }, async () => {
  await assert.rejects(sidecar.command('true', [], { encoding: 'klingon' }).spawn(), expectCode(ErrorCode.InvalidParams));
});

test('the connection keeps serving after errors', { timeout: 20000 }, async () => {
  const result = await sidecar.command('printf', ['ok']).execute();
  assert.equal(result.stdout, 'ok');
});
