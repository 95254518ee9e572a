/**
 * The benchmark: the same work through the sidecar (the TypeScript client over its Node transport) and
 * through Node's own child_process, in one run, alternating which goes first, over several rounds. Prints
 * the medians and the ratio sidecar/direct per figure, and writes them as JSON.
 *
 *   npm run bench                  # full: 256 MiB relays, 300 executes, 2000 echoes, 1000 children (a few minutes)
 *   npm run bench -- --quick       # smaller and fewer rounds (under a minute); writes results/quick.json
 *   npm run bench -- --smoke       # seconds; proves the benchmark still runs (the test suite uses it)
 *   npm run bench -- --only utf8-throughput,echo-latency --out /tmp/x.json
 *   npm run bench -- --only startup-onedir --onedir path/to/process-sidecar-<triple>   # that binary, unbuilt
 *
 * The figure startup-onedir runs the bundled onedir binary: the full and quick runs build it first with
 * `python -m sidecar.bundle --onedir --reuse` into build/bench-bundle/ (seconds when nothing changed, about a
 * minute when something did); the smoke run measures it only when given one with --onedir.
 *
 * Figures are judged by ratios measured side by side on the same machine at the same time, never by an
 * absolute time, except startup and memory, whose targets are absolute.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Sidecar, createNodeTransport, type NodeLaunchOptions } from '../src/transports/node.js';
import {
  MiB,
  addedMedian,
  busyWait,
  childPids,
  formatTable,
  judge,
  machineInfo,
  median,
  nowMs,
  percentile,
  pssMiB,
  round,
  rssMiB,
  sleep,
  withCpu,
  type Figure,
} from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const clientDir = path.resolve(here, '..');
const repoRoot = path.resolve(clientDir, '..');
const python =
  process.env.SIDECAR_PYTHON ||
  (existsSync(path.join(repoRoot, '.venv', 'bin', 'python')) ? path.join(repoRoot, '.venv', 'bin', 'python') : 'python3');
const SIDECAR_ARGS = ['--log-level', 'error'];

// ---- modes ------------------------------------------------------------------------------------------------

interface Config {
  /** Bytes a child writes in the throughput figures. */
  relayBytes: number;
  relayRounds: number;
  execCount: number;
  execConcurrency: number;
  execRounds: number;
  echoCount: number;
  echoRounds: number;
  startupRuns: number;
  /** How long the host stalls (reads nothing) while a child floods. */
  stallMs: number;
  scaleChildren: number;
  scaleRounds: number;
  /** Whether each side gets one untimed run first. */
  warmUp: boolean;
}

const MODES: Record<'full' | 'quick' | 'smoke', Config> = {
  full: {
    relayBytes: 256 * MiB, relayRounds: 5, execCount: 300, execConcurrency: 16, execRounds: 5, echoCount: 2000,
    echoRounds: 5, startupRuns: 11, stallMs: 3000, scaleChildren: 1000, scaleRounds: 3, warmUp: true,
  },
  quick: {
    relayBytes: 32 * MiB, relayRounds: 3, execCount: 100, execConcurrency: 16, execRounds: 3, echoCount: 500,
    echoRounds: 3, startupRuns: 5, stallMs: 1500, scaleChildren: 200, scaleRounds: 1, warmUp: true,
  },
  smoke: {
    relayBytes: 256 * 1024, relayRounds: 1, execCount: 4, execConcurrency: 2, execRounds: 1, echoCount: 10,
    echoRounds: 1, startupRuns: 1, stallMs: 200, scaleChildren: 4, scaleRounds: 1, warmUp: false,
  },
};

interface Cli {
  mode: keyof typeof MODES;
  only: Set<string> | undefined;
  out: string | undefined;
  /** A onedir binary to measure instead of building one. */
  onedir: string | undefined;
}

function parseCli(argv: string[]): Cli {
  const cli: Cli = { mode: 'full', only: undefined, out: undefined, onedir: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const inline = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (inline === undefined) throw new Error(`${arg} needs a value`);
      return inline;
    };
    if (arg === '--quick') cli.mode = 'quick';
    else if (arg === '--smoke') cli.mode = 'smoke';
    else if (arg === '--full') cli.mode = 'full';
    else if (arg.startsWith('--only')) cli.only = new Set(value().split(','));
    else if (arg.startsWith('--out')) cli.out = value();
    else if (arg.startsWith('--onedir')) cli.onedir = path.resolve(value());
    else throw new Error(`unknown argument ${arg} (use --quick, --smoke, --only a,b, --out file, --onedir binary)`);
  }
  return cli;
}

/** The sidecar the figures share, and its process id (for its RSS and CPU time). */
interface Shared {
  sidecar: Sidecar;
  pid: number;
}

/** CPU per unit of work, as medians over the rounds: the sidecar's own, and the host's on each side. */
class CpuLog {
  readonly directHost: number[] = [];
  readonly sidecar: number[] = [];
  readonly sidecarHost: number[] = [];
  constructor(readonly unit: string, readonly per: number) {}
  summary() {
    const m = (xs: number[]) => round(median(xs) / this.per);
    return { unit: this.unit, directHost: m(this.directHost), sidecar: m(this.sidecar), sidecarHost: m(this.sidecarHost) };
  }
}

