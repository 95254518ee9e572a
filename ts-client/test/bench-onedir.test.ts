/**
 * The benchmark's startup-onedir figure (bundled onedir binary against python -m sidecar), in smoke mode, so
 * that it cannot rot. It needs a built binary; the smoke run never builds one (PyInstaller takes a minute),
 * so this uses the one the Python bundle tests build (build/test-bundle/, `make test` runs those first) and
 * is skipped without it. It judges no speed: `make bench` measures the figure side by side.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { clientDir, python, repoRoot } from './helpers.js';

function builtOnedir(): string | undefined {
  const dist = path.join(repoRoot, 'build', 'test-bundle', 'dist');
  if (!existsSync(dist)) return undefined;
  const folder = readdirSync(dist).find((name) => name.endsWith('-onedir'));
  const binary = folder && path.join(dist, folder, folder.slice(0, -'-onedir'.length));
  return binary && existsSync(binary) ? binary : undefined;
}

const binary = builtOnedir();

test(
  'the benchmark measures the onedir binary against python -m sidecar, side by side',
  { timeout: 60000, skip: binary ? false : 'no onedir binary in build/test-bundle (pytest tests/bundle builds it)' },
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-onedir-'));
    try {
      const out = path.join(dir, 'onedir.json');
      await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/bench.ts', '--smoke', '--only', 'startup-onedir', '--onedir', binary!, '--out', out], {
        cwd: clientDir,
        env: { ...process.env, SIDECAR_PYTHON: python },
      });
      const report = JSON.parse(readFileSync(out, 'utf8'));
      const [figure] = report.figures;
      assert.equal(report.figures.length, 1);
      assert.equal(figure.id, 'startup-onedir');
      assert.equal(figure.direct.length, figure.sidecar.length);
      assert.ok(Number.isFinite(figure.ratio), `ratio ${figure.ratio}`);
      assert.ok(['meets', 'misses'].includes(figure.verdict), figure.verdict);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
