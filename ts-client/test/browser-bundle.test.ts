/**
 * The core and the Tauri transport run in a webview: bundling them for the browser must not pull in any Node
 * built-in module. The Node transport is bundled too, as a control: it must be caught.
 */
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { build, type Plugin } from 'esbuild';
import { clientDir } from './helpers.js';

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Bundles `entry` for the browser and returns the Node built-ins it tried to import. */
async function nodeImportsOf(entry: string): Promise<string[]> {
  const found: string[] = [];
  const detect: Plugin = {
    name: 'detect-node-builtins',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        // 'node:fs', 'fs' and 'fs/promises' alike.
        if (args.path.startsWith('node:') || builtins.has(args.path) || builtins.has(args.path.split('/')[0]!)) {
          found.push(`${args.path} (from ${path.relative(clientDir, args.importer)})`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
  const result = await build({
    entryPoints: [path.join(clientDir, entry)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
    plugins: [detect],
    metafile: true,
  });
  assert.equal(result.errors.length, 0);
  assert.ok(result.outputFiles[0]!.text.length > 1000, 'the bundle has content');
  return found;
}

test('src/index.ts (the core) bundles for the browser without Node built-ins', { timeout: 30000 }, async () => {
  assert.deepEqual(await nodeImportsOf('src/index.ts'), []);
});

test('src/transports/tauri.ts bundles for the browser without Node built-ins', { timeout: 30000 }, async () => {
  assert.deepEqual(await nodeImportsOf('src/transports/tauri.ts'), []);
});

test('src/transports/stream.ts bundles for the browser without Node built-ins', { timeout: 30000 }, async () => {
  assert.deepEqual(await nodeImportsOf('src/transports/stream.ts'), []);
});

test('control: the Node transport is caught importing child_process', { timeout: 30000 }, async () => {
  const found = await nodeImportsOf('src/transports/node.ts');
  assert.ok(found.some((f) => f.startsWith('node:child_process')), found.join(', '));
});
