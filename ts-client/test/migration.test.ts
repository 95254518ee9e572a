/**
 * The migration guide's claim (README, "Migrating from @tauri-apps/plugin-shell"): code written for the shell
 * plugin compiles against this package with only its import changed. examples/migrate-from-plugin-shell.ts
 * is compiled against this package by `npm run typecheck`; here the same file, with the plugin's import put
 * back, is compiled against the plugin, so the file really is plugin-shell code. And the one difference the
 * guide documents for types, an 'error' listener annotated as taking a string, fails exactly as it says.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import ts from 'typescript';
import { clientDir } from './helpers.js';

const OURS = "from 'process-sidecar/tauri'";
const PLUGIN = "from '@tauri-apps/plugin-shell'";
const example = readFileSync(path.join(clientDir, 'examples', 'migrate-from-plugin-shell.ts'), 'utf8');

// A directory outside the package whose node_modules is the package's, so the plugin resolves as in an app.
const work = mkdtempSync(path.join(os.tmpdir(), 'sidecar-migration-'));
symlinkSync(path.join(clientDir, 'node_modules'), path.join(work, 'node_modules'), 'dir');
after(() => rmSync(work, { recursive: true, force: true }));

/** Type errors of `source` compiled as strict NodeNext TypeScript; this package's name maps to its source. */
function typeErrors(name: string, source: string): string[] {
  const file = path.join(work, name);
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    paths: { 'process-sidecar/*': [path.join(clientDir, 'src', 'transports', '*.ts')] },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

test('the migration example imports this package, and nothing else differs from plugin-shell code', { timeout: 10000 }, () => {
  const imports = example.split('\n').filter((line) => /^import\b/.test(line));
  assert.equal(imports.length, 1, `one import line, got: ${imports.join(' | ')}`);
  assert.ok(imports[0]!.includes(OURS), imports[0]);
});

test('the migration example, with the import put back, compiles against @tauri-apps/plugin-shell', { timeout: 60000 }, () => {
  assert.deepEqual(typeErrors('plugin-shell.ts', example.replace(OURS, PLUGIN)), []);
});

test('the migration example compiles against this package (as npm run typecheck also checks)', { timeout: 60000 }, () => {
  assert.deepEqual(typeErrors('process-sidecar.ts', example), []);
});

test("an 'error' listener annotated (error: string) compiles against the plugin only, as the guide says", { timeout: 60000 }, () => {
  const snippet = (from: string) =>
    `import { Command } ${from};\n` +
    `const command = Command.create('ls');\n` +
    `command.on('error', (error: string) => console.error(error.toUpperCase()));\n` +
    `command.on('error', (error) => console.error(\`command error: "\${error}"\`));\n`;
  assert.deepEqual(typeErrors('error-plugin.ts', snippet(PLUGIN)), []);
  const ours = typeErrors('error-ours.ts', snippet(OURS));
  assert.equal(ours.length, 1, ours.join('\n'));
  assert.match(ours[0]!, /SidecarError.* is not assignable to .*string/s);
});
