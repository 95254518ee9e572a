/**
 * initialize notificationBytes from the client's side: the Node transport takes the sidecar's default, a launch
 * option asks for larger notifications, and they arrive whole (every byte, in order) and no larger than asked.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { launchSidecar } from './helpers.js';

const TOTAL = 8 * 1024 * 1024;
// Random bytes, and their SHA-256 on stderr once they are written: every byte and its order are checked.
const FLOOD = ['-c', `f=$(mktemp) && head -c ${TOTAL} /dev/urandom > "$f" && cat "$f" && sha256sum < "$f" | cut -c1-64 >&2; rm -f "$f"`];

test('a Node sidecar takes the default notification size, 64 KiB', { timeout: 30000 }, async () => {
  const sidecar = await launchSidecar();
  try {
    assert.equal(sidecar.info?.capabilities.notificationBytes, 65536);
  } finally {
    await sidecar.dispose();
  }
});

test('notificationBytes: larger notifications, none larger than asked, every byte in order', { timeout: 60000 }, async () => {
  // No raw channel: raw output then travels in notifications (base64), one 'data' event each.
  const sidecar = await launchSidecar({ notificationBytes: 262144, rawChannel: false });
  try {
    assert.equal(sidecar.info?.capabilities.notificationBytes, 262144);
    const command = sidecar.command('sh', FLOOD, { encoding: 'raw' });
    const hash = createHash('sha256');
    const sizes: number[] = [];
    let expected = '';
    command.stdout.on('data', (chunk) => {
      sizes.push(chunk.length);
      hash.update(chunk);
    });
    command.stderr.on('data', (chunk) => (expected += new TextDecoder().decode(chunk)));
    const child = await command.spawn();
    const { code } = await child.wait();
    assert.equal(code, 0);
    assert.equal(sizes.reduce((a, b) => a + b, 0), TOTAL);
    assert.equal(hash.digest('hex'), expected.trim());
    assert.ok(Math.max(...sizes) <= 262144, `a notification of ${Math.max(...sizes)} bytes`);
    assert.ok(Math.max(...sizes) > 65536, 'the child\'s pipes hold a notification\'s worth, so reads fill them (Linux)');
  } finally {
    await sidecar.dispose();
  }
});
