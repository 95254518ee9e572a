/** Launch, default sidecar, dispose, an unexpected sidecar exit, and many children at once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ClientErrorCode,
  Command,
  ErrorCode,
  Sidecar,
  getDefaultSidecar,
  isSidecarError,
  setDefaultSidecar,
  type SidecarCloseEvent,
  type SidecarError,
  type TerminatedPayload,
} from '../src/transports/node.js';
import { TEST_ARGS, eventually, launchSidecar, nextEvent, nodeScript, processExists, python, repoRoot, testTransport } from './helpers.js';

function hasCode(code: number) {
  return (error: unknown): boolean => {
    assert.ok(isSidecarError(error), `expected a SidecarError, got ${String(error)}`);
    assert.equal(error.code, code, `${error.code}: ${error.message}`);
    return true;
  };
}

test('launch answers initialize and fills in info', { timeout: 30000 }, async () => {
  const sidecar = await launchSidecar();
  try {
    assert.equal(sidecar.state, 'open');
    assert.equal(sidecar.info?.serverInfo.name, 'process-sidecar');
    assert.equal(sidecar.info?.protocolVersion, '1');
    assert.ok(sidecar.info?.capabilities.signals.includes('SIGTERM'));
  } finally {
    await sidecar.dispose();
  }
});

test('Command.create runs on the default sidecar that launch() sets, and fails clearly without one', { timeout: 30000 }, async () => {
  setDefaultSidecar(null);
  await assert.rejects(Command.create('true').execute(), hasCode(ClientErrorCode.NotConnected));
  const sidecar = await Sidecar.launch({ python, cwd: repoRoot, args: TEST_ARGS });
  try {
    assert.equal(getDefaultSidecar(), sidecar);
    const result = await Command.create('printf', ['%s', 'via default']).execute();
    assert.equal(result.stdout, 'via default');
    const args = Command.create('printf', 'single-arg').args;
    assert.deepEqual(args, ['single-arg']);
  } finally {
    await sidecar.dispose();
  }
  assert.equal(getDefaultSidecar(), null);
});

test('launch fails with the reason when the sidecar cannot start', { timeout: 30000 }, async () => {
  await assert.rejects(Sidecar.launch({ python: '/no/such/python', setDefault: false }), (error: unknown) => {
    hasCode(ClientErrorCode.ConnectionClosed)(error);
    assert.match((error as Error).message, /ENOENT/);
    return true;
  });
  await assert.rejects(
    Sidecar.launch({ program: 'sh', args: ['-c', 'echo no module named sidecar >&2; exit 3'], setDefault: false, stderr: 'ignore' }),
    (error: unknown) => {
      hasCode(ClientErrorCode.ConnectionClosed)(error);
      assert.match((error as Error).message, /exited with code 3.*no module named sidecar/s);
      return true;
    },
  );
});

test('dispose rejects pending calls with one Disposed error, stops children, ends the sidecar, and is idempotent', { timeout: 30000 }, async () => {
  const transport = testTransport();
  const sidecar = await Sidecar.launch({ transport, setDefault: false });
  const sidecarPid = transport.pid!;
  assert.ok(processExists(sidecarPid));
  // Answers to calls that dispose gave up on must not surface as protocol errors.
  const protocolErrors: SidecarError[] = [];
  sidecar.on('error', (e) => protocolErrors.push(e));

  const [node, args] = nodeScript('process.stdout.write("ready\\n"); setInterval(() => {}, 1000)');
  const command = sidecar.command(node, args);
  const ready = nextEvent(command.stdout, 'data');
  const child = await command.spawn();
  await ready;
  const closed = nextEvent(command, 'close');

  const pendingA = sidecar.command('sleep', ['30']).execute();
  const pendingB = sidecar.command('sleep', ['30']).execute();
  const errors: unknown[] = [];
  pendingA.catch((e: unknown) => errors.push(e));
  pendingB.catch((e: unknown) => errors.push(e));

  const first = sidecar.dispose();
  const second = sidecar.dispose();
  assert.equal(first, second);
  assert.equal(sidecar.state, 'disposing');
  await assert.rejects(pendingA, hasCode(ClientErrorCode.Disposed));
  await assert.rejects(pendingB, hasCode(ClientErrorCode.Disposed));
  assert.equal(errors[0], errors[1], 'one error for all pending calls');
  await first;
  assert.equal(sidecar.state, 'closed');
  // The spawned child was stopped by the sidecar's shutdown and its exit still reported.
  assert.deepEqual(await closed, { code: null, signal: 15 } satisfies TerminatedPayload);
  assert.deepEqual(await child.wait(), { code: null, signal: 15 });
  assert.ok(await eventually(() => !processExists(child.pid)));
  assert.ok(await eventually(() => !processExists(sidecarPid)), 'the sidecar process has exited');
  await sidecar.dispose();
  await assert.rejects(sidecar.command('true').execute(), hasCode(ClientErrorCode.NotConnected));
  assert.deepEqual(protocolErrors, []);
});

test('an unexpected sidecar exit rejects pending calls and ends live children with error and close', { timeout: 30000 }, async () => {
  const transport = testTransport();
  const sidecar = await Sidecar.launch({ transport, setDefault: false });
  const [node, args] = nodeScript('process.stdout.write("ready\\n"); setTimeout(() => {}, 20000)');
  const command = sidecar.command(node, args);
  const ready = nextEvent(command.stdout, 'data');
  const child = await command.spawn();
  await ready;
  const events: string[] = [];
  let error: SidecarError | undefined;
  command.on('error', (e) => {
    events.push('error');
    error = e;
  });
  command.on('close', (payload) => events.push(`close ${JSON.stringify(payload)}`));
  const sidecarClosed = nextEvent(sidecar, 'close');
  // Short: a SIGKILLed sidecar cannot stop this child, and its pid is not ours to kill.
  const pending = sidecar.command('sleep', ['2']).execute();
  const exited = child.wait();
  try {
    process.kill(transport.pid!, 'SIGKILL');
    await assert.rejects(pending, hasCode(ClientErrorCode.ConnectionClosed));
    await assert.rejects(exited, hasCode(ClientErrorCode.ConnectionClosed));
    assert.deepEqual(events, ['error', 'close {"code":null,"signal":null}']);
    assert.equal(error?.code, ClientErrorCode.ConnectionClosed);
    const info: SidecarCloseEvent = await sidecarClosed;
    assert.equal(info.signal, 'SIGKILL');
    assert.equal(sidecar.state, 'closed');
    await assert.rejects(sidecar.command('true').execute(), hasCode(ClientErrorCode.NotConnected));
    await sidecar.dispose(); // still fine
  } finally {
    // A SIGKILLed sidecar cannot stop its children; do it here.
    for (const pid of [child.pid]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

test('50 concurrent children, spawned and executed, each gets its own output', { timeout: 60000 }, async () => {
  const sidecar = await launchSidecar();
  try {
    const n = 50;
    const spawned = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const command = sidecar.command('sh', ['-c', `echo start ${i}; sleep 0.2; echo end ${i}; exit ${i % 5}`]);
        const lines: string[] = [];
        command.stdout.on('data', (line) => lines.push(line));
        const child = await command.spawn();
        const status = await child.wait();
        return { i, lines, status };
      }),
    );
    for (const { i, lines, status } of spawned) {
      assert.deepEqual(lines, [`start ${i}\n`, `end ${i}\n`]);
      assert.deepEqual(status, { code: i % 5, signal: null });
    }
    const executed = await Promise.all(Array.from({ length: n }, (_, i) => sidecar.command('printf', [`%s`, `r${i}`]).execute()));
    executed.forEach((r, i) => assert.equal(r.stdout, `r${i}`));
    assert.equal(ErrorCode.SpawnFailed, -32000);
  } finally {
    await sidecar.dispose();
  }
});
