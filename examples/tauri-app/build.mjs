// Bundles the page into dist/ (tauri.conf.json's build.frontendDist). `--e2e` adds the end-to-end test page and
// the benchmark's page (bench/page/): one test build serves both, so switching between them rebuilds nothing.
// A file whose content is unchanged is not rewritten: cargo then has nothing to re-embed, and a rebuild of an
// unchanged app takes a second.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

const e2e = process.argv.includes('--e2e');
const files = new Map([
  ['index.html', await readFile('index.html')],
  ['xterm.css', await readFile('node_modules/@xterm/xterm/css/xterm.css')],
]);
const entryPoints = [{ in: 'src/main.ts', out: 'main' }];
if (e2e) {
  files.set('e2e.html', await readFile('tests/page/e2e.html'));
  entryPoints.push({ in: 'tests/page/e2e.ts', out: 'e2e' });
  files.set('bench.html', await readFile('bench/page/bench.html'));
  entryPoints.push({ in: 'bench/page/bench.ts', out: 'bench' });
}
const result = await build({
  entryPoints, outdir: 'dist', bundle: true, format: 'esm', target: 'es2022', minify: !e2e, write: false, logLevel: 'warning',
  // process-sidecar is a symlink to ts-client (a file: dependency): resolve its imports from here.
  preserveSymlinks: true,
});
for (const output of result.outputFiles) files.set(path.relative('dist', output.path), Buffer.from(output.contents));

await mkdir('dist', { recursive: true });
for (const [name, content] of files) {
  const target = path.join('dist', name);
  if (!existsSync(target) || !content.equals(await readFile(target))) await writeFile(target, content);
}
// Anything else goes: the app's own build never embeds the test page.
for (const name of await readdir('dist')) if (!files.has(name)) await rm(path.join('dist', name), { recursive: true });
