/**
 * Code written for @tauri-apps/plugin-shell, moved to process-sidecar by changing the import line and nothing
 * else (ts-client/README.md, "Migrating from @tauri-apps/plugin-shell"). `npm run typecheck` compiles it
 * against this package; test/migration.test.ts swaps the import back and compiles it against the shell
 * plugin too, so both halves of the claim are checked. Start-up (`await Sidecar.launch()`) belongs in the
 * app's entry point and is not part of this file.
 */
import { Child, Command, type ChildProcess, type IOPayload, type SpawnOptions, type TerminatedPayload } from 'process-sidecar/tauri';

const inRepo: SpawnOptions = { cwd: '/path/to/repo', env: { GIT_PAGER: 'cat' } };

/** execute(): the whole output at the end. */
export async function gitStatus(): Promise<string> {
  const output: ChildProcess<string> = await Command.create('git', ['status', '--porcelain'], inRepo).execute();
  if (output.code !== 0) throw new Error(`git failed (${output.code ?? output.signal}): ${output.stderr}`);
  return output.stdout;
}

/** A binary bundled with the app (tauri.conf.json: bundle > externalBin), streamed line by line. */
export async function transcode(input: string, onLine: (line: string) => void): Promise<Child> {
  const command = Command.sidecar('binaries/ffmpeg', ['-i', input, '-f', 'null', '-']);
  command.on('close', (data: TerminatedPayload) => console.log(`ffmpeg finished with code ${data.code} and signal ${data.signal}`));
  command.on('error', (error) => console.error(`ffmpeg error: "${error}"`));
  command.stdout.on('data', (line: string) => onLine(line));
  command.stderr.on('data', (line) => onLine(line));
  const child = await command.spawn();
  console.log('ffmpeg pid', child.pid);
  return child;
}

/** Raw bytes, and writing to a child's stdin. */
export async function checksum(bytes: Uint8Array): Promise<string> {
  const command: Command<Uint8Array> = Command.create('sha256sum', [], { encoding: 'raw' });
  const chunks: Uint8Array[] = [];
  const done = new Promise<TerminatedPayload>((resolve) => command.on('close', resolve));
  command.stdout.on('data', (chunk) => chunks.push(chunk));
  const child: Child = await command.spawn();
  await child.write(bytes);
  await child.write([10]);
  await done;
  return new TextDecoder().decode(concat(chunks)).split(' ')[0] ?? '';
}

let watcher: Child | null = null;

/** A long-running child, kept and killed later. */
export async function watch(onEvent: (payload: IOPayload) => void): Promise<void> {
  const command = Command.create('tail', ['-f', '/var/log/syslog']);
  command.stdout.on('data', onEvent);
  watcher = await command.spawn();
}

export async function stopWatching(): Promise<void> {
  await watcher?.kill();
  watcher = null;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
