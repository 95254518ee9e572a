/**
 * Writes the README's "Performance" section from a benchmark result (default: results/latest.json), so the
 * section and the committed figures never disagree.
 *
 *   npx tsx bench/readme-section.ts [results/latest.json] > section.md
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Figure {
  id: string;
  title: string;
  unit: string;
  directMedian?: number;
  sidecarMedian: number;
  ratio?: number;
  targetText: string;
  verdict: string;
  details?: Record<string, any>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] ?? path.join(here, 'results', 'latest.json');
/** What other runs of the benchmark missed (written by hand after them), shown under the table. */
const notesFile = path.join(here, 'results', 'other-runs.md');
const otherRuns = existsSync(notesFile) ? readFileSync(notesFile, 'utf8').trim() : '';
const report = JSON.parse(readFileSync(file, 'utf8'));
const figures: Figure[] = report.figures;
const byId = new Map(figures.map((f) => [f.id, f]));

const num = (x: number | undefined, digits = 0) =>
  x === undefined || Number.isNaN(x) ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const verdict = (v: string) => (v === 'meets' ? 'meets' : v === 'misses' ? '**misses**' : 'reported');

function row(f: Figure): string[] {
  const d = f.details ?? {};
  switch (f.id) {
    case 'utf8-throughput':
    case 'raw-channel-throughput':
    case 'raw-throughput':
    case 'utf8-floor':
    case 'raw-floor':
      return [f.title, `${num(f.directMedian)} MiB/s`, `${num(f.sidecarMedian)} MiB/s`, `${num(f.ratio, 2)}x`, f.targetText, verdict(f.verdict)];
    case 'execute-ceiling':
      return [f.title, `${num(f.directMedian)}/s (execFile)`, `${num(f.sidecarMedian)}/s`, `${num(f.ratio, 2)}x`, f.targetText, verdict(f.verdict)];
    case 'execute-rate-sequential':
    case 'execute-rate-16-in-flight':
      return [`${f.title} (\`true\`)`, `${num(f.directMedian)}/s (execFile)`, `${num(f.sidecarMedian)}/s`, `${num(f.ratio, 2)}x`, f.targetText, verdict(f.verdict)];
    case 'echo-latency':
      return [
        'echo latency through `cat`, p50',
        `${num(f.directMedian)} us`,
        `${num(f.sidecarMedian)} us`,
        `+${num(f.details?.addedP50Us)} us`,
        f.targetText,
        verdict(f.verdict),
      ];
    case 'echo-floor':
      return [
        'echo floor: a relay that only copies bytes (Python, poll) between Node and `cat`, p50',
        `${num(f.directMedian)} us`,
        `${num(f.sidecarMedian)} us`,
        `+${num(d.addedP50Us)} us`,
        f.targetText,
        verdict(f.verdict),
      ];
    case 'startup-floor':
      return [
        "startup floor, spawn to first answer without a client: Python importing only orjson, jsonrpcserver's dispatch and asyncio",
        `${num(f.directMedian)} ms (without asyncio ${num(d.withoutAsyncioMs)} ms; Python alone ${num(d.pythonAloneMs)} ms)`,
        `${num(f.sidecarMedian)} ms (\`python -m sidecar\`)`,
        `${num(f.ratio, 2)}x`,
        f.targetText,
        verdict(f.verdict),
      ];
    case 'startup':
      return [
        'startup, launch to first answer',
        `${num(d.pythonBareStartMs)} ms (\`python -c pass\`)`,
        `${num(f.sidecarMedian)} ms (${num(d.fromSourceMs)} ms compiling from source)`,
        '-',
        f.targetText,
        verdict(f.verdict),
      ];
    case 'startup-onedir':
      return [
        'startup, onedir binary against `python -m sidecar`',
        `${num(f.directMedian)} ms (\`python -m sidecar\`)`,
        `${num(f.sidecarMedian)} ms (the onedir binary)`,
        `${num(f.ratio, 2)}x`,
        f.targetText,
        verdict(f.verdict),
      ];
    case 'memory-idle':
      return [
        'RSS, idle',
        '-',
        `${num(f.sidecarMedian, 1)} MiB (guardian: ${(d.guardianRssMiB ?? []).map((x: number) => num(x, 1)).join(', ')} MiB RSS; both ${num(d.sidecarPlusGuardianPssMiB, 1)} MiB PSS)`,
        '-',
        f.targetText,
        verdict(f.verdict),
      ];
    case 'memory-flood-stall':
      return [
        'RSS, child floods + host stalls',
        '-',
        `${num(d.stalledMiB?.min, 1)}-${num(d.stalledMiB?.max, 1)} MiB over the stall (flowing: ${num(d.flowingMiB?.median, 1)})`,
        '-',
        f.targetText,
        verdict(f.verdict),
      ];
    case 'scale':
      return [
        `${f.title.replace('scale, ', '')}, each echoing`,
        `${num(f.directMedian)} ms`,
        `${num(f.sidecarMedian)} ms, ${d.answered?.sidecar} answered, ${num(d.sidecarRssWithAllLiveMiB, 1)} MiB RSS`,
        `${num(f.ratio, 2)}x time`,
        f.targetText,
        verdict(f.verdict),
      ];
    default:
      return [f.title, num(f.directMedian, 1), num(f.sidecarMedian, 1), f.ratio === undefined ? '-' : `${num(f.ratio, 2)}x`, f.targetText, verdict(f.verdict)];
  }
}

