/**
 * src/generated/ must be exactly what protocol/ generates (npm test also runs check:generated); here we prove
 * that the check notices a change in protocol/, and that the generated constants are the protocol's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ErrorCode, METHODS, PROTOCOL_VERSION } from '../src/index.js';
import * as RawChannel from '../src/generated/raw-channel.js';
import { clientDir, repoRoot } from './helpers.js';

const run = promisify(execFile);
const tsxCli = path.join(clientDir, 'node_modules', 'tsx', 'dist', 'cli.mjs');

async function check(protocolDir: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [tsxCli, 'scripts/generate.ts', '--check'], {
      cwd: clientDir,
      env: { ...process.env, PROTOCOL_DIR: protocolDir },
    });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

test('the generated constants are those of protocol/errors.json and methods.json', { timeout: 5000 }, () => {
  const errors = JSON.parse(readFileSync(path.join(repoRoot, 'protocol', 'errors.json'), 'utf8')) as { errors: Array<{ name: string; code: number }> };
  assert.deepEqual(
    Object.entries(ErrorCode),
    errors.errors.map((e) => [e.name, e.code]),
  );
  assert.equal(ErrorCode.SpawnFailed, -32000);
  const methods = JSON.parse(readFileSync(path.join(repoRoot, 'protocol', 'methods.json'), 'utf8')) as { protocolVersion: string; methods: Array<{ name: string }> };
  assert.equal(PROTOCOL_VERSION, methods.protocolVersion);
  assert.deepEqual(METHODS.map((m) => m.name), methods.methods.map((m) => m.name));
});

test('the raw channel constants are those of protocol/raw-channel.json', { timeout: 5000 }, () => {
  const layout = JSON.parse(readFileSync(path.join(repoRoot, 'protocol', 'raw-channel.json'), 'utf8')) as {
    headerBytes: number;
    header: Array<{ name: string; offset: number }>;
    streams: Record<string, number>;
    maxPayloadBytes: number;
  };
  const offset = (name: string) => layout.header.find((f) => f.name === name)!.offset;
  assert.equal(RawChannel.RAW_FRAME_HEADER_BYTES, layout.headerBytes);
  assert.equal(RawChannel.RAW_FRAME_PID_OFFSET, offset('pid'));
  assert.equal(RawChannel.RAW_FRAME_STREAM_OFFSET, offset('stream'));
  assert.equal(RawChannel.RAW_FRAME_LENGTH_OFFSET, offset('length'));
  assert.equal(RawChannel.RAW_FRAME_MAX_PAYLOAD_BYTES, layout.maxPayloadBytes);
  assert.deepEqual({ ...RawChannel.RawStream }, layout.streams);
});

test('check:generated passes on protocol/ as it is and fails once a schema changes', { timeout: 60000 }, async () => {
  const copy = mkdtempSync(path.join(tmpdir(), 'protocol-'));
  try {
    cpSync(path.join(repoRoot, 'protocol'), copy, { recursive: true });
    const same = await check(copy);
    assert.equal(same.ok, true, same.output);

    const schemaFile = path.join(copy, 'schemas', 'kill.params.json');
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as { properties: Record<string, unknown> };
    schema.properties.newMember = { type: 'string' };
    writeFileSync(schemaFile, JSON.stringify(schema));
    const changed = await check(copy);
    assert.equal(changed.ok, false);
    assert.match(changed.output, /src\/generated\/protocol\.ts/);

    // The frame layout too: a changed limit is caught, a layout the decoder cannot read fails generation.
    writeFileSync(schemaFile, readFileSync(path.join(repoRoot, 'protocol', 'schemas', 'kill.params.json')));
    const layoutFile = path.join(copy, 'raw-channel.json');
    const layout = JSON.parse(readFileSync(layoutFile, 'utf8')) as { maxPayloadBytes: number; header: Array<{ byteOrder?: string }> };
    layout.maxPayloadBytes *= 2;
    writeFileSync(layoutFile, JSON.stringify(layout));
    const bigger = await check(copy);
    assert.equal(bigger.ok, false);
    assert.match(bigger.output, /src\/generated\/raw-channel\.ts/);
    layout.header[0]!.byteOrder = 'little-endian';
    writeFileSync(layoutFile, JSON.stringify(layout));
    const unreadable = await check(copy);
    assert.equal(unreadable.ok, false);
    assert.match(unreadable.output, /must be big-endian/);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