// ---- running things both ways -----------------------------------------------------------------------------

/** Runs `rounds` rounds of both sides, alternating which goes first. Returns the per-round values. */
async function alternate(
  rounds: number,
  direct: () => Promise<number>,
  sidecar: () => Promise<number>,
): Promise<{ direct: number[]; sidecar: number[] }> {
  const out = { direct: [] as number[], sidecar: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      out.direct.push(await direct());
      out.sidecar.push(await sidecar());
    } else {
      out.sidecar.push(await sidecar());
      out.direct.push(await direct());
    }
  }
  return out;
}

function expectEqual(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: got ${actual}, expected ${expected}`);
}

/** Resolves when a Node child has exited and its stdio is closed; rejects on a failure exit. */
function closed(proc: ReturnType<typeof spawn>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (code === 0 || signal === 'SIGPIPE') resolve();
      else reject(new Error(`${what} exited with ${code ?? signal}`));
    });
  });
}

// ---- figures ----------------------------------------------------------------------------------------------

/** A shell command writing `bytes` bytes of 80-byte ASCII lines. */
function textLinesCommand(bytes: number): string {
  return `yes '${'x'.repeat(79)}' | head -c ${bytes}`;
}

/**
 * The rounds of a relay figure: `bytes` through Node's child_process (`direct`) and through the sidecar
 * (`viaSidecar`), alternating, in MiB/s, with the CPU each side used per MiB. Each function relays `n` bytes
 * and checks that all of them arrived; a warm-up relays an eighth first.
 */
async function relayRounds(
  pid: number,
  config: Config,
  bytes: number,
  direct: (n: number) => Promise<void>,
  viaSidecar: (n: number) => Promise<void>,
) {
  const cpu = new CpuLog('CPU ms per MiB', bytes / MiB);
  const timedDirect = async (n: number) => {
    const { value: ms, hostCpuMs } = await withCpu(undefined, async () => {
      const t0 = nowMs();
      await direct(n);
      return nowMs() - t0;
    });
    if (n === bytes) cpu.directHost.push(hostCpuMs);
    return (n / MiB) / (ms / 1000);
  };
  const timedSidecar = async (n: number) => {
    const { value: ms, sidecarCpuMs, hostCpuMs } = await withCpu(pid, async () => {
      const t0 = nowMs();
      await viaSidecar(n);
      return nowMs() - t0;
    });
    if (n === bytes) {
      cpu.sidecar.push(sidecarCpuMs);
      cpu.sidecarHost.push(hostCpuMs);
    }
    return (n / MiB) / (ms / 1000);
  };
  if (config.warmUp) {
    await timedDirect(bytes / 8);
    await timedSidecar(bytes / 8);
  }
  const values = await alternate(config.relayRounds, () => timedDirect(bytes), () => timedSidecar(bytes));
  return { values, cpu: cpu.summary() };
}

async function utf8Throughput({ sidecar, pid }: Shared, config: Config): Promise<Figure> {
  const bytes = config.relayBytes;
  const direct = async (n: number) => {
    let chars = 0;
    const proc = spawn('sh', ['-c', textLinesCommand(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (text: string) => {
      chars += text.length;
    });
    await closed(proc, 'yes | head');
    expectEqual('direct utf-8 characters', chars, n);
  };
  const viaSidecar = async (n: number) => {
    let chars = 0;
    const command = sidecar.command('sh', ['-c', textLinesCommand(n)]);
    command.stdout.on('data', (line) => {
      chars += line.length;
    });
    const { code } = await (await command.spawn()).wait();
    expectEqual('sidecar exit code', code ?? -1, 0);
    expectEqual('sidecar utf-8 characters', chars, n);
  };
  const { values, cpu } = await relayRounds(pid, config, bytes, direct, viaSidecar);
  return judge({
    id: 'utf8-throughput',
    title: 'utf-8 relay throughput',
    work: `a child writes ${bytes / MiB} MiB of 80-byte ASCII lines; the host receives decoded text (direct: stdout.setEncoding('utf8') chunks; sidecar: Command 'data' line events)`,
    unit: 'MiB/s',
    better: 'higher',
    ...values,
    target: { kind: 'ratio-at-least', min: 0.8 },
    targetText: '>= 0.8x direct',
    details: { cpu },
  });
}

/** What tells the two raw figures apart. */
const RAW_FIGURES = {
  channel: {
    id: 'raw-channel-throughput',
    title: 'raw relay throughput (raw channel)',
    how: ', binary frames on the raw channel',
    min: 0.9,
  },
  base64: {
    id: 'raw-throughput',
    title: 'raw relay throughput (base64 fallback)',
    how: ' without the raw channel, base64 in notifications',
    min: 0.5,
  },
} as const;

/**
 * Raw bytes, both ways the client can carry them: over the raw channel (the Node transport's fourth pipe,
 * binary frames, no base64) on the shared sidecar, or as base64 in notifications (the fallback of transports
 * without a channel) on a sidecar launched with rawChannel: false.
 */
async function rawThroughput({ sidecar, pid }: Shared, config: Config, wire: 'channel' | 'base64'): Promise<Figure> {
  if (sidecar.rawChannel !== (wire === 'channel')) throw new Error(`the sidecar's raw channel is ${sidecar.rawChannel ? 'open' : 'not open'}`);
  const bytes = config.relayBytes;
  const direct = async (n: number) => {
    let received = 0;
    const proc = spawn('head', ['-c', String(n), '/dev/zero'], { stdio: ['ignore', 'pipe', 'inherit'] });
    proc.stdout!.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    await closed(proc, 'head');
    expectEqual('direct bytes', received, n);
  };
  const viaSidecar = async (n: number) => {
    let received = 0;
    const command = sidecar.command('head', ['-c', String(n), '/dev/zero'], { encoding: 'raw' });
    command.stdout.on('data', (chunk) => {
      received += chunk.length;
    });
    const { code } = await (await command.spawn()).wait();
    expectEqual('sidecar exit code', code ?? -1, 0);
    expectEqual('sidecar bytes', received, n);
  };
  const { values, cpu } = await relayRounds(pid, config, bytes, direct, viaSidecar);
  const figure = RAW_FIGURES[wire];
  return judge({
    id: figure.id,
    title: figure.title,
    work: `a child writes ${bytes / MiB} MiB from /dev/zero; the host receives bytes (sidecar: encoding 'raw'${figure.how})`,
    unit: 'MiB/s',
    better: 'higher',
    ...values,
    target: { kind: 'ratio-at-least', min: figure.min },
    targetText: `>= ${figure.min}x direct`,
    details: { cpu },
  });
}

