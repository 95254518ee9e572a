/**
 * Command.sidecar(name): a binary shipped beside the sidecar, found in the directory the sidecar reports in
 * initialize (serverInfo.executableDir). With `python -m sidecar` that is its Python's directory, so the
 * Python itself is a binary "beside the sidecar" to run. The bundled binary's own directory is checked by
 * tests/bundle/test_beside_the_sidecar.py.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Command, ErrorCode, Sidecar, isSidecarError, setDefaultSidecar } from '../src/transports/node.js';
import { launchSidecar, python, testTransport } from './helpers.js';

/** The test's Python as the sidecar sees itself (sys.executable), which `python` may name through PATH. */
const pythonPath = execFileSync(python, ['-c', 'import os, sys; print(os.path.abspath(sys.executable))'], { encoding: 'utf8' }).trim();

let sidecar: Sidecar;
before(async () => {
  sidecar = await launchSidecar();
  setDefaultSidecar(sidecar);
});
after(async () => {
  setDefaultSidecar(null);
  await sidecar.dispose();
});

test("initialize reports the sidecar's executable directory", { timeout: 30000 }, () => {
  assert.equal(sidecar.info?.serverInfo.executableDir, path.dirname(pythonPath));
});

test('Command.sidecar runs <executableDir>/<last part of the name>, as the shell plugin does', { timeout: 30000 }, async () => {
  const name = `binaries/${path.basename(pythonPath)}`;
  const command = Command.sidecar(name, ['-c', 'import sys; print(sys.argv[1:])', 'one arg']);
  assert.equal(command.besideSidecar, true);
  assert.equal(command.program, name);
  const { code, stdout } = await command.execute();
  assert.equal(code, 0);
  assert.equal(stdout, "['one arg']\n");

  const raw = Command.sidecar(path.basename(pythonPath), ['-c', 'import sys; sys.stdout.buffer.write(bytes([0, 255]))'], { encoding: 'raw' });
  const child = await raw.spawn();
  const chunks: Uint8Array[] = [];
  raw.stdout.on('data', (chunk) => chunks.push(chunk));
  assert.equal((await child.wait()).code, 0);
  assert.deepEqual([...Buffer.concat(chunks)], [0, 255]);
  assert.equal(Command.create('python3').besideSidecar, false);
});

test('Command.sidecar with no binary named, or a sidecar that did not say where it is, fails with InvalidParams', { timeout: 30000 }, async () => {
  for (const name of ['', 'binaries/', '..']) {
    await assert.rejects(Command.sidecar(name).execute(), (error: unknown) => {
      assert.ok(isSidecarError(error) && error.code === ErrorCode.InvalidParams, String(error));
      assert.match(error.message, /names no binary/);
      return true;
    });
  }
  // Connected but not initialized: the client has not learnt the directory (as with a sidecar too old to say).
  const unaware = new Sidecar(testTransport());
  try {
    assert.throws(() => unaware.programBesideSidecar('binaries/ffmpeg'), (error: unknown) => {
      assert.ok(isSidecarError(error) && error.code === ErrorCode.InvalidParams, String(error));
      assert.match(error.message, /needs to know where the sidecar is installed.*has not answered initialize/);
      return true;
    });
  } finally {
    await unaware.dispose();
  }
});
