/**
 * A/B of sidecar variants (not part of `make bench`): the same work through two or more sidecars, launched from
 * different checkouts or with different environments, alternating, several rounds. What it reports per variant
 * is the sidecar's own CPU time per unit of work (from /proc/<pid>/task/*\/schedstat, in ns: a shared machine's
 * load moves it far less than wall-clock time), the client's CPU, and the wall-clock figure.
 *
 *   npx tsx bench/ab.ts --rounds 5 --only echo,utf8 A=/path/to/base B=/path/to/change:PYTHONMALLOC=malloc
 *
 * A variant is NAME=CHECKOUT[:VAR=VALUE,...].
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sidecar, createNodeTransport } from '../src/transports/node.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.SIDECAR_PYTHON || path.resolve(here, '..', '..', '.venv', 'bin', 'python');
const MiB = 1024 * 1024;

interface Variant {
  name: string;
  cwd: string;
  env: Record<string, string>;
}

function parse(argv: string[]) {
  let rounds = 5;
  let only: string[] | undefined;
  let scale = 1;
  const variants: Variant[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--rounds') rounds = Number(argv[++i]);
    else if (arg === '--only') only = argv[++i]!.split(',');
    else if (arg === '--scale') scale = Number(argv[++i]);
    else {
      const [name, rest] = [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)];
      const [cwd, vars] = rest.split(':');
      const env: Record<string, string> = {};
      for (const pair of (vars ?? '').split(',').filter(Boolean)) env[pair.split('=')[0]!] = pair.split('=')[1]!;
      variants.push({ name, cwd: cwd!, env });
    }
  }
  return { rounds, only, scale, variants };
}

/** CPU ns that process `pid` (all its threads) has used so far. */
function cpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // gone
    }
  }
  return total;
}

/** [user, system] CPU ms of `pid` (10 ms ticks). */
function userSys(pid: number): [number, number] {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(f[11]) * 10, Number(f[12]) * 10];
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

type Work = (sidecar: Sidecar) => Promise<number>; // returns units of work done

function works(scale: number): Record<string, { unit: string; run: Work }> {
  return {
    utf8: {
      unit: 'MiB',
      run: async (sidecar) => {
        const bytes = 64 * MiB * scale;
        let chars = 0;
        const command = sidecar.command('sh', ['-c', `yes '${'x'.repeat(79)}' | head -c ${bytes}`]);
        command.stdout.on('data', (line) => (chars += line.length));
        await (await command.spawn()).wait();
        if (chars !== bytes) throw new Error(`utf8: ${chars} of ${bytes}`);
        return bytes / MiB;
      },
    },
    raw: {
      unit: 'MiB',
      run: async (sidecar) => {
        const bytes = 128 * MiB * scale;
        let got = 0;
        const command = sidecar.command('head', ['-c', String(bytes), '/dev/zero'], { encoding: 'raw' });
        command.stdout.on('data', (chunk) => (got += chunk.length));
        await (await command.spawn()).wait();
        if (got !== bytes) throw new Error(`raw: ${got} of ${bytes}`);
        return bytes / MiB;
      },
    },
    exec: {
      unit: 'run',
      run: async (sidecar) => {
        const n = Math.round(150 * scale);
        for (let i = 0; i < n; i++) await sidecar.command('true').execute();
        return n;
      },
    },
    exec16: {
      unit: 'run',
      run: async (sidecar) => {
        const n = Math.round(300 * scale);
        let started = 0;
        const worker = async () => {
          while (started < n) {
            started++;
            await sidecar.command('true').execute();
          }
        };
        await Promise.all(Array.from({ length: 16 }, worker));
        return n;
      },
    },
    echo: {
      unit: 'round trip',
      run: async (sidecar) => {
        const n = Math.round(1000 * scale);
        const command = sidecar.command('cat');
        let received: ((text: string) => void) | undefined;
        command.stdout.on('data', (text) => received?.(text));
        const child = await command.spawn();
        for (let i = 0; i < n; i++) {
          const echoed = new Promise<string>((resolve) => (received = resolve));
          const written = child.write('ping\n');
          await echoed;
          await written;
        }
        await child.closeStdin();
        await child.wait();
        return n;
      },
    },
  };
}

async function main() {
  const { rounds, only, scale, variants } = parse(process.argv.slice(2));
  const all = works(scale);
  const names = only ?? Object.keys(all);
  const sidecars = await Promise.all(
    variants.map(async (v) => {
      const transport = createNodeTransport({ python, cwd: v.cwd, args: ['--log-level', 'error', '--no-scope'], env: { ...process.env, ...v.env } });
      const sidecar = await Sidecar.launch({ transport, setDefault: false });
      return { v, sidecar, pid: transport.pid! };
    }),
  );
  try {
    for (const name of names) {
      const work = all[name]!;
      const results = new Map<string, { wall: number[]; cpu: number[]; host: number[]; user: number; sys: number; units: number }>();
      for (const { v } of sidecars) results.set(v.name, { wall: [], cpu: [], host: [], user: 0, sys: 0, units: 0 });
      for (const s of sidecars) await work.run(s.sidecar); // warm-up
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? sidecars : [...sidecars].reverse();
        for (const s of order) {
          const [u0, s0] = userSys(s.pid);
          const c0 = cpuNs(s.pid);
          const h0 = ownCpuMs();
          const t0 = now();
          const units = await work.run(s.sidecar);
          const wall = now() - t0;
          const res = results.get(s.v.name)!;
          res.wall.push(wall / units);
          res.cpu.push((cpuNs(s.pid) - c0) / 1e6 / units);
          res.host.push((ownCpuMs() - h0) / units);
          const [u1, s1] = userSys(s.pid);
          res.user += u1 - u0;
          res.sys += s1 - s0;
          res.units += units;
        }
      }
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      for (const [vname, res] of results) {
        const us = work.unit === 'MiB' ? 1000 : 1000;
        console.log(
          `${name.padEnd(7)} ${vname.padEnd(10)} sidecar CPU ${(med(res.cpu) * us).toFixed(1).padStart(8)} us/${work.unit}` +
            `  client CPU ${(med(res.host) * us).toFixed(1).padStart(8)} us/${work.unit}  wall ${(med(res.wall) * us).toFixed(1).padStart(8)} us/${work.unit}` +
            `  (user/sys ${((res.user / res.units) * us).toFixed(0)}/${((res.sys / res.units) * us).toFixed(0)}; cpu rounds: ${res.cpu.map((x) => (x * us).toFixed(0)).join(' ')})`,
        );
      }
    }
  } finally {
    for (const s of sidecars) await s.sidecar.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
