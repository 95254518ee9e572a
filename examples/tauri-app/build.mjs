// Bundles the page into dist/ (tauri.conf.json's build.frontendDist). `--e2e` adds the end-to-end test page.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { build } from 'esbuild';

const e2e = process.argv.includes('--e2e');
await rm('dist', { recursive: true, force: true }); // the app's build never embeds the test page
await mkdir('dist', { recursive: true });
await copyFile('index.html', 'dist/index.html');
await copyFile('node_modules/@xterm/xterm/css/xterm.css', 'dist/xterm.css');
const entryPoints = [{ in: 'src/main.ts', out: 'main' }];
if (e2e) {
  await copyFile('tests/page/e2e.html', 'dist/e2e.html');
  entryPoints.push({ in: 'tests/page/e2e.ts', out: 'e2e' });
}
await build({ entryPoints, outdir: 'dist', bundle: true, format: 'esm', target: 'es2022', minify: !e2e, logLevel: 'warning',
  // process-sidecar is a symlink to ts-client (a file: dependency): resolve its imports from here.
  preserveSymlinks: true,
});
