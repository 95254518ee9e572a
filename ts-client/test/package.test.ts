/**
 * The npm package as a user gets it: `npm pack` (which builds dist/ first), unpacked into the node_modules of
 * a throwaway app, then used the way the READMEs say: the README's TypeScript example, copied from README.md
 * as it stands, runs against the real sidecar and exits on its own (no dispose()); `require()` from CommonJS
 * works (Node >= 20.19 can require an ES module); and the tarball holds what it should (LICENSE, dist/, a
 * version in step with the Python package's).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import ts from 'typescript';
import { clientDir, python, repoRoot } from './helpers.js';

const run = promisify(execFile);

interface PackedFile {
  path: string;
}

let work: string;
/** The throwaway app: its node_modules/process-sidecar is the unpacked tarball. */
let app: string;
let packed: { name: string; version: string; filename: string; files: PackedFile[] };

/** A PATH on which `python3` is the test's Python (which has the sidecar installed), then the usual one. */
function pathWithPython3(): string {
  const bin = path.join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  // A script, not a symlink: a virtual environment's python finds its site-packages only under its own path.
  writeFileSync(path.join(bin, 'python3'), `#!/bin/sh\nexec '${python.replaceAll("'", "'\\''")}' "$@"\n`, { mode: 0o755 });
  return `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
}

/** The environment of a user's program: python3 has the sidecar, and nothing of this repository leaks in. */
function userEnv(): NodeJS.ProcessEnv {
  // PYTHONPATH: in case the test's Python has the sidecar only as this checkout, not installed.
  return { ...process.env, PATH: pathWithPython3(), PYTHONPATH: repoRoot, NODE_OPTIONS: '' };
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'sidecar-package-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: clientDir, maxBuffer: 16 << 20 });
  // npm prints the prepack build's output first, then the JSON.
  packed = (JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as Array<typeof packed>)[0]!;
  app = path.join(work, 'app');
  const unpacked = path.join(app, 'node_modules', 'process-sidecar');
  mkdirSync(unpacked, { recursive: true });
  const tarball = path.join(work, packed.filename);
  await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
}, { timeout: 120000 });

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the licence, the README, the built entry points and their types', { timeout: 10000 }, () => {
  const files = new Set(packed.files.map((file) => file.path));
  for (const name of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']) {
    assert.ok(files.has(name), `${name} is missing`);
  }
  for (const entry of ['node', 'tauri', 'stream']) {
    assert.ok(files.has(`dist/transports/${entry}.js`), `dist/transports/${entry}.js is missing`);
    assert.ok(files.has(`dist/transports/${entry}.d.ts`), `dist/transports/${entry}.d.ts is missing`);
  }
  assert.ok(![...files].some((name) => name.startsWith('test/') || name.startsWith('bench/')), 'tests or benchmarks got in');
  const licence = readFileSync(path.join(app, 'node_modules', 'process-sidecar', 'LICENSE'), 'utf8');
  assert.equal(licence, readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8'), 'the package LICENSE is the repository one');
  assert.match(licence, /^MIT License/);
});

test("the npm package's version is the Python package's (sidecar/__init__.py)", { timeout: 10000 }, () => {
  const init = readFileSync(path.join(repoRoot, 'sidecar', '__init__.py'), 'utf8');
  const version = /^__version__ = "([^"]+)"$/m.exec(init)?.[1];
  assert.ok(version, 'sidecar/__init__.py has no __version__');
  assert.equal(packed.version, version);
  assert.equal(JSON.parse(readFileSync(path.join(app, 'node_modules', 'process-sidecar', 'package.json'), 'utf8')).version, version);
});

/** The first ```ts block after "## From TypeScript" in the repository's README. */
function readmeExample(): string {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## From TypeScript'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match, 'README.md has no TypeScript example under "From TypeScript"');
  return match[1]!;
}

test("the README's TypeScript example type-checks against the packed package", { timeout: 60000 }, () => {
  const file = path.join(app, 'readme-example.ts');
  writeFileSync(file, readmeExample());
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    typeRoots: [path.join(clientDir, 'node_modules', '@types')],
  });
  const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(errors, []);
});

test("the README's TypeScript example, as written, runs against the real sidecar and exits on its own", { timeout: 60000 }, async () => {
  const file = path.join(app, 'readme-example.ts');
  const code = readmeExample();
  assert.doesNotMatch(code, /dispose\(\)/, 'the example is meant to end without dispose()');
  // Printed when the event loop has nothing left to do: the proof that the sidecar let it go.
  writeFileSync(file, `${code}\nprocess.on('exit', (status) => console.log('exited on its own', status));\n`);
  const started = Date.now();
  const { stdout } = await run(path.join(clientDir, 'node_modules', '.bin', 'tsx'), [file], {
    cwd: app,
    env: userEnv(),
    timeout: 45000,
    killSignal: 'SIGKILL',
  });
  assert.match(stdout, /^done null 15$/m, `the spawned child's 'close' was not reported: ${stdout}`);
  assert.match(stdout, /exited on its own 0/);
  assert.ok(Date.now() - started < 45000);
});

test("require('process-sidecar/node') works from CommonJS (Node >= 20.19 requires ES modules)", { timeout: 60000 }, async () => {
  const file = path.join(app, 'from-commonjs.cjs');
  writeFileSync(
    file,
    `const { Command, Sidecar, isSidecarError } = require('process-sidecar/node');
     (async () => {
       await Sidecar.launch({ args: ['--log-level', 'error'] });
       const { stdout } = await Command.create('echo', ['from commonjs']).execute();
       console.log(stdout.trim(), typeof isSidecarError);
     })();
    `,
  );
  const { stdout } = await run(process.execPath, ['--no-warnings', file], { cwd: app, env: userEnv(), timeout: 45000, killSignal: 'SIGKILL' });
  assert.equal(stdout.trim(), 'from commonjs function');
});

test('the Node version the package declares is the one both READMEs state, and this Node meets it', { timeout: 10000 }, () => {
  const engines = JSON.parse(readFileSync(path.join(clientDir, 'package.json'), 'utf8')).engines.node as string;
  const minimum = /^>=(\d+)\.(\d+)$/.exec(engines);
  assert.ok(minimum, `engines.node is ${engines}`);
  for (const readme of [path.join(repoRoot, 'README.md'), path.join(clientDir, 'README.md')]) {
    assert.match(readFileSync(readme, 'utf8'), new RegExp(`Node ≥ ${minimum[1]}\\.${minimum[2]}\\b`), readme);
  }
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  assert.ok(major > Number(minimum[1]) || (major === Number(minimum[1]) && minor >= Number(minimum[2])), process.version);
});
