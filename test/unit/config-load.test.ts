// Loading from disk: missing and unreadable files, check results, and no stack traces for any bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { checkFleetFile, loadFleet, parseFleet } from '../../src/config/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fleet-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(path.join(dir, 'hive.nix'), '{ }');
const ROOT = new URL('../../', import.meta.url).pathname;

test('a missing file is a ConfigError at 1:1 naming the absolute path', async () => {
  const file = path.join(dir, 'nope.yaml');
  await assert.rejects(loadFleet(path.relative(process.cwd(), file)), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.diagnostics.map((d) => [d.file, d.line, d.col, d.severity]), [[file, 1, 1, 'error']]);
    assert.match(e.diagnostics[0]!.message, /does not exist/);
    return true;
  });
});

test('a directory or a device is a ConfigError naming what it is, not a crash', async () => {
  const message = (kind: string) => `cannot read the fleet file: it is ${kind}, not a regular file; point -f/--file or FLEET_FILE at a YAML file`;
  for (const [file, kind] of [[dir, 'a directory'], ['/dev/null', 'a device']] as const) {
    await assert.rejects(loadFleet(file), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.diagnostics.map((d) => [d.file, d.line, d.col, d.message]), [[file, 1, 1, message(kind)]]);
      return true;
    });
  }
});

test('a FIFO as the fleet file is refused at once, exit 2 (it blocked forever before)', async () => {
  const fifo = path.join(dir, 'fleet.fifo');
  await execa('mkfifo', [fifo]);
  const r = await execa('node', ['--import', 'tsx', 'src/cli/bin.ts', '-f', fifo, 'check'], { cwd: ROOT, timeout: 60_000, reject: false, stdin: 'ignore' });
  assert.equal(r.timedOut, false, 'fleet check blocked on the FIFO');
  assert.equal(r.exitCode, 2);
  assert.equal(r.stderr.trim(), `${fifo}:1:1: cannot read the fleet file: it is a FIFO (named pipe), not a regular file; point -f/--file or FLEET_FILE at a YAML file`);
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
  writeFileSync(good, 'version: 1\nnix:\n  file: hive.nix\ndefaults:\n  user: u\nnodes:\n  a:\n    host: h\n    user: v\n');
  const ok = await checkFleetFile(good);
  assert.equal(ok.ok, true);
  assert.deepEqual(ok.diagnostics.map((d) => d.severity), ['warning']);
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\nnix:\n  file: hive.nix\ndefaults:\n  user: u\nnodes:\n  a:\n    host: h\n    user: v\n    prot: 1\n');
  const result = await checkFleetFile(bad);
  assert.equal(result.ok, false);
  assert.deepEqual(result.diagnostics.map((d) => `${d.line}:${d.col}:${d.severity}`), ['5:3:warning', '10:5:error']);
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

test('loadFleet checks the paths the file names; parseFleet without a probe does not touch the disk', async () => {
  const file = path.join(dir, 'paths.yaml');
  const text = 'version: 1\nnix:\n  file: ./nope.nix\ndefaults:\n  sshConfig: ./ssh_config\nnodes:\n  a:\n    host: h\n';
  writeFileSync(file, text);
  await assert.rejects(loadFleet(file), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`), [
      `3:9: \`nix.file\` \`./nope.nix\` does not exist (${path.join(dir, 'nope.nix')})`,
      `5:14: \`defaults.sshConfig\` \`./ssh_config\` does not exist (${path.join(dir, 'ssh_config')})`,
    ]);
    return true;
  });
  assert.deepEqual(parseFleet(text, file).nix, { file: path.join(dir, 'nope.nix') });
});
