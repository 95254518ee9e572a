/**
 * `new Child(pid)`, as @tauri-apps/plugin-shell allows: a pid handed around as a plain number (through a
 * store, a message, a reload of state) is wrapped again and still writes, kills and, when this client spawned
 * it, waits.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Child, Command, ErrorCode, Sidecar, isSidecarError, setDefaultSidecar } from '../src/transports/node.js';
import { TEST_ARGS, nextEvent, python, repoRoot } from './helpers.js';

let sidecar: Sidecar;

before(async () => {
  sidecar = await Sidecar.launch({ python, cwd: repoRoot, args: TEST_ARGS });
});

after(async () => {
  await sidecar.dispose();
});

test('new Child(pid) of a running child writes, closes stdin and waits, as the same child', { timeout: 30000 }, async () => {
  const command = Command.create('cat');
  const lines: string[] = [];
  command.stdout.on('data', (line) => lines.push(line));
  const { pid } = await command.spawn();

  const again = new Child(pid); // the pid alone, as it would arrive from elsewhere
  assert.equal(again.pid, pid);
  assert.equal(again.command, command, 'the Command it was spawned from, with its events');
  const echoed = nextEvent(command.stdout, 'data');
  await again.write('hello\n');
  assert.equal(await echoed, 'hello\n');
  await again.closeStdin();
  assert.deepEqual(await again.wait(), { code: 0, signal: null });
  assert.deepEqual(again.exitStatus, { code: 0, signal: null });
  assert.deepEqual(lines, ['hello\n']);
});

test('new Child(pid).kill() stops the whole tree', { timeout: 30000 }, async () => {
  const command = Command.create('sh', ['-c', 'sleep 1000 & sleep 1000 & wait']);
  const closed = nextEvent(command, 'close');
  const child = await command.spawn();
  await new Child(child.pid).kill();
  assert.deepEqual(await closed, { code: null, signal: 15 });
  assert.deepEqual(await sidecar.list(), []);
});

test('new Child(pid) made before the sidecar is launched uses the default sidecar of the time of the call', { timeout: 30000 }, async () => {
  setDefaultSidecar(null);
  const early = new Child(1);
  await assert.rejects(early.write('x'), (error: unknown) => isSidecarError(error) && error.codeName === 'NotConnected');
  setDefaultSidecar(sidecar);
  const child = await Command.create('cat').spawn();
  const late = new Child(child.pid);
  await late.kill();
  assert.equal((await child.wait()).signal, 15);
});

test('new Child(pid) of a pid this sidecar is not running: requests fail with UnknownProcess, wait() too', { timeout: 30000 }, async () => {
  const stranger = new Child(2 ** 22 + 7);
  await assert.rejects(stranger.write('x'), (error: unknown) => isSidecarError(error) && error.code === ErrorCode.UnknownProcess);
  await assert.rejects(stranger.kill(), (error: unknown) => isSidecarError(error) && error.code === ErrorCode.UnknownProcess);
  await assert.rejects(stranger.wait(), (error: unknown) => isSidecarError(error) && error.code === ErrorCode.UnknownProcess);
  assert.equal(stranger.exitStatus, undefined);
  assert.equal(stranger.command.listenerCount('close'), 0);
});