/** The base64 figure on a sidecar of its own, started without the raw channel. */
async function rawThroughputBase64(config: Config): Promise<Figure> {
  const transport = createNodeTransport({ python, cwd: repoRoot, args: SIDECAR_ARGS, rawChannel: false });
  const sidecar = await Sidecar.launch({ transport, setDefault: false });
  try {
    return await rawThroughput({ sidecar, pid: transport.pid! }, config, 'base64');
  } finally {
    await sidecar.dispose();
  }
}

/**
 * The floor of a relay on this machine: the same bytes with a plain `cat` put between the child and Node (one
 * more process and two more copies of every byte, nothing else), against direct. Reported, not judged: it says
 * how close to direct any relay can come here.
 */
async function relayFloor(config: Config, kind: 'utf8' | 'raw'): Promise<Figure> {
  const bytes = config.relayBytes;
  const source = kind === 'utf8' ? textLinesCommand(bytes) : `head -c ${bytes} /dev/zero`;
  const run = async (command: string) => {
    let received = 0;
    const proc = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
    if (kind === 'utf8') proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string | Buffer) => {
      received += chunk.length;
    });
    const t0 = nowMs();
    await closed(proc, command);
    expectEqual(`${kind} floor`, received, bytes);
    return (bytes / MiB) / ((nowMs() - t0) / 1000);
  };
  const values = await alternate(config.relayRounds, () => run(source), () => run(`${source} | cat`));
  return judge({
    id: `${kind}-floor`,
    title: `${kind === 'utf8' ? 'utf-8' : 'raw'} relay floor: a plain cat in between`,
    work: `the ${kind} relay's bytes with \`cat\` between the child and Node (sidecar side) against direct`,
    unit: 'MiB/s',
    better: 'higher',
    ...values,
    target: { kind: 'report' },
    targetText: 'reported',
  });
}

const execFileAsync = promisify(execFile);

/** Runs `count` jobs with at most `concurrency` in flight; returns jobs per second. */
async function rate(count: number, concurrency: number, job: () => Promise<unknown>): Promise<number> {
  const t0 = nowMs();
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return count / ((nowMs() - t0) / 1000);
}

async function executeRate({ sidecar, pid }: Shared, config: Config, concurrency: number): Promise<Figure> {
  const cpu = new CpuLog('CPU ms per run', config.execCount);
  const direct = async () => {
    const { value, hostCpuMs } = await withCpu(undefined, () => rate(config.execCount, concurrency, () => execFileAsync('true')));
    cpu.directHost.push(hostCpuMs);
    return value;
  };
  const viaSidecar = async () => {
    const { value, sidecarCpuMs, hostCpuMs } = await withCpu(pid, () =>
      rate(config.execCount, concurrency, async () => {
        const { code } = await sidecar.command('true').execute();
        if (code !== 0) throw new Error(`true exited with ${code}`);
      }),
    );
    cpu.sidecar.push(sidecarCpuMs);
    cpu.sidecarHost.push(hostCpuMs);
    return value;
  };
  if (config.warmUp) {
    await rate(20, concurrency, () => execFileAsync('true'));
    await rate(20, concurrency, () => sidecar.command('true').execute());
  }
  const values = await alternate(config.execRounds, direct, viaSidecar);
  const sequential = concurrency === 1;
  return judge({
    id: sequential ? 'execute-rate-sequential' : `execute-rate-${concurrency}-in-flight`,
    title: sequential ? 'execute rate, sequential' : `execute rate, ${concurrency} in flight`,
    work: `execute('true') ${config.execCount} times, ${sequential ? 'one after another' : `${concurrency} in flight`} (direct: util.promisify(execFile)('true'))`,
    unit: 'runs/s',
    better: 'higher',
    ...values,
    target: { kind: 'ratio-at-least', min: sequential ? 2.5 : 3 },
    targetText: `>= ${sequential ? 2.5 : 3}x execFile`,
    details: { cpu: cpu.summary() },
  });
}