const order = [
  'utf8-throughput',
  'utf8-floor',
  'raw-channel-throughput',
  'raw-floor',
  'raw-throughput',
  'execute-rate-sequential',
  'execute-rate-16-in-flight',
  'execute-ceiling',
  'echo-latency',
  'echo-floor',
  'startup',
  'startup-floor',
  'startup-onedir',
  'memory-idle',
  'memory-flood-stall',
  'scale',
];
const rows = order.filter((id) => byId.has(id)).map((id) => row(byId.get(id)!));
const header = ['figure', "Node's child_process", 'through the sidecar', 'sidecar/direct', 'target', 'verdict'];
const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
const m = report.machine;
const date = String(report.date).slice(0, 10);

const cpu = (id: string) => byId.get(id)?.details?.cpu;
const echo = byId.get('echo-latency') as (Figure & { direct?: number[]; sidecar?: number[] }) | undefined;
const echoAdded = echo?.direct ? (echo as any).sidecar.map((v: number, i: number) => v - echo.direct![i]!) : [];
const echoDirect = echo?.direct ?? [];
const utf8Cpu = cpu('utf8-throughput');
const rawCpu = cpu('raw-throughput');
const channelCpu = cpu('raw-channel-throughput');
const echoCpu = cpu('echo-latency');
const echoFloor = byId.get('echo-floor');
const executeCeiling = byId.get('execute-ceiling');
const startupFloor = byId.get('startup-floor');

