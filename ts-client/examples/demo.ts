/**
 * The demo host: `make demo` from the repository root.
 *
 * It launches the real sidecar (`python -m sidecar` from this checkout) through the Node transport and
 * drives it through both patterns, printing what the host sees: execute, spawn with streamed output,
 * write and closeStdin, a prompt without a newline, kill of a whole process tree, raw bytes (over the raw
 * channel), a shell on a terminal (resize, list, stats), a timeout, and an error.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Command, Sidecar, isSidecarError } from '../src/transports/node.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const venvPython = path.join(repo, '.venv', 'bin', 'python');
const python = process.env.SIDECAR_PYTHON ?? (existsSync(venvPython) ? venvPython : 'python3');

const say = (text: string) => console.log(`\n\u25b6 ${text}`);
const show = (label: string, value: unknown) => console.log(`  ${label.padEnd(8)} ${JSON.stringify(value)}`);

const sidecar = await Sidecar.launch({ python, cwd: repo });
const { serverInfo, protocolVersion } = sidecar.info!;
console.log(`connected to ${serverInfo.name} ${serverInfo.version}, protocol ${protocolVersion}`);

try {
  say('execute: run to completion, collect everything');
  const result = await Command.create('sh', ['-c', 'echo "to stdout"; echo "to stderr" >&2; exit 3']).execute();
  show('result', result);

  say('spawn: output streams back line by line, then close');
  {
    const command = Command.create(process.execPath, ['-e', 'for (let i = 1; i <= 3; i++) setTimeout(() => console.log(`tick ${i}`), i * 100)']);
    command.stdout.on('data', (line) => show('stdout', line));
    command.on('close', (status) => show('close', status));
    const child = await command.spawn();
    show('pid', child.pid);
    await child.wait();
  }

  say('write and closeStdin: `sort` reads to end of file, then answers');
  {
    const command = Command.create('sort');
    command.stdout.on('data', (line) => show('stdout', line));
    const child = await command.spawn();
    for (const word of ['pear\n', 'apple\n', 'fig\n']) {
      await child.write(word);
      show('write', word);
    }
    await child.closeStdin();
    show('close', await child.wait());
  }

  say('a prompt without a newline arrives anyway (no waiting for more output)');
  {
    const command = Command.create('sh', ['-c', 'printf "name? "; read name; echo "hello, $name"']);
    const child = await command.spawn();
    await new Promise<void>((resolve) => {
      command.stdout.once('data', (prompt) => {
        show('stdout', prompt);
        resolve();
      });
    });
    command.stdout.on('data', (line) => show('stdout', line));
    await child.write('demo\n');
    show('close', await child.wait());
  }

  say('kill: SIGTERM reaches the whole tree (sh and both of its sleeping children)');
  {
    const command = Command.create('sh', ['-c', 'sleep 60 & sleep 60 & echo "3 processes running"; wait']);
    command.stdout.on('data', (line) => show('stdout', line));
    const child = await command.spawn();
    await new Promise((resolve) => command.stdout.once('data', resolve));
    await child.kill();
    show('close', await child.wait());
    // Whatever is still in the child's process group, zombies (dead, not yet reaped by init) aside.
    const { stdout } = await Command.create('ps', ['-A', '-o', 'pgid=,stat=,comm=']).execute();
    const left = String(stdout).split('\n').filter((row) => {
      const [pgid, stat] = row.trim().split(/\s+/);
      return pgid === String(child.pid) && !stat?.startsWith('Z');
    });
    show('left', left.length === 0 ? 'nothing in its process group' : left);
  }

  say(`raw bytes: encoding 'raw' gives Uint8Array, byte-exact (${sidecar.rawChannel ? 'binary frames on the raw channel' : 'base64 on the wire'})`);
  {
    const command = Command.create('printf', ['\\000\\001\\377\\n'], { encoding: 'raw' });
    command.stdout.on('data', (bytes) => show('stdout', Array.from(bytes)));
    await (await command.spawn()).wait();
  }

  say('a terminal: a shell on a pty, typed into, resized, listed and measured');
  if (sidecar.info!.capabilities.pty) {
    const command = Command.create('sh', [], { pty: { cols: 80, rows: 24 }, env: { PS1: '$ ' } });
    let screen = '';
    let read = 0; // how much of the screen the demo has shown
    const changed: Array<() => void> = [];
    command.stdout.on('data', (text) => {
      screen += text;
      changed.splice(0).forEach((wake) => wake());
    });
    // The terminal's output up to and including the next `text` (a prompt), once it is there.
    const upTo = async (text: string) => {
      while (!screen.includes(text, read)) await new Promise<void>((wake) => changed.push(wake));
      const end = screen.indexOf(text, read) + text.length;
      const part = screen.slice(read, end);
      read = end;
      return part;
    };
    const child = await command.spawn();
    show('screen', await upTo('$ '));
    await child.write('stty size; tty\r');
    show('screen', await upTo('$ '));
    await child.resize(100, 30);
    show('resize', '100 x 30: the shell gets SIGWINCH');
    await child.write('stty size\r');
    show('screen', await upTo('$ '));
    const listed = (await sidecar.list()).find((entry) => entry.pid === child.pid);
    show('list', { program: listed?.program, pty: listed?.pty });
    const { descendants, rssBytes } = await child.stats();
    show('stats', { descendants, rssKiB: Math.round(rssBytes / 1024) });
    await child.closeStdin(); // ^D: the shell ends, as in a terminal window
    show('close', await child.wait());
  }

  say('timeout: the tree is stopped and the error keeps what was collected');
  try {
    await Command.create('sh', ['-c', 'echo started; sleep 60'], { timeout: 300 }).execute();
  } catch (error) {
    if (!isSidecarError(error)) throw error;
    show('error', { code: error.code, name: error.codeName, message: error.message });
    show('data', error.data);
  }

  say('errors are data: a missing program');
  try {
    await Command.create('no-such-program').spawn();
  } catch (error) {
    if (!isSidecarError(error)) throw error;
    show('error', { code: error.code, message: error.message, data: error.data });
  }
} finally {
  await sidecar.dispose();
  console.log('\nsidecar disposed: every child stopped, the sidecar exited');
}
