/**
 * Whether the sidecar keeps Node running (Transport.setBusy, the Node transport's ref/unref): a busy sidecar
 * (a spawned child still running, a call waiting for its answer) keeps the program alive until that work is
 * over; an idle one lets it end, without dispose(). Each case is a separate Node program run against the real
 * sidecar; the README's own example is run in package.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { clientDir, python, repoRoot } from './helpers.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'sidecar-idle-'));
after(() => rmSync(work, { recursive: true, force: true }));

const entry = path.join(clientDir, 'src', 'transports', 'node.ts');

/** Runs `body` (top-level await allowed) as a program of its own; resolves with its stdout once it has exited. */
async function runProgram(name: string, body: string): Promise<string> {
  const file = path.join(work, `${name}.mts`);
  writeFileSync(
    file,
    `import { Command, Sidecar } from ${JSON.stringify(entry)};\n` +
      `await Sidecar.launch({ python: ${JSON.stringify(python)}, cwd: ${JSON.stringify(repoRoot)}, args: ['--log-level', 'error'] });\n` +
      `${body}\n` +
      `process.on('exit', (status) => console.log('exit', status));\n`,
  );
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], {
    cwd: clientDir,
    timeout: 30000,
    killSignal: 'SIGKILL',
  });
  return stdout;
}

test('a running child with listeners keeps the program alive until its close, then the program ends', { timeout: 40000 }, async () => {
  const stdout = await runProgram(
    'child-with-listeners',
    `const command = Command.create('sh', ['-c', 'sleep 1; echo late']);
     command.stdout.on('data', (line) => process.stdout.write('out ' + line));
     command.on('close', ({ code }) => console.log('close', code));
     await command.spawn();
     console.log('spawned');`,
  );
  assert.deepEqual(stdout.trim().split('\n'), ['spawned', 'out late', 'close 0', 'exit 0']);
});

test('a running child without listeners keeps the program alive too (the sidecar would stop it at exit)', { timeout: 40000 }, async () => {
  const marker = path.join(work, 'ran-to-the-end');
  const stdout = await runProgram(
    'child-without-listeners',
    `await Command.create('sh', ['-c', 'sleep 1; touch "$0"', ${JSON.stringify(marker)}]).spawn();`,
  );
  assert.equal(stdout.trim(), 'exit 0');
  // Had the program ended at once, the sidecar would have read end of file and stopped sh before the touch.
  assert.ok(existsSync(marker), 'the child was stopped before it finished');
});

test('a pending execute keeps the program alive until its answer', { timeout: 40000 }, async () => {
  const stdout = await runProgram(
    'pending-execute',
    `void Command.create('sh', ['-c', 'sleep 1; echo executed']).execute().then(({ stdout }) => process.stdout.write(stdout));`,
  );
  assert.deepEqual(stdout.trim().split('\n'), ['executed', 'exit 0']);
});

test('an idle sidecar lets the program end: right after launch, and after work is done', { timeout: 40000 }, async () => {
  assert.equal((await runProgram('idle-after-launch', '')).trim(), 'exit 0');
  const stdout = await runProgram(
    'idle-after-work',
    `const { stdout } = await Command.create('echo', ['one']).execute();
     const child = await Command.create('cat').spawn();
     await child.closeStdin();
     console.log(stdout.trim(), (await child.wait()).code);`,
  );
  assert.deepEqual(stdout.trim().split('\n'), ['one 0', 'exit 0']);
});