/**
 * The ceiling of the sequential execute rate on this machine: Python starting `true` and waiting for it, one after
 * another, with nothing around it (bench/floors/spawn_rate.py: no request, no pipes, no answer, timed inside
 * that process), against execFile. Reported, not judged: the most any Python sidecar could reach here, before
 * it reads a request or answers one.
 */
async function executeCeiling(config: Config): Promise<Figure> {
  const direct = () => rate(config.execCount, 1, () => execFileAsync('true'));
  const bare = async () => {
    const { stdout } = await execFileAsync(python, [floorScript('spawn_rate.py'), String(config.execCount)]);
    return config.execCount / Number(stdout);
  };
  const values = await alternate(config.execRounds, direct, bare);
  return judge({
    id: 'execute-ceiling',
    title: 'execute ceiling: Python spawning and waiting, nothing else',
    work: `true started and waited for ${config.execCount} times in a row by Python (os.posix_spawn, waitpid; sidecar side) against execFile (direct side)`,
    unit: 'runs/s',
    better: 'higher',
    ...values,
    target: { kind: 'report' },
    targetText: 'reported',
  });
}

/** A child echoing through its pipes: `once()` writes `line` and resolves with the round trip in us. */
function pipedEcho(command: string, args: string[], line: string) {
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  proc.stdout!.setEncoding('utf8');
  let received: ((text: string) => void) | undefined;
  proc.stdout!.on('data', (text: string) => received?.(text));
  const once = async () => {
    const t0 = nowMs();
    const echoed = new Promise<string>((resolve) => (received = resolve));
    proc.stdin!.write(line);
    const text = await echoed;
    const us = (nowMs() - t0) * 1000;
    if (text !== line) throw new Error(`${command} echoed ${JSON.stringify(text)}`);
    return us;
  };
  const end = async () => {
    proc.stdin!.end();
    await closed(proc, command);
  };
  return { once, end };
}

async function warmUp(once: () => Promise<number>, config: Config): Promise<void> {
  for (let i = 0; i < Math.min(100, config.echoCount); i++) await once();
}

async function roundTrips(once: () => Promise<number>, config: Config): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < config.echoCount; i++) samples.push(await once());
  return samples;
}

async function echoLatency({ sidecar, pid }: Shared, config: Config): Promise<Figure> {
  const line = 'ping\n';
  const all = { direct: [] as number[], sidecar: [] as number[] };
  const cpu = new CpuLog('CPU us per round trip', config.echoCount / 1000);
  const direct = async () => {
    const echo = pipedEcho('cat', [], line);
    await warmUp(echo.once, config);
    const { value: samples, hostCpuMs } = await withCpu(undefined, () => roundTrips(echo.once, config));
    cpu.directHost.push(hostCpuMs);
    await echo.end();
    all.direct.push(...samples);
    return median(samples);
  };
  const viaSidecar = async () => {
    const command = sidecar.command('cat');
    let received: ((text: string) => void) | undefined;
    command.stdout.on('data', (text) => received?.(text));
    const child = await command.spawn();
    const once = async () => {
      const t0 = nowMs();
      const echoed = new Promise<string>((resolve) => (received = resolve));
      const written = child.write(line);
      const text = await echoed;
      const us = (nowMs() - t0) * 1000;
      await written;
      if (text !== line) throw new Error(`sidecar cat echoed ${JSON.stringify(text)}`);
      return us;
    };
    await warmUp(once, config);
    const { value: samples, sidecarCpuMs, hostCpuMs } = await withCpu(pid, () => roundTrips(once, config));
    cpu.sidecar.push(sidecarCpuMs);
    cpu.sidecarHost.push(hostCpuMs);
    await child.closeStdin();
    await child.wait();
    all.sidecar.push(...samples);
    return median(samples);
  };
  const values = await alternate(config.echoRounds, direct, viaSidecar);
  const spread = (xs: number[]) => ({ p50: round(percentile(xs, 50)), p90: round(percentile(xs, 90)), p99: round(percentile(xs, 99)) });
  const figure = judge({
    id: 'echo-latency',
    title: 'echo latency (p50)',
    work: `${config.echoCount} round trips of a short line through a spawned cat, per round (the per-round p50 is the value)`,
    unit: 'us',
    better: 'lower',
    ...values,
    target: { kind: 'added-at-most', max: 40 },
    targetText: 'p50 <= 40 us added',
    details: { allRounds: { direct: spread(all.direct), sidecar: spread(all.sidecar) }, cpu: cpu.summary() },
  });
  figure.details!.addedP50Us = round(addedMedian(figure));
  return figure;
}

