/**
 * The stream transports: the sidecar reached through streams the host already holds (here, the stdio of a
 * sidecar process started by the test, as an ssh session would provide them).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { test } from 'node:test';
import { Sidecar, createEventStreamTransport, createStreamTransport } from '../src/index.js';
import { TEST_ARGS, python, repoRoot } from './helpers.js';

function startSidecarProcess() {
  const proc = spawn(python, ['-m', 'sidecar', ...TEST_ARGS], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return { proc, exited };
}

test('Web ReadableStream/WritableStream pair', { timeout: 30000 }, async () => {
  const { proc, exited } = startSidecarProcess();
  const transport = createStreamTransport({
    readable: Readable.toWeb(proc.stdout) as ReadableStream<Uint8Array>,
    writable: Writable.toWeb(proc.stdin) as WritableStream<Uint8Array>,
    onDestroy: () => proc.kill('SIGKILL'),
  });
  const sidecar = await Sidecar.launch({ transport, setDefault: false });
  try {
    const command = sidecar.command('sh', ['-c', 'echo one; echo two >&2']);
    const seen: string[] = [];
    command.stdout.on('data', (l) => seen.push(`out ${l}`));
    command.stderr.on('data', (l) => seen.push(`err ${l}`));
    const child = await command.spawn();
    assert.deepEqual(await child.wait(), { code: 0, signal: null });
    assert.deepEqual(seen.sort(), ['err two\n', 'out one\n']);
  } finally {
    await sidecar.dispose();
  }
  assert.equal(await exited, 0);
});

test('Node-style event streams, duck-typed', { timeout: 30000 }, async () => {
  const { proc, exited } = startSidecarProcess();
  const transport = createEventStreamTransport({ readable: proc.stdout, writable: proc.stdin, destroy: () => proc.kill('SIGKILL') });
  const sidecar = await Sidecar.launch({ transport, setDefault: false });
  try {
    const result = await sidecar.command('cat', [], { input: 'through a stream\n' }).execute();
    assert.equal(result.stdout, 'through a stream\n');
  } finally {
    await sidecar.dispose();
  }
  assert.equal(await exited, 0);
});
