// The terminal UIs (`status --watch`, `apply -i`) with stderr that is not a terminal (`2>log`): nothing meant for a
// terminal lands there (ink's cursor handling wrote "show the cursor" into the file at exit).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { keepEscapesOffStderr } from '../../src/cli/ink.js';
import { startTmux } from '../tmux.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));

test('stderr that is not a terminal: writes of nothing but escape sequences are dropped, text passes; a terminal is left alone', async () => {
  const file = Object.assign(new PassThrough(), { isTTY: false });
  let written = '';
  file.on('data', (c: Buffer) => (written += c.toString()));
  keepEscapesOffStderr(file);
  keepEscapesOffStderr(file); // idempotent
  let called = false;
  assert.equal(file.write('\u001b[?25h', () => (called = true)), true);
  file.write('fleet: a line\n');
  file.write('\u001b[31mred\u001b[0m\n');
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(called, 'the write callback still runs');
  assert.equal(written, 'fleet: a line\n\u001b[31mred\u001b[0m\n');
  const terminal = Object.assign(new PassThrough(), { isTTY: true });
  const write = terminal.write;
  keepEscapesOffStderr(terminal);
  assert.equal(terminal.write, write);
});

test('status --watch with stderr in a file: q quits (exit 0) and the file holds no escape sequence', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync('/tmp/fleet-stderr-');
  writeFileSync(join(dir, 'hive.nix'), '{ }');
  writeFileSync(join(dir, 'fleet.yaml'), 'version: 1\nnix: { file: ./hive.nix }\nnodes:\n  web-1: { host: 10.0.0.1 }\n');
  const err = join(dir, 'err');
  // The evaluation fails (no such node): the watch shows it and waits for q, the UI drawn meanwhile.
  const tmux = await startTmux({ command: ['sh', '-c', 'exec "$@" 2>"$ERR"', 'sh', process.execPath, '--import', 'tsx', BIN, '-f', join(dir, 'fleet.yaml'), 'status', '--watch'], cwd: ROOT, env: { ERR: err } });
  t.after(() => tmux.close());
  await tmux.waitForScreen(/^q quit/m, 60_000);
  await tmux.sendKeys('q');
  assert.equal(await tmux.waitForExit(30_000), 0);
  const text = readFileSync(err, 'utf8');
  assert.doesNotMatch(text, /\u001b/, JSON.stringify(text)); // eslint-disable-line no-control-regex
});