const floorScript = (name: string) => path.join(here, 'floors', name);

/**
 * The floor of the echo on this machine: the same round trips with a relay that only copies bytes between Node
 * and cat (bench/floors/relay.py: poll and os.read/os.write in Python, no event loop library, no JSON), against
 * cat directly. Reported, not judged: what the two more process hops of any relay cost here, the sidecar's
 * among them.
 */
async function echoFloor(config: Config): Promise<Figure> {
  const line = 'ping\n';
  const run = (command: string, args: string[]) => async () => {
    const echo = pipedEcho(command, args, line);
    await warmUp(echo.once, config);
    const samples = await roundTrips(echo.once, config);
    await echo.end();
    return median(samples);
  };
  const values = await alternate(config.echoRounds, run('cat', []), run(python, [floorScript('relay.py'), 'cat']));
  const figure = judge({
    id: 'echo-floor',
    title: 'echo latency floor: a relay that only copies bytes',
    work: `${config.echoCount} round trips of a short line through cat, with a Python relay between Node and cat that only copies bytes (sidecar side) and without (direct side); per-round p50`,
    unit: 'us',
    better: 'lower',
    ...values,
    target: { kind: 'report' },
    targetText: 'reported',
  });
  figure.details = { addedP50Us: round(addedMedian(figure)) };
  return figure;
}

/** Milliseconds from spawning `args` to the first line it writes in answer to an initialize request. */
async function firstAnswerMs(args: string[]): Promise<number> {
  const t0 = nowMs();
  const proc = spawn(python, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const answered = new Promise<void>((resolve, reject) => {
    let text = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) resolve();
    });
    proc.on('close', () => reject(new Error(`${args.join(' ')} exited without answering`)));
  });
  proc.stdin!.write('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}\n');
  await answered;
  const ms = nowMs() - t0;
  proc.stdin!.end();
  await closed(proc, args.join(' '));
  return ms;
}

/**
 * The floor of the start-up on this machine, without a client: Python importing only what the sidecar cannot
 * do without (orjson, jsonrpcserver's asyncio dispatch, asyncio), answering one request inside asyncio.run
 * (bench/floors/first_answer.py), against `python -m sidecar` (its bytecode compiled). In the details, the same
 * Python alone, and with the libraries but jsonrpcserver's synchronous dispatch (no asyncio). Reported, not
 * judged: how much of the start-up target the sidecar's fixed dependencies leave to its own code.
 */
async function startupFloor(config: Config): Promise<Figure> {
  compileBytecode();
  const bare: number[] = [];
  const sync: number[] = [];
  const floor = async () => {
    bare.push(await firstAnswerMs([floorScript('first_answer.py'), 'bare']));
    sync.push(await firstAnswerMs([floorScript('first_answer.py'), 'sync']));
    return firstAnswerMs([floorScript('first_answer.py'), 'asyncio']);
  };
  const values = await alternate(config.startupRuns, floor, () => firstAnswerMs(['-m', 'sidecar', ...SIDECAR_ARGS]));
  return judge({
    id: 'startup-floor',
    title: 'startup floor: Python importing only the fixed dependencies',
    work: "from spawn to the first answer, without a client: python -m sidecar (sidecar side) against Python importing orjson and jsonrpcserver's asyncio dispatch and answering one line in asyncio.run (direct side)",
    unit: 'ms',
    better: 'lower',
    ...values,
    target: { kind: 'report' },
    targetText: 'reported',
    details: {
      pythonAloneMs: round(median(bare)),
      withoutAsyncioMs: round(median(sync)),
      note: "pythonAloneMs: the same Python reading and answering the line with nothing imported; withoutAsyncioMs: importing orjson and jsonrpcserver's synchronous dispatch (no asyncio)",
    },
  });
}

/**
 * The sidecar's bytecode, as an installed wheel or the bundled binary has it, and as Python writes it on the
 * first run unless PYTHONDONTWRITEBYTECODE is set. Compiled into the checkout's __pycache__ (ignored by git).
 */
