// The end-to-end test page (built only by `npm run build:e2e`, opened only by the `e2e` feature's window).
// It runs each scenario in the real webview with the real plugin-shell, and talks to the harness
// (tests/test_tauri_app.py) through the e2e_report command: each message becomes a line on the app's
// stdout; `ask` also waits for the harness's one-line JSON reply, e.g. after it looked at the process table.
import { invoke } from '@tauri-apps/api/core';
import {
  Child,
  Command,
  Sidecar,
  TAURI_SIDECARS_KEY,
  isSidecarError,
  type TerminatedPayload,
} from 'process-sidecar/tauri';
import { type Json, Failure, ask, check, log, outcome, tell } from './harness.js';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with `promise`, or fails the scenario after `ms` (no scenario waits for ever). */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Failure(`timed out after ${ms} ms: ${what}`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every 10 ms until it holds; fails after `ms`. */
async function until(ms: number, what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Failure(`timed out after ${ms} ms: ${what}`);
    await sleep(10);
  }
}

const sidecarPid = (): number | undefined => (JSON.parse(sessionStorage.getItem(TAURI_SIDECARS_KEY) ?? '[]') as number[]).at(-1);
const TREE = ['-c', 'sleep 1000 & sleep 1000 & wait'];

/** Spawns the e2e-tree rule's shell, and has the harness confirm its two sleeps run. */
async function spawnTree() {
  const command = Command.create('sh', TREE);
  const closes: TerminatedPayload[] = [];
  command.on('close', (payload) => closes.push(payload));
  const child = await command.spawn();
  const seen = await ask({ type: 'check', what: 'tree-running', pid: child.pid });
  check(seen.ok, `the harness saw the tree of ${child.pid}: ${JSON.stringify(seen)}`);
  return { child, closes };
}

let sidecar: Sidecar;

