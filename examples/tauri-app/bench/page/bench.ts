// The benchmark page (make bench-tauri; built by `npm run build:e2e`, opened only by a `bench` build with
// PROCESS_SIDECAR_TAURI_PAGE=bench.html). It measures one side of one figure at a time, as the harness
// (bench/bench_tauri.py) asks through the e2e_report command, and reports what it saw:
//   direct  = @tauri-apps/plugin-shell's own Command spawning the child (allowed by bench-capability.json),
//   sidecar = the same work through process-sidecar's Command (allowed by the bench-* rules of the sidecar's scope).
// The harness decides the order (alternating per round), sizes, and samples memory from outside (psutil).
import { type Json, Failure, ask, check, log, outcome, tell } from '../../tests/page/harness.js';
import { Command as ShellCommand } from '@tauri-apps/plugin-shell';
import { Command, Sidecar, type TauriLaunchOptions } from 'process-sidecar/tauri';
import { crc32 } from './crc32.js';

type Side = 'direct' | 'sidecar';
const now = () => performance.now();
const round = (value: number, digits = 3) => Number(value.toFixed(digits));

/** What plugin-shell hands a raw listener (a JSON array of numbers through its channel; a Uint8Array in some versions). */
type ShellBytes = number[] | Uint8Array;
const asBytes = (payload: ShellBytes) => (payload instanceof Uint8Array ? payload : Uint8Array.from(payload));