function compileBytecode(): boolean {
  try {
    execFileSync(python, ['-m', 'compileall', '-q', path.join(repoRoot, 'sidecar')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function startup(config: Config): Promise<Figure> {
  const compiled = compileBytecode();
  // A copy without bytecode, run with -B: every start compiles the sidecar's modules from source, which is what
  // a checkout costs where PYTHONDONTWRITEBYTECODE=1 (as on the machine this benchmark was first run on).
  const sourceCopy = mkdtempSync(path.join(os.tmpdir(), 'sidecar-source-'));
  const withoutBytecode = (from: string) => !from.split(path.sep).includes('__pycache__');
  cpSync(path.join(repoRoot, 'sidecar'), path.join(sourceCopy, 'sidecar'), { recursive: true, filter: withoutBytecode });
  cpSync(path.join(repoRoot, 'protocol'), path.join(sourceCopy, 'protocol'), { recursive: true });
  const launch = async (options: NodeLaunchOptions) => {
    const t0 = nowMs();
    const sidecar = await Sidecar.launch({ ...options, setDefault: false });
    const ms = nowMs() - t0;
    await sidecar.dispose();
    return ms;
  };
  const times: number[] = [];
  const fromSource: number[] = [];
  const bare: number[] = [];
  try {
    for (let i = 0; i < config.startupRuns; i++) {
      // The floor: the same Python starting and exiting with nothing imported beyond its own start-up.
      const t1 = nowMs();
      await closed(spawn(python, ['-c', 'pass'], { stdio: 'ignore' }), 'python -c pass');
      bare.push(nowMs() - t1);
      const cached = () => launch({ python, cwd: repoRoot, args: SIDECAR_ARGS });
      const source = () => launch({ program: python, args: ['-B', '-m', 'sidecar', ...SIDECAR_ARGS], cwd: sourceCopy });
      if (i % 2 === 0) {
        times.push(await cached());
        fromSource.push(await source());
      } else {
        fromSource.push(await source());
        times.push(await cached());
      }
    }
  } finally {
    rmSync(sourceCopy, { recursive: true, force: true });
  }
  return judge({
    id: 'startup',
    title: 'startup',
    work: 'Sidecar.launch() (python -m sidecar, its bytecode compiled) until the answer to initialize',
    unit: 'ms',
    better: 'lower',
    sidecar: times,
    target: { kind: 'at-most', max: 50 },
    targetText: '<= 50 ms',
    details: {
      bytecodeCompiled: compiled,
      fromSourceMs: round(median(fromSource)),
      fromSourceRuns: fromSource.map(round),
      pythonBareStartMs: round(median(bare)),
      note: "fromSourceMs: the same, with no bytecode (python -B on a copy without __pycache__), as a checkout costs where PYTHONDONTWRITEBYTECODE=1; pythonBareStartMs: the same python running -c 'pass'",
    },
  });
}

/**
 * The bundled onedir binary, built with --reuse into build/bench-bundle/ (kept between runs, like the test
 * suite's build/test-bundle/). Undefined, with a note, when PyInstaller is not installed.
 */
function buildOnedir(): string | undefined {
  const root = path.join(repoRoot, 'build', 'bench-bundle');
  const dist = path.join(root, 'dist');
  try {
    execFileSync(python, ['-m', 'sidecar.bundle', '--onedir', '--reuse', '--out', dist, '--work', path.join(root, 'onedir')], {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (error) {
    console.log(`  (startup-onedir skipped: building the onedir binary failed: ${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
  const folder = readdirSync(dist).find((name) => name.endsWith('-onedir'));
  return folder ? path.join(dist, folder, folder.slice(0, -'-onedir'.length)) : undefined;
}

/**
 * The onedir binary against `python -m sidecar` (its bytecode compiled), launch to the answer to initialize,
 * side by side: the README says the onedir layout starts as quickly. Ratio binary/python, per round.
 */
async function startupOnedir(config: Config, binary: string): Promise<Figure> {
  compileBytecode();
  const launch = async (options: NodeLaunchOptions) => {
    const t0 = nowMs();
    const sidecar = await Sidecar.launch({ ...options, setDefault: false });
    const ms = nowMs() - t0;
    await sidecar.dispose();
    return ms;
  };
  // More rounds than the other startup figure: a start is short, and the ratio is what is judged.
  const values = await alternate(
    config.startupRuns * 2,
    () => launch({ python, cwd: repoRoot, args: SIDECAR_ARGS }),
    () => launch({ program: binary, cwd: repoRoot, args: SIDECAR_ARGS }),
  );
  return judge({
    id: 'startup-onedir',
    title: 'startup, onedir binary',
    work: 'Sidecar.launch() until the answer to initialize: the bundled onedir binary (sidecar side) against python -m sidecar with its bytecode compiled (direct side)',
    unit: 'ms',
    better: 'lower',
    ...values,
    target: { kind: 'ratio-at-most', max: 1 },
    targetText: '<= 1x python -m sidecar',
    details: { binary: path.relative(repoRoot, binary) },
  });
}

async function memory(config: Config): Promise<Figure[]> {
  const transport = createNodeTransport({ python, cwd: repoRoot, args: SIDECAR_ARGS });
  const sidecar = await Sidecar.launch({ transport, setDefault: false });
  const pid = transport.pid!;
  try {
    await sleep(300);
    const idle = rssMiB(pid);
    // The sidecar forks a guardian at start (it stops the children should the sidecar be SIGKILLed): with
    // no child running, it is the sidecar's only child process. It shares most pages with the sidecar, so
    // RSS counts them twice; PSS divides shared pages among their sharers and adds up honestly.
    const helpers = childPids(pid);
    const helpersRss = helpers.map(rssMiB);
    const pssTotal = [pid, ...helpers].map(pssMiB).reduce((a, b) => a + b, 0);
    // A child that floods stdout for as long as it lives.
    const command = sidecar.command('yes', ['x'.repeat(79)]);
    let received = 0;
    command.stdout.on('data', (line) => {
      received += line.length;
    });
    const child = await command.spawn();
    const flowing: number[] = [];
    for (let i = 0; i < 20; i++) {
      await sleep(config.stallMs / 40);
      flowing.push(rssMiB(pid));
    }
    // The host stalls: this thread reads nothing while it samples the sidecar's RSS.
    const beforeStall = received;
    const stalled: number[] = [];
    busyWait(config.stallMs, config.stallMs / 30, () => stalled.push(rssMiB(pid)));
    const after: number[] = [];
    for (let i = 0; i < 10; i++) {
      await sleep(config.stallMs / 40);
      after.push(rssMiB(pid));
    }
    // Output flows again once the host reads: what the pipes held, then the child's new output.
    const afterStall = received - beforeStall;
    await child.kill('SIGKILL');
    await child.wait();
    await sleep(200);
    const end = rssMiB(pid);
    // Judge the second half of the stall: the pipes fill in the first instants; after that nothing may grow.
    const settled = stalled.slice(Math.floor(stalled.length / 2));
    const growth = Math.max(...settled) - Math.min(...settled);
    const summary = (xs: number[]) => ({ min: round(Math.min(...xs)), median: round(median(xs)), max: round(Math.max(...xs)) });
    return [
      judge({
        id: 'memory-idle',
        title: 'memory, idle',
        work: 'RSS of a freshly launched sidecar process (its forked guardian in the details)',
        unit: 'MiB',
        better: 'lower',
        sidecar: [idle],
        target: { kind: 'at-most', max: 20 },
        targetText: '<= 20 MiB',
        details: {
          guardianRssMiB: helpersRss.map(round),
          sidecarPlusGuardianPssMiB: round(pssTotal),
          afterFloodMiB: round(end),
        },
      }),
      judge(
        {
          id: 'memory-flood-stall',
          title: 'memory, flood + host stall',
          work: `RSS while a child floods stdout (yes) and the host reads nothing for ${config.stallMs} ms`,
          unit: 'MiB',
          better: 'lower',
          sidecar: [Math.max(...stalled)],
          target: { kind: 'holds', what: 'flat: the RSS varies by at most 1 MiB over the second half of the stall' },
          targetText: 'flat',
          details: {
            flowingMiB: summary(flowing),
            stalledMiB: summary(stalled),
            afterStallMiB: summary(after),
            settledGrowthMiB: round(growth),
            relayedBeforeStallMiB: round(beforeStall / MiB),
            relayedAfterStallMiB: round(afterStall / MiB),
          },
        },
        growth <= 1,
      ),
    ];
  } finally {
    await sidecar.dispose();
  }
}

async function scale({ sidecar, pid: sidecarPid }: Shared, config: Config): Promise<Figure> {
  const n = config.scaleChildren;
  let peakRss = 0;
  let answered = { direct: 0, sidecar: 0 };
  const direct = async () => {
    const t0 = nowMs();
    const procs = Array.from({ length: n }, () => spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const ends = procs.map((proc) => closed(proc, 'cat'));
    const echoes = procs.map(
      (proc, i) =>
        new Promise<boolean>((resolve) => {
          proc.stdout!.setEncoding('utf8');
          let text = '';
          proc.stdout!.on('data', (chunk: string) => {
            text += chunk;
            if (text.endsWith('\n')) resolve(text === `hello ${i}\n`);
          });
          proc.stdin!.write(`hello ${i}\n`);
        }),
    );
    answered.direct = (await Promise.all(echoes)).filter(Boolean).length;
    for (const proc of procs) proc.stdin!.end();
    await Promise.all(ends);
    return nowMs() - t0;
  };
  const viaSidecar = async () => {
    const t0 = nowMs();
    const runs = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const command = sidecar.command('cat');
        const echoed = new Promise<boolean>((resolve) => command.stdout.once('data', (line) => resolve(line === `hello ${i}\n`)));
        const child = await command.spawn();
        await child.write(`hello ${i}\n`);
        return { child, echoed };
      }),
    );
    answered.sidecar = (await Promise.all(runs.map((run) => run.echoed))).filter(Boolean).length;
    peakRss = Math.max(peakRss, rssMiB(sidecarPid));
    await Promise.all(runs.map(async ({ child }) => {
      await child.closeStdin();
      await child.wait();
    }));
    return nowMs() - t0;
  };
  const values = await alternate(config.scaleRounds, direct, viaSidecar);
  const all = answered.direct === n && answered.sidecar === n;
  return judge(
    {
      id: 'scale',
      title: `scale, ${n} live children`,
      work: `${n} cats at once: spawn all, one line to each, every echo back, close stdin, wait for every exit (time in ms)`,
      unit: 'ms',
      better: 'lower',
      ...values,
      target: { kind: 'holds', what: 'every child answers' },
      targetText: 'all answer, RSS reported',
      details: { answered, sidecarRssWithAllLiveMiB: round(peakRss) },
    },
    all,
  );
}

// ---- report -----------------------------------------------------------------------------------------------

function show(value: number | undefined, unit: string): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  return `${round(value)} ${unit}`;
}

function describe(figure: Figure): string[] {
  const ratio = figure.ratio === undefined ? '-' : `${round(figure.ratio)}x`;
  let measured = show(figure.sidecarMedian, figure.unit);
  if (figure.id === 'echo-latency') measured += ` (+${round(addedMedian(figure))} us)`;
  if (figure.id === 'scale') measured += `, ${round(Number(figure.details?.sidecarRssWithAllLiveMiB))} MiB RSS`;
  if (figure.id === 'startup' && figure.details?.fromSourceMs !== undefined) measured += ` (${figure.details.fromSourceMs} ms compiling from source)`;
  if (figure.id === 'memory-idle') {
    const guardian = (figure.details?.guardianRssMiB as number[] | undefined) ?? [];
    if (guardian.length) measured += ` (+ guardian ${guardian.join(', ')} MiB RSS; ${figure.details?.sidecarPlusGuardianPssMiB} MiB PSS together)`;
  }
  return [figure.title, show(figure.directMedian, figure.unit), measured, ratio, figure.targetText, figure.verdict ?? '-'];
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const config = MODES[cli.mode];
  const wanted = (id: string) => !cli.only || [...cli.only].some((name) => id.startsWith(name));
  const machine = machineInfo(python, repoRoot);
  console.log(`process-sidecar benchmark, ${cli.mode} mode: ${machine.nproc} CPUs (${machine.cpu}), Python ${machine.python}, Node ${machine.node}`);

  const figures: Figure[] = [];
  const add = (figure: Figure) => {
    figures.push(figure);
    const [title, direct, measured, ratio, target, verdict] = describe(figure);
    console.log(`  ${title}: direct ${direct}, sidecar ${measured}, ratio ${ratio} (target ${target}): ${verdict}`);
  };
  const started = nowMs();
  const transport = createNodeTransport({ python, cwd: repoRoot, args: SIDECAR_ARGS });
  const sidecar = await Sidecar.launch({ transport, setDefault: false });
  const shared: Shared = { sidecar, pid: transport.pid! };
  try {
    if (wanted('utf8-throughput')) add(await utf8Throughput(shared, config));
    if (wanted('raw-channel-throughput')) add(await rawThroughput(shared, config, 'channel'));
    if (wanted('raw-throughput')) add(await rawThroughputBase64(config));
    if (wanted('utf8-floor')) add(await relayFloor(config, 'utf8'));
    if (wanted('raw-floor')) add(await relayFloor(config, 'raw'));
    if (wanted('execute-rate')) {
      add(await executeRate(shared, config, 1));
      add(await executeRate(shared, config, config.execConcurrency));
    }
    if (wanted('execute-ceiling')) add(await executeCeiling(config));
    if (wanted('echo-latency')) add(await echoLatency(shared, config));
    if (wanted('echo-floor')) add(await echoFloor(config));
    if (wanted('scale')) add(await scale(shared, config));
  } finally {
    await sidecar.dispose();
  }
  if (wanted('startup')) add(await startup(config));
  if (wanted('startup-floor')) add(await startupFloor(config));
  if (wanted('startup-onedir')) {
    const binary = cli.onedir ?? (cli.mode === 'smoke' ? undefined : buildOnedir());
    if (binary) add(await startupOnedir(config, binary));
  }
  if (wanted('memory')) for (const figure of await memory(config)) add(figure);

  const rows = [['figure', 'direct (median)', 'sidecar (median)', 'sidecar/direct', 'target', 'verdict'], ...figures.map(describe)];
  console.log(`\n${formatTable(rows)}\n`);
  const report = {
    benchmark: 'process-sidecar ts-client/bench',
    mode: cli.mode,
    date: new Date().toISOString(),
    durationS: round((nowMs() - started) / 1000),
    machine,
    config,
    reproduce: `cd ts-client && npm run bench${cli.mode === 'full' ? '' : ` -- --${cli.mode}`}`,
    figures: figures.map((figure) => ({
      ...figure,
      direct: figure.direct?.map(round),
      sidecar: figure.sidecar.map(round),
      directMedian: figure.directMedian === undefined ? undefined : round(figure.directMedian),
      sidecarMedian: round(figure.sidecarMedian!),
      ratio: figure.ratio === undefined ? undefined : round(figure.ratio),
      ratioOfMedians: figure.ratioOfMedians === undefined ? undefined : round(figure.ratioOfMedians),
    })),
  };
  const out = cli.out ?? (cli.mode === 'smoke' ? undefined : path.join(here, 'results', cli.mode === 'full' ? 'latest.json' : 'quick.json'));
  if (out && out !== '-') {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${path.resolve(out)}`);
  } else if (out === '-') {
    console.log(JSON.stringify(report));
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
