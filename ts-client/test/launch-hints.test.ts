/**
 * Sidecar.launch() where there is no sidecar to launch: the error says what to install or pass, not only
 * what Python printed. A fresh virtual environment stands for a machine where the Python package was never
 * installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { ClientErrorCode, Sidecar, isSidecarError } from '../src/transports/node.js';
import { python } from './helpers.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'sidecar-hints-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Asserts a ConnectionClosed launch error that tells the user how to get the sidecar. */
function tellsWhatToDo(pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isSidecarError(error), String(error));
    assert.equal(error.code, ClientErrorCode.ConnectionClosed);
    assert.match(error.message, pattern);
    assert.match(error.message, /pip install process-sidecar/);
    assert.match(error.message, /\{ python: /);
    assert.match(error.message, /\{ program: /);
    return true;
  };
}

test('a Python without the sidecar: the error says to pip install it, or to pass python or program', { timeout: 60000 }, async () => {
  const venv = path.join(work, 'venv');
  await promisify(execFile)(python, ['-m', 'venv', '--without-pip', venv], { timeout: 45000 });
  const bare = path.join(venv, 'bin', 'python');
  // Started outside the repository: `-m sidecar` must not find this checkout's package through the cwd.
  await assert.rejects(
    Sidecar.launch({ python: bare, cwd: work, setDefault: false, stderr: 'ignore' }),
    tellsWhatToDo(new RegExp(`${bare.replaceAll('/', '\\/')} has no module named sidecar`)),
  );
});

test('no such Python: the error says so and what to pass instead', { timeout: 30000 }, async () => {
  await assert.rejects(
    Sidecar.launch({ python: path.join(work, 'no-such-python3'), setDefault: false }),
    tellsWhatToDo(/There is no .*no-such-python3 to run the sidecar with/),
  );
});
