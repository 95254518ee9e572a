/**
 * Small helpers of the benchmark: statistics, the resident set size of a process, the machine it ran on, and
 * how each figure is judged. Nothing here knows about the sidecar.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export const MiB = 1024 * 1024;

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0..100) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Milliseconds since an arbitrary point, with sub-microsecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Blocks this thread for `ms` (the host "stalls": it reads nothing), calling `tick` every `everyMs`. */
export function busyWait(ms: number, everyMs: number, tick: () => void): void {
  const end = nowMs() + ms;
  let next = nowMs();
  while (nowMs() < end) {
    if (nowMs() >= next) {
      tick();
      next += everyMs;
    }
  }
}

/** Resident set size of `pid` in MiB (Linux /proc; `ps` elsewhere), or NaN if it cannot be read. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux, or the process is gone
  }
  try {
    return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system, ms) that process `pid` has used so far (Linux /proc), or NaN. */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
    return (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (ms) this process has used so far. */
export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Measures the CPU that `work` costs the sidecar (process `pid`) and this host process. With a shared,
 * noisy machine these move far less than wall-clock figures, so they tell a real change from noise.
 */
export async function withCpu<T>(pid: number | undefined, work: () => Promise<T>): Promise<{ value: T; sidecarCpuMs: number; hostCpuMs: number }> {
  const s0 = pid === undefined ? Number.NaN : cpuMs(pid);
  const h0 = ownCpuMs();
  const value = await work();
  return { value, sidecarCpuMs: pid === undefined ? Number.NaN : cpuMs(pid) - s0, hostCpuMs: ownCpuMs() - h0 };
}

/** Proportional set size of `pid` in MiB (shared pages divided among their sharers), or NaN. Linux only. */
export function pssMiB(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux, or the process is gone
  }
  return Number.NaN;
}

/** The direct children of `pid` (Linux), e.g. the sidecar's guardian when no child runs. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function run(program: string, args: string[]): string | undefined {
  try {
    return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return undefined;
  }
}

export interface MachineInfo {
  nproc: number;
  cpu: string;
  lscpu: string[];
  memoryGiB: number;
  os: string;
  python: string;
  node: string;
  commit: string;
}

export function machineInfo(python: string, cwd: string): MachineInfo {
  const pythonVersion = run(python, ['-c', 'import sys; print(sys.version.split()[0])']) ?? 'unknown';
  const commit = run('git', ['-C', cwd, 'rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const dirty = run('git', ['-C', cwd, 'status', '--porcelain', '--untracked-files=no', '--', 'sidecar', 'ts-client/src']);
  return {
    nproc: Number(run('nproc', [])) || os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    lscpu: (run('lscpu', []) ?? '').split('\n').slice(0, 10),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    python: pythonVersion,
    node: process.version,
    commit: dirty ? `${commit}+changes` : commit,
  };
}

/** How a figure is judged. */
export type Target =
  /** sidecar/direct of a higher-is-better quantity must be at least `min`. */
  | { kind: 'ratio-at-least'; min: number }
  /** sidecar/direct of a lower-is-better quantity (a time) must be at most `max`. */
  | { kind: 'ratio-at-most'; max: number }
  /** The sidecar's value minus the direct value must be at most `max` (in the figure's unit). */
  | { kind: 'added-at-most'; max: number }
  /** The sidecar's value must be at most `max` (in the figure's unit). */
  | { kind: 'at-most'; max: number }
  /** A yes/no property, stated in `what`. */
  | { kind: 'holds'; what: string }
  /** Measured and reported, not judged. */
  | { kind: 'report' };

export interface Figure {
  /** A stable key, e.g. 'utf8-throughput'. */
  id: string;
  title: string;
  /** The work, in one sentence. */
  work: string;
  unit: string;
  /** Whether a larger value is better (throughput, rate) or worse (time, latency, memory). */
  better: 'higher' | 'lower' | 'none';
  /** Per round, in the order measured (rounds alternate which side goes first). */
  direct?: number[];
  sidecar: number[];
  target: Target;
  targetText: string;
  /** Extra measurements worth keeping (percentiles, RSS series summaries, counts). */
  details?: Record<string, unknown>;
  /** Filled in by judge(). */
  directMedian?: number;
  sidecarMedian?: number;
  /**
   * sidecar/direct: the median over rounds of sidecar[i] / direct[i]. Each round runs both sides back to back,
   * so pairing them cancels the slow drifts of a shared machine's load; the ratio of the two medians is kept
   * beside it (ratioOfMedians).
   */
  ratio?: number;
  ratioOfMedians?: number;
  verdict?: 'meets' | 'misses' | 'reported';
}

/** Medians, the sidecar/direct ratio, and the verdict against the target. */
export function judge(figure: Figure, holds?: boolean): Figure {
  figure.sidecarMedian = median(figure.sidecar);
  if (figure.direct?.length) {
    const direct = figure.direct;
    figure.directMedian = median(direct);
    figure.ratioOfMedians = figure.sidecarMedian / figure.directMedian;
    figure.ratio = median(figure.sidecar.map((value, i) => value / direct[i]!));
  }
  const { target } = figure;
  const s = figure.sidecarMedian;
  switch (target.kind) {
    case 'ratio-at-least':
      figure.verdict = (figure.ratio ?? 0) >= target.min ? 'meets' : 'misses';
      break;
    case 'ratio-at-most':
      figure.verdict = (figure.ratio ?? Number.POSITIVE_INFINITY) <= target.max ? 'meets' : 'misses';
      break;
    case 'added-at-most':
      figure.verdict = addedMedian(figure) <= target.max ? 'meets' : 'misses';
      break;
    case 'at-most':
      figure.verdict = s <= target.max ? 'meets' : 'misses';
      break;
    case 'holds':
      figure.verdict = holds ? 'meets' : 'misses';
      break;
    case 'report':
      figure.verdict = 'reported';
      break;
  }
  return figure;
}

/** sidecar - direct: the median over rounds of sidecar[i] - direct[i] (paired, as `ratio`). */
export function addedMedian(figure: Figure): number {
  const direct = figure.direct ?? [];
  return median(figure.sidecar.map((value, i) => value - (direct[i] ?? 0)));
}

/** Rounds a number for display and for the JSON (3 significant digits, at least). */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 1 : magnitude >= 10 ? 2 : magnitude >= 1 ? 3 : 4;
  return Number(value.toFixed(digits));
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
