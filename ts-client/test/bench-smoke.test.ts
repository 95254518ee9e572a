/**
 * The benchmark (bench/bench.ts, `npm run bench`) in its smoke mode: every figure runs once on tiny sizes,
 * both ways, so the benchmark cannot rot. It checks that the run completes and reports every figure; it
 * judges no speed (the full benchmark does that, side by side, outside the test suite).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { clientDir, python } from './helpers.js';

const FIGURES = [
  'utf8-throughput',
  'raw-channel-throughput',
  'raw-throughput',
  'utf8-floor',
  'raw-floor',
  'execute-rate-sequential',
  'execute-rate-2-in-flight',
  'execute-ceiling',
  'echo-latency',
  'echo-floor',
  'scale',
  'startup',
  'startup-floor',
  'memory-idle',
  'memory-flood-stall',
];

test('the benchmark runs in smoke mode and reports every figure', { timeout: 60000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
  try {
    const out = path.join(dir, 'smoke.json');
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/bench.ts', '--smoke', '--out', out], {
      cwd: clientDir,
      env: { ...process.env, SIDECAR_PYTHON: python },
    });
    const report = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(report.mode, 'smoke');
    assert.deepEqual(
      report.figures.map((figure: { id: string }) => figure.id),
      FIGURES,
    );
    for (const figure of report.figures) {
      assert.ok(Number.isFinite(figure.sidecarMedian), `${figure.id}: ${figure.sidecarMedian}`);
      assert.ok(['meets', 'misses', 'reported'].includes(figure.verdict), `${figure.id}: ${figure.verdict}`);
      if (figure.direct) assert.ok(Number.isFinite(figure.ratio), `${figure.id}: ratio ${figure.ratio}`);
    }
    assert.equal(report.figures.find((f: { id: string }) => f.id === 'scale').details.answered.sidecar, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