const scenarios: Record<string, () => Promise<Json>> = {
  async execute() {
    const result = await within(20000, 'execute', Command.create('sh', ['-c', 'echo out; echo err >&2; exit 3']).execute());
    check(same(result, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' }), `execute gave ${JSON.stringify(result)}`);
    return { result };
  },

  async stream() {
    const command = Command.create('sh', ['-c', `echo one; echo two; printf 'name? '; read name; echo "hello $name"; cat; echo end`]);
    const events: string[] = [];
    command.stdout.on('data', (line) => events.push(line));
    command.stderr.on('data', (line) => events.push(`stderr: ${line}`));
    const closed = new Promise<TerminatedPayload>((resolve) => command.on('close', resolve));
    command.on('close', () => events.push('close'));
    const child = await command.spawn();
    // The prompt has no newline: it arrives by itself, before anything is written.
    await until(10000, `the prompt (events: ${JSON.stringify(events)})`, () => events.includes('name? '));
    check(same(events, ['one\n', 'two\n', 'name? ']), `before any write: ${JSON.stringify(events)}`);
    await child.write('world\n');
    await until(10000, 'hello world', () => events.includes('hello world\n'));
    await child.write('more\n');
    await until(10000, 'cat echoes', () => events.includes('more\n'));
    await child.closeStdin();
    const status = await within(10000, 'close', closed);
    check(same(status, { code: 0, signal: null }), `close ${JSON.stringify(status)}`);
    check(same(events, ['one\n', 'two\n', 'name? ', 'hello world\n', 'more\n', 'end\n', 'close']), `events ${JSON.stringify(events)}`);
    return { events };
  },

  async bytes() {
    const size = 16 * 1024 * 1024;
    const script = 'f=$(mktemp) && head -c 16777216 /dev/urandom > "$f" && sha256sum < "$f" >&2 && cat "$f"; rm -f "$f"';
    const command = Command.create('sh', ['-c', script], { encoding: 'raw' });
    const chunks: Uint8Array[] = [];
    const errChunks: Uint8Array[] = [];
    command.stdout.on('data', (chunk) => chunks.push(chunk));
    command.stderr.on('data', (chunk) => errChunks.push(chunk));
    const started = performance.now();
    const child = await command.spawn();
    const status = await within(120000, '16 MiB', child.wait());
    const seconds = (performance.now() - started) / 1000;
    check(same(status, { code: 0, signal: null }), `exit ${JSON.stringify(status)}`);
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let offset = 0;
    for (const c of chunks) {
      all.set(c, offset);
      offset += c.length;
    }
    check(all.length === size, `received ${all.length} bytes`);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
    const mine = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    const theirs = new TextDecoder().decode(Uint8Array.from(errChunks.flatMap((c) => Array.from(c)))).split(/\s/)[0];
    check(mine === theirs, `SHA-256 here ${mine}, the child's ${theirs}`);
    return { sha256: mine, chunks: chunks.length, seconds: Number(seconds.toFixed(2)), mibPerSecond: Number((16 / seconds).toFixed(1)) };
  },

  async kill() {
    const { child, closes } = await spawnTree();
    await child.kill();
    const status = await within(10000, 'close after kill', child.wait());
    check(same(status, { code: null, signal: 15 }), `close ${JSON.stringify(status)}`);
    check(closes.length === 1, `one close event: ${JSON.stringify(closes)}`);
    const gone = await ask({ type: 'check', what: 'tree-gone', pid: child.pid });
    check(gone.ok, `the harness still sees the tree: ${JSON.stringify(gone)}`);
    return { close: status };
  },

  async terminal() {
    const command = Command.create('bash', [], { pty: { cols: 80, rows: 24 } });
    let screen = '';
    command.stdout.on('data', (text) => (screen += text));
    const child = await command.spawn();
    const expect = async (pattern: RegExp, what: string) => {
      const from = screen.length;
      await until(15000, `${what} (screen: ${JSON.stringify(screen.slice(-300))})`, () => pattern.test(screen.slice(from)));
    };
    const sizeShown = expect(/24 80/, 'stty size 24 80');
    await child.write('stty size\r');
    await sizeShown;
    await child.resize(100, 30);
    const resized = expect(/30 100/, 'stty size 30 100 after resize');
    await child.write('stty size\r');
    await resized;
    await child.write('sleep 1000\r');
    const running = await ask({ type: 'check', what: 'sleep-under', pid: child.pid });
    check(running.ok, `the harness saw sleep 1000 under bash: ${JSON.stringify(running)}`);
    const interrupted = expect(/interrupted 130/, '^C ends sleep with status 130');
    await child.write('\u0003');
    await child.write('echo interrupted $?\r');
    await interrupted;
    const gone = await ask({ type: 'check', what: 'no-sleep-under', pid: child.pid });
    check(gone.ok, `sleep is still there: ${JSON.stringify(gone)}`);
    await child.write('exit\r');
    const status = await within(10000, 'bash exits', child.wait());
    check(same(status, { code: 0, signal: null }), `exit ${JSON.stringify(status)}`);
    return { status };
  },

  async errors() {
    const missing = 'process-sidecar-e2e-no-such-program';
    const caught: Json = {};
    try {
      await Command.create(missing).spawn();
      throw new Failure('a missing program was spawned');
    } catch (error) {
      check(isSidecarError(error), `not a SidecarError: ${String(error)}`);
      check(error.message.includes(missing), `the message does not name it: ${error.message}`);
      caught.missing = { code: error.code, codeName: error.codeName, message: error.message, data: error.data };
    }
    try {
      await Command.create('ls', ['-la']).execute();
      throw new Failure('ls ran outside the scope');
    } catch (error) {
      check(isSidecarError(error) && error.is('ScopeDenied'), `not ScopeDenied: ${String(error)}`);
      check((error.data as { program?: string }).program === 'ls', `data ${JSON.stringify(error.data)}`);
      caught.outside = { code: error.code, codeName: error.codeName, message: error.message, data: error.data };
    }
    const again = await Command.create('sh', ['-c', 'echo out; echo err >&2; exit 3']).execute();
    check(same(again, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' }), `after the errors: ${JSON.stringify(again)}`);
    return caught;
  },

  async childFromPid() {
    const command = Command.create('cat');
    const lines: string[] = [];
    command.stdout.on('data', (line) => lines.push(line));
    const { pid } = await command.spawn();
    // The pid crosses a boundary as a plain number (here: through JSON, as through a store or a message).
    const passed: number = JSON.parse(JSON.stringify({ pid })).pid;
    const child = new Child(passed);
    await child.write('ping\n');
    await until(10000, 'cat echoes through the wrapped child', () => lines.includes('ping\n'));
    await child.kill();
    const status = await within(10000, 'close after kill', child.wait());
    check(same(status, { code: null, signal: 15 }), `close ${JSON.stringify(status)}`);
    const gone = await ask({ type: 'check', what: 'tree-gone', pid });
    check(gone.ok, `the harness still sees ${pid}`);
    return { pid, lines, status };
  },

  /** Lifecycle: reload with children running. The new load reports 'loaded' first, then works as usual. */
  async reload() {
    const trees = [await spawnTree(), await spawnTree()];
    const ok = await ask({ type: 'check', what: 'before-reload', sidecar: sidecarPid(), children: trees.map((t) => t.child.pid) });
    check(ok.ok, 'harness');
    location.reload();
    await sleep(60000); // the page is going away
    throw new Failure('the page did not reload');
  },

  /** Lifecycle: the window is closed with children running. */
  async closeWindow() {
    await spawnTree();
    const ok = await ask({ type: 'check', what: 'before-close', sidecar: sidecarPid() });
    check(ok.ok, 'harness');
    await invoke('e2e_close_window');
    await sleep(60000);
    throw new Failure('the window did not close');
  },

  /** Lifecycle: the harness SIGKILLs the app while children run. */
  async appKilled() {
    await spawnTree();
    await ask({ type: 'check', what: 'before-kill', sidecar: sidecarPid() });
    await sleep(60000);
    throw new Failure('the app was not killed');
  },

  /** Lifecycle: dispose() first: children get SIGTERM and their close events arrive; then the window closes. */
  async dispose() {
    const trees = [await spawnTree(), await spawnTree()];
    const ok = await ask({ type: 'check', what: 'before-dispose', sidecar: sidecarPid() });
    check(ok.ok, 'harness');
    await within(15000, 'dispose', sidecar.dispose());
    await until(5000, 'close events', () => trees.every((t) => t.closes.length === 1));
    const closes = trees.map((t) => t.closes[0]);
    check(closes.every((c) => same(c, { code: null, signal: 15 })), `close events ${JSON.stringify(closes)}`);
    check(sidecar.state === 'closed', `sidecar ${sidecar.state}`);
    return { closes, closeWindow: true };
  },
};

async function main() {
  const load = Number(sessionStorage.getItem('e2e:load') ?? '0') + 1;
  sessionStorage.setItem('e2e:load', String(load));
  const stale = sessionStorage.getItem(TAURI_SIDECARS_KEY);
  await tell({ type: 'loaded', load, staleSidecars: JSON.parse(stale ?? '[]') });
  try {
    sidecar = await within(30000, 'Sidecar.launch', Sidecar.launch({ args: ['--log-level', 'warning'], stderr: (text) => log(text) }));
  } catch (error) {
    await tell({ type: 'fatal', error: String(error) });
    return;
  }
  let next = await ask({ type: 'ready', load, sidecar: sidecarPid(), version: sidecar.info?.serverInfo.version });
  for (;;) {
    const name = String(next.run);
    const scenario = scenarios[name];
    const started = performance.now();
    log(`${name}…`);
    const report = await outcome({ scenario: name }, () => {
      if (!scenario) throw new Failure(`no scenario ${name}`);
      return scenario();
    });
    report.ms = Math.round(performance.now() - started);
    log(`${name}: ${report.ok ? 'ok' : report.error}`);
    if ((report.detail as Json | undefined)?.closeWindow) {
      await tell(report);
      await invoke('e2e_close_window');
      return;
    }
    next = await ask(report);
  }
}

void main();
