// The evaluation's settings: nix.evalMemory in the fleet file, --eval-memory and --eval-workers, the budget they mean.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parseFleet } from '../../src/config/index.js';
import { parseMemorySetting } from '../../src/config/memory.js';
import { getSchema } from '../../src/config/schema.js';
import { runCli } from '../../src/cli/main.js';
import { withEvalFlags } from '../../src/cli/fleet-file.js';
import { ConfigError, formatDiagnostic } from '../../src/errors.js';
import { autoBudget, readMemAvailable, resolveBudget } from '../../src/nix/memory.js';
import { workerCount } from '../../src/nix/eval-run.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const head = (memory: string) => `version: 1\nnix:\n  file: ./hive.nix\n  evalMemory: ${memory}\nnodes:\n  a:\n    host: h\n`;

test('sizes: binary units, decimals, percentages of the available memory, auto; the schema accepts exactly those', () => {
  assert.deepEqual(parseMemorySetting('1500M'), { kind: 'bytes', bytes: 1500 * MiB });
  assert.deepEqual(parseMemorySetting('4G'), { kind: 'bytes', bytes: 4 * GiB });
  assert.deepEqual(parseMemorySetting('1.5G'), { kind: 'bytes', bytes: 1.5 * GiB });
  assert.deepEqual(parseMemorySetting('0.5T'), { kind: 'bytes', bytes: 512 * GiB });
  assert.deepEqual(parseMemorySetting('50%'), { kind: 'percent', percent: 50 });
  assert.deepEqual(parseMemorySetting('auto'), { kind: 'auto' });
  type Source = { properties: { evalMemory: { pattern: string } } };
  const defs = (getSchema() as { $defs: { nixFile: Source; nixFlake: Source } }).$defs;
  assert.equal(defs.nixFile.properties.evalMemory.pattern, defs.nixFlake.properties.evalMemory.pattern);
  const pattern = new RegExp(defs.nixFile.properties.evalMemory.pattern);
  const samples = ['1500M', '4G', '1.5G', '0.5G', '0.01M', '100%', '1%', 'auto', '0G', '0M', '0%', '101%', '4GB', '4g', '4 G', '1.2345G', '-1G', 'G', '', 'Auto', '05G', '1e3M'];
  for (const text of samples) assert.equal(pattern.test(text), parseMemorySetting(text) !== undefined, text);
});

test('nix.evalMemory resolves; a wrong one is an error at its place in the file', () => {
  assert.deepEqual(parseFleet(head('2G'), '/srv/fleet.yaml').nix, { file: '/srv/hive.nix', evalMemory: { kind: 'bytes', bytes: 2 * GiB } });
  assert.deepEqual(parseFleet(head('auto'), '/srv/fleet.yaml').nix.evalMemory, { kind: 'auto' });
  assert.equal(parseFleet(`version: 1\nnix:\n  file: ./hive.nix\nnodes:\n  a:\n    host: h\n`, '/srv/fleet.yaml').nix.evalMemory, undefined);
  assert.throws(() => parseFleet(head('2GB'), '/srv/fleet.yaml'), (e: ConfigError) => {
    assert.equal(e.diagnostics.length, 1);
    assert.equal(formatDiagnostic(e.diagnostics[0]!), '/srv/fleet.yaml:4:15: `nix.evalMemory` must be `auto`, a size such as `1500M`, `4G` or `1.5G` (M, G, T: binary units), or a percentage of the available memory from `1%` to `100%` such as `50%`, got `2GB`');
    return true;
  });
  const flake = parseFleet('version: 1\nnix:\n  flake: /srv/flake\n  evalMemory: 25%\nnodes:\n  a:\n    host: h\n', '/srv/fleet.yaml');
  assert.deepEqual(flake.nix, { flake: '/srv/flake', evalMemory: { kind: 'percent', percent: 25 } });
});

test('the budget: a size as it is; auto is MemAvailable less 1 GiB (less half below 2 GiB); a percentage of MemAvailable', () => {
  assert.equal(autoBudget(16 * GiB), 15 * GiB);
  assert.equal(autoBudget(1.5 * GiB), 0.75 * GiB);
  assert.equal(resolveBudget(undefined, 8 * GiB), 7 * GiB);
  assert.equal(resolveBudget({ kind: 'auto' }, 8 * GiB), 7 * GiB);
  assert.equal(resolveBudget({ kind: 'percent', percent: 50 }, 8 * GiB), 4 * GiB);
  assert.equal(resolveBudget({ kind: 'bytes', bytes: 1500 * MiB }, 8 * GiB), 1500 * MiB);
  assert.equal(resolveBudget({ kind: 'bytes', bytes: 1500 * MiB }, undefined), 1500 * MiB);
  assert.equal(resolveBudget({ kind: 'auto' }, undefined), Infinity, 'no /proc/meminfo: unbounded');
  const dir = mkdtempSync(join(tmpdir(), 'fleet-meminfo-'));
  writeFileSync(join(dir, 'meminfo'), 'MemTotal:       24684544 kB\nMemFree:        23500000 kB\nMemAvailable:   24252952 kB\n');
  assert.equal(readMemAvailable(join(dir, 'meminfo')), 24252952 * 1024);
  assert.equal(readMemAvailable(join(dir, 'none')), undefined);
  assert.equal(workerCount(3), 3);
  assert.ok(workerCount('auto') >= 1 && workerCount(undefined) === workerCount('auto'));
});

test('--eval-memory and --eval-workers win over the fleet file', () => {
  const fleet = parseFleet(head('2G'), '/srv/fleet.yaml');
  assert.equal(withEvalFlags(fleet, {}), fleet);
  assert.deepEqual(withEvalFlags(fleet, { evalMemory: { kind: 'bytes', bytes: MiB } }).nix.evalMemory, { kind: 'bytes', bytes: MiB });
  assert.deepEqual(withEvalFlags(fleet, { evalWorkers: 3 }).nix, { ...fleet.nix, evalWorkers: 3 });
  assert.deepEqual(fleet.nix.evalMemory, { kind: 'bytes', bytes: 2 * GiB }, 'the fleet itself is not changed');
});

async function cli(args: string[]) {
  const err = new PassThrough();
  let text = '';
  err.on('data', (c: Buffer) => (text += c.toString()));
  const code = await runCli(['node', 'fleet', ...args], { stdout: new PassThrough(), stderr: err, env: {}, cwd: '/' }, new AbortController().signal);
  return { code, stderr: text };
}

test('the flags on apply, plan, diff and status: a wrong value is a usage error that says what is expected', async () => {
  for (const command of [['apply'], ['plan'], ['diff'], ['status']]) {
    const memory = await cli([...command, '--eval-memory', '2GB']);
    assert.equal(memory.code, 2);
    assert.match(memory.stderr, /error: option '--eval-memory <size\|auto>' argument '2GB' is invalid\. must be a size such as 1500M, 4G or 1\.5G \(binary units\), a percentage of the available memory such as 50%, or auto/);
    const workers = await cli([...command, '--eval-workers', '0']);
    assert.equal(workers.code, 2);
    assert.match(workers.stderr, /option '--eval-workers <n\|auto>' argument '0' is invalid\. must be a whole number of at least 1/);
  }
});
