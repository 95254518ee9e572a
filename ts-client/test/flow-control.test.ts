/**
 * End-to-end flow control from the client's side: with a window, a child whose output nobody takes waits
 * (instead of its output piling up here), and once listeners take it, every byte arrives, in order, and the
 * child runs to its end. The client acknowledges what its listeners took, by itself.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Sidecar } from '../src/transports/node.js';
import { launchSidecar, sleep } from './helpers.js';

const WINDOW = 65536;
const TOTAL = 4 * 1024 * 1024;
// Random bytes, and their SHA-256 on stderr once they are written, so that the test can check every byte and its order.
const FLOOD = ['-c', `f=$(mktemp) && head -c ${TOTAL} /dev/urandom > "$f" && cat "$f" && sha256sum < "$f" | cut -c1-64 >&2; rm -f "$f"`];

describe('flow control', () => {
  let sidecar: Sidecar;
  before(async () => {
    // No raw channel: raw output then travels in notifications, which the window counts.
    sidecar = await launchSidecar({ flowControl: { windowBytes: WINDOW }, rawChannel: false });
  });
  after(() => sidecar.dispose());

  test('the sidecar agreed to the window', () => {
    assert.deepEqual(sidecar.info?.capabilities.flowControl, { windowBytes: WINDOW });
  });

  test('a child whose output nobody takes waits; once taken, every byte arrives and the child ends', { timeout: 60000 }, async () => {
    const command = sidecar.command('sh', FLOOD, { encoding: 'raw' });
    // spawn() with no listener: the run holds the child's events until one comes, and takes nothing.
    const child = await command.spawn();
    await sleep(1500);
    const listed = await sidecar.list();
    assert.ok(listed.some((entry) => entry.pid === child.pid), 'without flow control the child would have written it all and exited by now');
    const hash = createHash('sha256');
    let bytes = 0;
    command.stdout.on('data', (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    const stderr: Uint8Array[] = [];
    command.stderr.on('data', (chunk) => stderr.push(chunk));
    const { code } = await child.wait();
    assert.equal(code, 0);
    assert.equal(bytes, TOTAL);
    assert.equal(hash.digest('hex'), Buffer.concat(stderr).toString().trim(), 'the bytes the child wrote, in its order');
  });

  test('a slow listener keeps the child at its pace, and nothing is lost', { timeout: 60000 }, async () => {
    const lines = 20000;
    const command = sidecar.command('sh', ['-c', `seq 1 ${lines}`]);
    let expected = 1;
    let received = 0;
    command.stdout.on('data', (line) => {
      assert.equal(line, `${expected}\n`);
      expected++;
      received++;
      // Busy for a moment now and then, as a page that renders would be.
      if (received % 2000 === 0) {
        const until = Date.now() + 20;
        while (Date.now() < until);
      }
    });
    const child = await command.spawn();
    const { code } = await child.wait();
    assert.equal(code, 0);
    assert.equal(received, lines);
  });
});

describe('flow control off', () => {
  test('a Node sidecar has none unless asked: the pipe is its backpressure', { timeout: 30000 }, async () => {
    const sidecar = await launchSidecar();
    try {
      assert.equal(sidecar.info?.capabilities.flowControl, null);
    } finally {
      await sidecar.dispose();
    }
  });
});