console.log(`## Performance

The same work through the sidecar (with the TypeScript client over its Node transport) and through Node's own
\`child_process\`, in one run, ${report.config.relayRounds} rounds or more, each running both sides back to back (alternating which goes
first). The columns are medians; sidecar/direct is the median of the per-round ratios (or differences), which
cancels the drift of a shared machine's load. Throughput and rates are judged by that ratio, not by absolute
numbers; startup and memory have absolute targets.

${table}
${otherRuns ? `\n${otherRuns}\n` : ''}
What each line does: a child writes ${report.config.relayBytes / 1048576} MiB of 80-byte ASCII lines (\`yes | head\`) and the host gets
text (direct: \`setEncoding('utf8')\` chunks; sidecar: a \`'data'\` event per line); a child writes ${report.config.relayBytes / 1048576} MiB from
\`/dev/zero\` and the host gets bytes (sidecar: \`encoding: 'raw'\`, as binary frames on the raw channel that the Node
transport opens, and again on a sidecar without it: base64 in notifications, the fallback); \`execute('true')\`
${report.config.execCount} times against \`util.promisify(execFile)('true')\`; ${report.config.echoCount} round trips of \`ping\\n\` through a spawned \`cat\`;
\`Sidecar.launch()\` until the answer to \`initialize\` (with the sidecar's bytecode compiled, as an installed wheel or the
bundled binary has it; a checkout run where \`PYTHONDONTWRITEBYTECODE=1\` compiles its modules at every start,
the second number); the same for the bundled onedir binary against \`python -m sidecar\`, alternating, ${report.config.startupRuns * 2} rounds
(its direct column is \`python -m sidecar\`, not \`child_process\`); the sidecar's RSS idle, and while \`yes\` floods stdout
and the host's event loop is blocked for ${report.config.stallMs / 1000} s; ${report.config.scaleChildren} \`cat\`s spawned at once, one line to each, every
echo back, every exit.

Where the time goes (CPU per unit of work, same run):${utf8Cpu ? `
- utf-8 relay: sidecar ${num(utf8Cpu.sidecar, 2)} ms/MiB, client ${num(utf8Cpu.sidecarHost, 2)} ms/MiB (direct: ${num(utf8Cpu.directHost, 2)} ms/MiB). With
  the raw channel open, text travels as bytes on it and the client decodes it with Node's own streaming decoder
  (\`StringDecoder\`, what \`setEncoding('utf8')\` uses; Node 20's \`TextDecoder\` took about twice the CPU), so neither
  side escapes it into JSON or parses it back; on top of the direct side's work the client emits a \`'data'\`
  event per line (a string cut out for each), where the direct side gets one string per 64 KiB read. With two
  CPUs and three busy processes (the child, the sidecar, the host), the busiest one sets the pace.` : ''}${channelCpu ? `
- raw relay over the raw channel: sidecar ${num(channelCpu.sidecar, 2)} ms/MiB, client ${num(channelCpu.sidecarHost, 2)} ms/MiB (direct: ${num(channelCpu.directHost, 2)} ms/MiB).
  The client hands frame payloads on as views of what it read, without copying or decoding them; the bytes
  cross one more process than with \`child_process\`: on 2 CPUs that is a third busy process and two more copies
  of every byte. The floor row above (a plain \`cat\` in between, nothing else) measures what that costs by itself;
  the rest is the sidecar's work per read (a wake-up of its event loop, a frame, a write) against \`cat\`'s
  blocking read and write. Larger pipes (child and channel, 256 KiB and 1 MiB), a larger channel buffer and
  \`splice(2)\` were tried and did not help.` : ''}${rawCpu ? `
- raw relay as base64: sidecar ${num(rawCpu.sidecar, 2)} ms/MiB, client ${num(rawCpu.sidecarHost, 2)} ms/MiB (direct: ${num(rawCpu.directHost, 2)} ms/MiB). Base64 is
  encoded with pybase64 (SIMD), and the client takes base64 data out of a notification without \`JSON.parse\`.` : ''}${echoCpu ? `
- echo: sidecar ${num(echoCpu.sidecar)} us of CPU per round trip, client ${num(echoCpu.sidecarHost)} us (direct: ${num(echoCpu.directHost)} us). A \`write\`
  whose bytes fit in the child's pipe is answered without a task of its own (the handler runs to its end when its
  line is read), but the line still crosses four processes instead of two, each a wake-up on a shared CPU. On
  this VM the direct baseline itself flips between about ${num(Math.min(...echoDirect))} and ${num(Math.max(...echoDirect))} us (a CPU wake-up effect), and the
  added latency per round ranged from ${num(Math.min(...echoAdded))} to ${num(Math.max(...echoAdded))} us.${echoFloor ? ` The floor row (a relay in Python that only
  copies bytes, with poll: no JSON, no event loop library) adds ${num(echoFloor.details?.addedP50Us)} us in this run: the two more hops themselves. The rest is
  the sidecar's work per request on the way to the child (reading the line, parsing it, dispatching it through
  jsonrpcserver, checking its params: about 37 us from its read to the child's pipe in a copy with timers), the
  answer to each \`write\` (about 20 us more, written after the bytes reach the child) and two turns of asyncio's
  loop. Reads ask for 64 KiB until one comes back full: glibc maps each larger request on its own, which cost
  a mapping per line before.` : ''}` : ''}
- \`execute\` beats \`execFile\` because Node \`fork()\`s its whole address space for every child, while the sidecar's
  CPython uses \`vfork()\`; the round trip to the sidecar costs less than that difference. Sequentially, each run
  also waits for the child's own start and exit, which alone take about a millisecond on this VM.${executeCeiling ? ` The ceiling
  row: Python doing nothing but start \`true\` and wait for it reaches ${num(executeCeiling.ratio, 2)}x \`execFile\`. Around each start the
  sidecar reads and dispatches the request, makes the pipes and watches them and the exit, and answers: in a
  copy with timers, about 80 us before \`Popen\`, 75 us after it, and 100 us from the exit to the answer written
  (\`Popen\` itself about 350 us, the child's own life about 720 us), with the client's work on top.` : ''}
