// The page: everything it runs goes through the bundled sidecar (process-sidecar/tauri starts it with
// @tauri-apps/plugin-shell). The sidecar runs only what src-tauri/sidecar-scope.toml allows, and the programs
// and arguments below are exactly those of its rules.
import { Terminal } from '@xterm/xterm';
import { Command, Sidecar, isSidecarError, type Child } from 'process-sidecar/tauri';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const output = $<HTMLPreElement>('output');
const stdin = $<HTMLInputElement>('stdin');
const [runButton, killButton, closeStdinButton] = [$('run'), $('kill'), $('close-stdin')] as HTMLButtonElement[];

const presets: Record<string, [string, string[]]> = {
  ticker: ['sh', ['-c', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 1; done']],
  greeter: ['sh', ['-c', `printf 'your name? '; read name; echo "hello, $name"; echo 'now type lines; close stdin to end'; cat; echo bye`]],
  cat: ['cat', []],
  ls: ['ls', ['-la']], // no rule allows it: the sidecar refuses with ScopeDenied
};

function print(text: string, className?: string) {
  const span = document.createElement('span');
  span.textContent = text;
  if (className) span.className = className;
  output.append(span);
  output.scrollTop = output.scrollHeight;
}

let running: Child | undefined;
function setRunning(child: Child | undefined) {
  running = child;
  killButton.disabled = stdin.disabled = closeStdinButton.disabled = !child;
  if (child) stdin.focus();
}

runButton.onclick = async () => {
  const [program, args] = presets[$<HTMLSelectElement>('preset').value]!;
  output.textContent = '';
  const command = Command.create(program, args);
  command.stdout.on('data', (line) => print(line));
  command.stderr.on('data', (line) => print(line, 'stderr'));
  command.on('close', ({ code, signal }) => {
    print(`\n[exited: ${signal === null ? `code ${code}` : `signal ${signal}`}]\n`);
    setRunning(undefined);
  });
  try {
    setRunning(await command.spawn());
  } catch (error) {
    report(error);
  }
};
/** A failed call (the child has just ended, the sidecar is gone) is shown, not left unhandled. */
function report(error: unknown) {
  print(`\n${isSidecarError(error) ? `${error.codeName}: ` : ''}${(error as Error).message}\n`, 'stderr');
}

killButton.onclick = () => running?.kill().catch(report); // SIGTERM to the whole tree, SIGKILL 2 s later
closeStdinButton.onclick = () => {
  running?.closeStdin().catch(report);
  stdin.disabled = closeStdinButton.disabled = true; // nothing more can be typed to it
};
stdin.onkeydown = (event) => {
  if (event.key !== 'Enter' || !running) return;
  const line = `${stdin.value}\n`;
  stdin.value = '';
  print(line, 'stderr');
  running.write(line).catch(report);
};

async function startTerminal() {
  const term = new Terminal({ cols: 100, rows: 18, fontSize: 13 });
  term.open($('terminal'));
  const command = Command.create('bash', [], { pty: { cols: term.cols, rows: term.rows }, encoding: 'raw' });
  command.stdout.on('data', (bytes) => term.write(bytes)); // escape sequences and all, byte-exact
  command.on('close', ({ code, signal }) => term.write(`\r\n[bash exited: ${code ?? `signal ${signal}`}]\r\n`));
  const shell = await command.spawn();
  // After bash has exited these fail (UnknownProcess); its close event has said so already.
  term.onData((keys) => void shell.write(keys).catch(() => {})); // ^C is '\x03': SIGINT to the foreground job
  term.onResize(({ cols, rows }) => void shell.resize(cols, rows).catch(() => {})); // SIGWINCH
  term.focus();
}

try {
  // Starts binaries/process-sidecar. A reload of this page ends the sidecar that the previous load started.
  const sidecar = await Sidecar.launch({ args: ['--log-level', 'error'] });
  $('status').textContent = `${sidecar.info!.serverInfo.name} ${sidecar.info!.serverInfo.version} is running.`;
  await startTerminal();
} catch (error) {
  $('status').textContent = `The sidecar did not start: ${(error as Error).message}`;
}