/** The close of a plugin-shell Command, as a promise. */
function shellClosed(command: ShellCommand<any>): Promise<{ code: number | null; signal: number | null }> {
  return new Promise((resolve, reject) => {
    command.on('close', resolve);
    command.on('error', (error: unknown) => reject(new Failure(`plugin-shell error: ${String(error)}`)));
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Busy until `deadline` (performance.now()): the page's handler doing work per event. */
function spinUntil(deadline: number): void {
  while (now() < deadline) {
    // a handler that takes its time
  }
}

interface Params {
  path?: string;
  lines?: number;
  bytes?: number;
  crc?: number;
  count?: number;
  inFlight?: number;
  slowMs?: number;
  directLimitMs?: number;
  warmupBytes?: number;
}

const figures: Record<string, (side: Side, p: Params) => Promise<Json>> = {
  /**
   * A child writes p.bytes of 80-byte lines (cat of a file); the page counts lines: events that end a line
   * (process-sidecar emits a line's start by itself when the rest is more than idleFlushMs late).
   */
  async text(side, p) {
    let lines = 0;
    let bytes = 0;
    let events = 0;
    const started = now();
    let status: { code: number | null; signal: number | null };
    if (side === 'direct') {
      const command = ShellCommand.create('bench-cat-file', [p.path!]);
      command.stdout.on('data', (line: string) => {
        events++;
        if (line.endsWith('\n')) lines++;
        bytes += line.length;
      });
      const closed = shellClosed(command);
      await command.spawn();
      status = await closed;
    } else {
      const command = Command.create('cat', [p.path!]);
      command.stdout.on('data', (line) => {
        events++;
        if (line.endsWith('\n')) lines++;
        bytes += line.length;
      });
      status = await (await command.spawn()).wait();
    }
    const seconds = (now() - started) / 1000;
    check(status.code === 0, `exit ${JSON.stringify(status)}`);
    check(lines === p.lines && bytes === p.bytes, `${lines} lines, ${bytes} bytes; expected ${p.lines}, ${p.bytes}`);
    return { seconds: round(seconds), mibPerSecond: round(bytes / 2 ** 20 / seconds, 2), lines, events };
  },

  /** A child writes p.bytes of random bytes (cat of a file), raw; the page takes the CRC-32 of the chunks. */
  async binary(side, p) {
    let crc = 0;
    let bytes = 0;
    let chunks = 0;
    const take = (chunk: Uint8Array) => {
      crc = crc32(crc, chunk);
      bytes += chunk.length;
      chunks++;
    };
    const started = now();
    let status: { code: number | null; signal: number | null };
    if (side === 'direct') {
      const command = ShellCommand.create('bench-cat-file', [p.path!], { encoding: 'raw' });
      command.stdout.on('data', (payload: ShellBytes) => take(asBytes(payload)));
      const closed = shellClosed(command);
      await command.spawn();
      status = await closed;
    } else {
      const command = Command.create('cat', [p.path!], { encoding: 'raw' });
      command.stdout.on('data', take);
      status = await (await command.spawn()).wait();
    }
    const seconds = (now() - started) / 1000;
    check(status.code === 0, `exit ${JSON.stringify(status)}`);
    check(bytes === p.bytes && crc === p.crc, `${bytes} bytes, CRC-32 ${crc}; expected ${p.bytes}, ${p.crc}`);
    return { seconds: round(seconds), mibPerSecond: round(bytes / 2 ** 20 / seconds, 2), chunks, chunkBytes: Math.round(bytes / chunks) };
  },

  /** p.count executes of `true`, p.inFlight at a time (1: one after the other). */
  async execute(side, p) {
    const inFlight = p.inFlight ?? 1;
    let next = 0;
    const one =
      side === 'direct'
        ? () => ShellCommand.create('bench-true').execute()
        : () => Command.create('true').execute();
    const worker = async () => {
      while (next < p.count!) {
        next++;
        const result = await one();
        check(result.code === 0, `true exited ${JSON.stringify(result)}`);
      }
    };
    const started = now();
    await Promise.all(Array.from({ length: inFlight }, worker));
    const seconds = (now() - started) / 1000;
    return { seconds: round(seconds), perSecond: round(p.count! / seconds, 1) };
  },

  /**
   * p.count round trips of the cheapest call on each road, the floor under every request. direct: a write of
   * nothing to a plugin-shell child (one invoke); sidecar: list (one invoke in, one channel message out).
   */
  async overhead(side, p) {
    const times: number[] = [];
    let finish: () => Promise<unknown>;
    let call: () => Promise<unknown>;
    if (side === 'direct') {
      const command = ShellCommand.create('bench-cat');
      const closed = shellClosed(command);
      const child = await command.spawn();
      call = () => child.write('');
      finish = async () => {
        await child.kill();
        await closed.catch(() => undefined);
      };
    } else {
      call = () => sidecar.list();
      finish = async () => undefined;
    }
    for (let i = 0; i < 20; i++) await call();
    for (let i = 0; i < p.count!; i++) {
      const started = fineClock.edge();
      await call();
      times.push(fineClock.read() - started);
    }
    await finish();
    times.sort((a, b) => a - b);
    return { p50Ms: round(quantile(times, 0.5), 4), p99Ms: round(quantile(times, 0.99), 4) };
  },

  /** p.count round trips of a line through `cat`: write it, wait for it to come back. */
  async echo(side, p) {
    const line = 'ping\n';
    let waiting: ((text: string) => void) | undefined;
    const onLine = (text: string) => {
      const resolve = waiting;
      waiting = undefined;
      resolve?.(text);
    };
    const next = () => new Promise<string>((resolve) => (waiting = resolve));
    let write: (text: string) => Promise<void>;
    let finish: () => Promise<unknown>;
    if (side === 'direct') {
      const command = ShellCommand.create('bench-cat');
      command.stdout.on('data', onLine);
      const closed = shellClosed(command);
      const child = await command.spawn();
      write = (text) => child.write(text);
      // plugin-shell cannot close a child's stdin: kill it.
      finish = async () => {
        await child.kill();
        await closed.catch(() => undefined);
      };
    } else {
      const command = Command.create('cat');
      command.stdout.on('data', onLine);
      const child = await command.spawn();
      write = (text) => child.write(text);
      finish = async () => {
        await child.closeStdin();
        await child.wait();
      };
    }
    // A few unmeasured round trips first: both roads warmed up.
    for (let i = 0; i < 20; i++) await Promise.all([next(), write(line)]);
    const times: number[] = [];
    for (let i = 0; i < p.count!; i++) {
      const started = fineClock.edge();
      const [echoed] = await Promise.all([next(), write(line)]);
      times.push(fineClock.read() - started);
      check(echoed === line, `echoed ${JSON.stringify(echoed)}`);
    }
    await finish();
    times.sort((a, b) => a - b);
    return { p50Ms: round(quantile(times, 0.5), 4), p99Ms: round(quantile(times, 0.99), 4), meanMs: round(times.reduce((a, b) => a + b, 0) / times.length, 4) };
  },

  /**
   * A child floods stdout with p.bytes of zeros (raw); the page's handler takes p.slowMs per event. The harness
   * samples the memory of the app and the web process between mem-start and mem-stop. On plugin-shell's side
   * the harness kills the child after p.directLimitMs (or once memory grew past its limit), and the handler
   * stops taking its time then, so that what piled up drains; the page waits for the close a while, and
   * reports it if it never comes. The sidecar's side runs to the end. First a warm-up: p.warmupBytes through
   * the same road with no delay in the handler, so that the baseline is a page that has done this work before
   * (its JIT code, its garbage collector's heap sized for it), and growth is what the flood adds.
   */
  async flood(side, p) {
    if (p.warmupBytes) {
      let warm = 0;
      if (side === 'direct') {
        const command = ShellCommand.create('bench-flood', ['-c', String(p.warmupBytes), '/dev/zero'], { encoding: 'raw' });
        command.stdout.on('data', (payload: ShellBytes) => (warm += asBytes(payload).length));
        const closed = shellClosed(command);
        await command.spawn();
        await closed;
      } else {
        const command = Command.create('head', ['-c', String(p.warmupBytes), '/dev/zero'], { encoding: 'raw' });
        command.stdout.on('data', (chunk) => (warm += chunk.length));
        await (await command.spawn()).wait();
      }
      check(warm === p.warmupBytes, `warm-up: ${warm} bytes`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const slowMs = p.slowMs ?? 1;
    const limitMs = side === 'direct' ? p.directLimitMs ?? Infinity : Infinity;
    let bytes = 0;
    let events = 0;
    let nonZero = 0;
    let slowUntil: number | undefined;
    let bytesWhenStopped: number | undefined;
    const take = (chunk: Uint8Array) => {
      const arrived = now();
      events++;
      bytes += chunk.length;
      for (let i = 0; i < chunk.length; i += 97) nonZero |= chunk[i];
      if (arrived - started < limitMs) spinUntil(arrived + slowMs);
      else if (slowUntil === undefined) {
        slowUntil = arrived;
        bytesWhenStopped = bytes;
      }
    };
    await ask({ type: 'check', what: 'mem-start', side, limitMs: side === 'direct' ? limitMs : null });
    const started = now();
    let status: { code: number | null; signal: number | null } | undefined;
    if (side === 'direct') {
      const command = ShellCommand.create('bench-flood', ['-c', String(p.bytes), '/dev/zero'], { encoding: 'raw' });
      command.stdout.on('data', (payload: ShellBytes) => take(asBytes(payload)));
      const closed = shellClosed(command);
      await command.spawn();
      // plugin-shell's channel may never deliver the close under such a flood (a lost message stalls it).
      const late = new Promise<undefined>((resolve) => setTimeout(resolve, limitMs + 60000));
      status = await Promise.race([closed, late]);
    } else {
      const command = Command.create('head', ['-c', String(p.bytes), '/dev/zero'], { encoding: 'raw' });
      command.stdout.on('data', take);
      status = await (await command.spawn()).wait();
    }
    const ended = now();
    const memory = await ask({ type: 'check', what: 'mem-stop', side });
    check(nonZero === 0, 'bytes other than zeros arrived');
    const complete = bytes === p.bytes && status?.code === 0;
    if (side === 'sidecar') check(complete, `${bytes} bytes of ${p.bytes} arrived, exit ${JSON.stringify(status)}`);
    return {
      bytes,
      bytesWhenStopped: bytesWhenStopped ?? bytes,
      complete,
      events,
      seconds: round((ended - started) / 1000),
      slowSeconds: round(((slowUntil ?? ended) - started) / 1000),
      closeArrived: status !== undefined,
      status: status ?? null,
      memory,
    };
  },
};

let sidecar: Sidecar;

/**
 * WebKit gives performance.now() in whole milliseconds (no cross-origin isolation here), too coarse for a
 * round trip of about a millisecond. So a timed interval starts right at a tick of that clock (spin until it
 * changes), and its end is refined by spinning to the next tick, counting calls of performance.now(), whose
 * cost is calibrated first: end = next tick - calls x cost. The spinning happens after the event being timed.
 */
const fineClock = {
  step: 1,
  callMs: 0,
  calibrate(): Json {
    let step = Infinity;
    let last = now();
    let calls = 0;
    const first = last;
    while (last - first < 300) {
      const t = now();
      calls++;
      if (t !== last) {
        step = Math.min(step, t - last);
        last = t;
      }
    }
    this.step = step;
    this.callMs = (last - first) / calls;
    return { stepMs: round(step, 6), callNs: round(this.callMs * 1e6, 1) };
  },
  /** Waits for the next tick and returns it: the start of an interval. */
  edge(): number {
    const t0 = now();
    let t = t0;
    while (t === t0) t = now();
    return t;
  },
  /** The present moment, finer than the clock's step (spins up to one step). */
  read(): number {
    if (this.step < 0.05) return now();
    const t0 = now();
    let t = t0;
    let calls = 0;
    while (t === t0) {
      t = now();
      calls++;
    }
    return t - calls * this.callMs;
  },
};

async function main() {
  const load = Number(sessionStorage.getItem('bench:load') ?? '0') + 1;
  sessionStorage.setItem('bench:load', String(load));
  // How the harness wants the sidecar launched (to compare the transport's settings): kept across reloads.
  const launch = JSON.parse(sessionStorage.getItem('bench:launch') ?? '{}') as Pick<TauriLaunchOptions, 'stdoutMode' | 'flowControl'>;
  const asked = now();
  try {
    sidecar = await Sidecar.launch({ args: ['--log-level', 'warning'], stderr: (text) => log(text), ...launch });
  } catch (error) {
    await tell({ type: 'fatal', error: String(error) });
    return;
  }
  const answered = now();
  const startup = { sincePageLoadMs: round(answered, 1), launchMs: round(answered - asked, 1) };
  log(`load ${load}: sidecar answered ${startup.sincePageLoadMs} ms after the page's load`);
  const features = { fromBase64: typeof (Uint8Array as unknown as { fromBase64?: unknown }).fromBase64 === 'function' };
  let next = await ask({ type: 'ready', load, startup, launch, features, flowControl: sidecar.info?.capabilities.flowControl ?? null, clock: fineClock.calibrate() });
  for (;;) {
    if (next.run === 'reload') {
      if (next.launch) sessionStorage.setItem('bench:launch', JSON.stringify(next.launch));
      location.reload();
      return;
    }
    const figure = figures[String(next.run)];
    const side = next.side as Side;
    log(`${String(next.run)} ${side}…`);
    const report = await outcome({ figure: next.run, side }, () => {
      if (!figure) throw new Failure(`no figure ${String(next.run)}`);
      return figure(side, (next.params ?? {}) as Params);
    });
    log(`${String(next.run)} ${side}: ${JSON.stringify(report.ok ? report.detail : report.error)}`);
    next = await ask(report);
  }
}

void main();