- startup: Python itself starts in the first column's time; the rest is imports (asyncio alone is most of it)
  and the first request. What only \`stats\`, process trees, a scope, \`--help\` or TLS need is not imported
  before the first answer (psutil, pathlib, ctypes, ssl: asyncio does without it).${startupFloor ? ` The floor row: Python importing
  only what the sidecar cannot do without (orjson, jsonrpcserver's dispatch, asyncio) answers its first line
  in ${num(startupFloor.directMedian)} ms (${num(startupFloor.details?.withoutAsyncioMs)} ms with jsonrpcserver's synchronous dispatch and no asyncio; Python alone ${num(startupFloor.details?.pythonAloneMs)} ms), so
  the 50 ms target is out of reach before any of the sidecar's own code runs; \`python -m sidecar\` takes
  ${num(startupFloor.sidecarMedian)} ms the same way (orjson alone imports uuid, platform, datetime and dataclasses; jsonrpcserver's
  dispatch imports oslash and typing_extensions).` : ''}${byId.has('startup-onedir') ? `
- onedir start: its Python modules are \`.pyc\` files that Python's own path finder loads (in PyInstaller's archive,
  its importer decompressed each module in Python code). PyInstaller's runtime hook for \`inspect\`, which imported
  \`zipfile\` (and with it \`pathlib\` and \`shutil\`) before the sidecar's first line to serve a call the sidecar
  never makes, is replaced by an empty one of the sidecar's (1.10x \`python -m sidecar\`'s time before, in three
  runs); the rest is the bootloader's own start.` : ''}
- Tried and not kept: uvloop as the event loop. With the sidecar made to run under it, its CPU per MiB of utf-8
  relay was the same as asyncio's (1,040 against 1,036 us/MiB), 5% less on the raw channel, and 80% more per
  \`execute\` (libuv \`fork()\`s where CPython \`vfork()\`s); libuv also leaves the sidecar's inheritable
  descriptors open in every child (the child's own pipe ends among them, so a background grandchild kept a
  child's output open), and takes SIGCHLD over. The per-request cost is Python's (the dispatch, the handlers),
  which a faster loop does not touch.

Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}; Python ${m.python}, Node ${m.node}; commit ${m.commit}, ${date}.
A shared, noisy machine: figures move by about 25% from run to run, ratios less.

\`\`\`
${m.lscpu.join('\n')}
\`\`\`

Reproduce (the full run took ${Math.round(report.durationS)} s here; \`cd ts-client && npm run bench -- --quick\` is a smaller run of a few seconds):

\`\`\`sh
make bench
\`\`\`

It prints the table and writes \`ts-client/bench/results/latest.json\` (every round, CPU per unit of work, RSS
series, the machine).`);
