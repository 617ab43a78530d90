// Loading from disk: missing and unreadable files, check results, and no stack traces for any bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { checkFleetFile, loadFleet, parseFleet } from '../../src/config/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fleet-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a missing file is a ConfigError at 1:1 naming the absolute path', async () => {
  const file = path.join(dir, 'nope.yaml');
  await assert.rejects(loadFleet(path.relative(process.cwd(), file)), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.diagnostics.map((d) => [d.file, d.line, d.col, d.severity]), [[file, 1, 1, 'error']]);
    assert.match(e.diagnostics[0]!.message, /does not exist/);
    return true;
  });
});

test('a directory is a ConfigError, not a crash', async () => {
  await assert.rejects(loadFleet(dir), (e: unknown) => e instanceof ConfigError && /is a directory/.test(e.message));
});

test('loadFleet reads, resolves relative to the file, and reports the absolute path', async () => {
  const file = path.join(dir, 'fleet.yaml');
  writeFileSync(file, 'version: 1\nnix:\n  file: ./hive.nix\nnodes:\n  a:\n    host: h\n');
  const fleet = await loadFleet(file);
  assert.equal(fleet.file, file);
  assert.deepEqual(fleet.nix, { file: path.join(dir, 'hive.nix') });
});

test('checkFleetFile: ok with warnings, not ok with errors and warnings together', async () => {
  const good = path.join(dir, 'good.yaml');
  writeFileSync(good, 'version: 1\nnix:\n  file: x\nnodes:\n  a:\n    host: h\n  b:\n    host: h\n');
  const ok = await checkFleetFile(good);
  assert.equal(ok.ok, true);
  assert.deepEqual(ok.diagnostics.map((d) => d.severity), ['warning']);
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\nnix:\n  file: x\nnodes:\n  a:\n    host: h\n    prot: 1\n  b:\n    host: h\n');
  const result = await checkFleetFile(bad);
  assert.equal(result.ok, false);
  assert.deepEqual(result.diagnostics.map((d) => `${d.line}:${d.col}:${d.severity}`), ['7:5:error', '9:11:warning']);
});

test('odd YAML never escapes as anything but a ConfigError', () => {
  const inputs = [
    '\u0000',
    '{',
    '? [a, b]\n: c\n',
    '!!binary aGVsbG8=\n',
    'version: !!str 1\n',
    'a: &a [*a]\n',
    `a: &a [x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 12 }, (_, i) => `b${i}: &b${i} [${Array(9).fill(i === 0 ? '*a' : `*b${i - 1}`).join(', ')}]`).join('\n')}\n`,
    `${'['.repeat(500)}${']'.repeat(500)}\n`,
    'version: 1\nnix: {file: x}\nnodes:\n  a:\n    host: h\n    <<: [*missing]\n',
    'version: 1\nnix: {file: x}\nnodes:\n  ? [a]\n  : {host: h}\n',
    'version: 1\nnix: {file: x}\nnodes:\n  1: {host: h}\n  true: {host: h2}\n  null: {host: h3}\n',
  ];
  for (const text of inputs) {
    try {
      parseFleet(text, '/f.yaml');
      assert.fail(`accepted ${JSON.stringify(text.slice(0, 40))}`);
    } catch (e) {
      assert.ok(e instanceof ConfigError, `${JSON.stringify(text.slice(0, 40))} threw ${String(e)}`);
      for (const d of e.diagnostics) assert.ok(d.line >= 1 && d.col >= 1 && d.message.length > 0);
    }
  }
});
