/**
 * A Node host that runs the bundled sidecar binary, as an Electron main process or a VS Code extension
 * ships it: no Python needed on the user's machine.
 *
 *   make bundle                                              # at the repository root: dist/process-sidecar-<triple>
 *   cd ts-client && npx tsx examples/bundled-host.ts         # or: ... bundled-host.ts path/to/process-sidecar-<triple>
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// In an app: import { Command, Sidecar } from 'process-sidecar/node';
import { Command, Sidecar } from '../src/transports/node.js';

/** The binary given on the command line (or in $SIDECAR_BINARY), else the one `make bundle` put in dist/. */
function findBinary(): string {
  const given = process.argv[2] ?? process.env.SIDECAR_BINARY;
  if (given) return path.resolve(given);
  const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');
  const names = (() => {
    try {
      return readdirSync(dist);
    } catch {
      return [];
    }
  })();
  const name = names.find((n) => n.startsWith('process-sidecar-') && statSync(path.join(dist, n)).isFile());
  if (!name) throw new Error(`No process-sidecar-<triple> in ${dist}: run \`make bundle\` at the repository root first.`);
  return path.join(dist, name);
}

const binary = findBinary();
const sidecar = await Sidecar.launch({ program: binary, args: ['--log-level', 'error'] });
console.log(`${sidecar.info!.serverInfo.name} ${sidecar.info!.serverInfo.version}, from ${binary}`);

// On quit, stop every child and then the sidecar. Were this process to crash instead, the sidecar would read
// end of file on its stdin and do the same by itself.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void sidecar.dispose().then(() => process.exit(130)));
}

const { stdout } = await Command.create('uname', ['-sm']).execute();
console.log('execute:', stdout.trim());

const command = Command.create('sh', ['-c', 'while read -r line; do echo "you said: $line"; done; exit 3']);
command.stdout.on('data', (line) => console.log('stdout: ', line.trimEnd()));
command.on('close', ({ code, signal }) => console.log('close:  ', { code, signal }));
const child = await command.spawn();
await child.write('hello\n');
await child.closeStdin();
await child.wait();

const sleeper = await Command.create('sleep', ['60']).spawn();
await sleeper.kill(); // SIGTERM to its whole process tree
console.log('killed: ', await sleeper.wait());

await sidecar.dispose();
console.log('disposed: the sidecar has exited');
