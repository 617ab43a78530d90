// Rollout options: the fleet file's `rollout` overridden by --waves/--max-failures/--on-failure, --yes, --skip-health-checks;
// every usage error of the flags (exit 2) and of `pause: confirm` without a terminal.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import type { RolloutConfig } from '../../src/config/types.js';
import { parseMaxFailuresFlag, parseWavesFlag } from '../../src/rollout/flags.js';
import { resolveRolloutOptions } from '../../src/rollout/options.js';

const file: RolloutConfig = { waves: [{ count: 1 }, { percent: 20 }], order: ['tag:canary'], maxFailures: { count: 0 }, onFailure: 'rollback-all', pause: { kind: 'delay', ms: 5000 } };

test('without a rollout key or rollout flags: one wave, not staged; health checks still on', () => {
  assert.deepEqual(resolveRolloutOptions(undefined, {}, false), {
    staged: false, waves: [{ percent: 100 }], order: [], maxFailures: { count: 0 }, onFailure: 'rollback-wave', pause: { kind: 'none' }, yes: false, skipHealthChecks: false,
  });
});

test('the fleet file stages the rollout; each flag overrides its key and alone stages it', () => {
  assert.deepEqual(resolveRolloutOptions(file, {}, false), { ...file, staged: true, yes: false, skipHealthChecks: false });
  const flags = { waves: [{ count: 2 }], maxFailures: { percent: 10 }, onFailure: 'stop' as const, skipHealthChecks: true };
  assert.deepEqual(resolveRolloutOptions(file, flags, false), { ...file, ...flags, staged: true, yes: false });
  for (const flag of [{ waves: [{ count: 2 }] }, { maxFailures: { count: 1 } }, { onFailure: 'stop' as const }]) {
    assert.equal(resolveRolloutOptions(undefined, flag, false).staged, true, JSON.stringify(flag));
  }
  assert.equal(resolveRolloutOptions(undefined, { yes: true, skipHealthChecks: true }, false).staged, false);
});

test('pause: confirm asks on a terminal; --yes turns it into no pause; without either it is a usage error', () => {
  const confirm = { ...file, pause: { kind: 'confirm' as const } };
  assert.deepEqual(resolveRolloutOptions(confirm, {}, true).pause, { kind: 'confirm' });
  assert.deepEqual(resolveRolloutOptions(confirm, { yes: true }, false).pause, { kind: 'none' });
  assert.throws(() => resolveRolloutOptions(confirm, {}, false), {
    name: 'UsageError',
    message: 'the fleet file sets `rollout.pause: confirm`, but there is no terminal to ask on; pass --yes to go on without asking',
  });
});

test('flag parsers: counts, percentages 0%..100%, the wave list', () => {
  assert.deepEqual(parseWavesFlag('1,5,20%'), [{ count: 1 }, { count: 5 }, { percent: 20 }]);
  assert.deepEqual(parseWavesFlag('0%, 100%'), [{ percent: 0 }, { percent: 100 }]);
  assert.deepEqual(parseMaxFailuresFlag('0'), { count: 0 });
  assert.deepEqual(parseMaxFailuresFlag('10%'), { percent: 10 });
  for (const bad of ['0', '1,x', '1,,2', '120%', '2.5', '-1', '']) assert.throws(() => parseWavesFlag(bad), bad);
  for (const bad of ['-1', '2.5', '101%', 'x', '']) assert.throws(() => parseMaxFailuresFlag(bad), bad);
});

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

async function cli(args: string[]) {
  const out = capture();
  const err = capture();
  const code = await runCli(['node', 'fleet', ...args], { stdout: out.stream, stderr: err.stream, env: {}, cwd: tmpdir() }, new AbortController().signal);
  return { code, stdout: out.text(), stderr: err.text() };
}

const usage = '\n(run with --help for usage)\n';

test('CLI: a bad --waves, --max-failures or --on-failure is a usage error (exit 2) naming the value and the form', async () => {
  const cases: [string[], string][] = [
    [['apply', '--waves', '1,x'], "error: option '--waves <sizes>' argument '1,x' is invalid. `x` is not a wave size; give node counts (at least 1) or percentages from 0% to 100%, separated by commas, e.g. 1,5,20%"],
    [['apply', '--waves', '1,,2'], "error: option '--waves <sizes>' argument '1,,2' is invalid. an empty entry is not a wave size; give node counts (at least 1) or percentages from 0% to 100%, separated by commas, e.g. 1,5,20%"],
    [['plan', '--waves', '120%'], "error: option '--waves <sizes>' argument '120%' is invalid. `120%` is not a wave size; give node counts (at least 1) or percentages from 0% to 100%, separated by commas, e.g. 1,5,20%"],
    [['apply', '--max-failures', '2.5'], "error: option '--max-failures <n|p%>' argument '2.5' is invalid. give a number of nodes (0 or more) or a percentage of the wave from 0% to 100%, e.g. 2 or 10%"],
    [['plan', '--max-failures', '101%'], "error: option '--max-failures <n|p%>' argument '101%' is invalid. give a number of nodes (0 or more) or a percentage of the wave from 0% to 100%, e.g. 2 or 10%"],
    [['apply', '--on-failure', 'rollback'], "error: option '--on-failure <mode>' argument 'rollback' is invalid. Allowed choices are rollback-wave, rollback-all, stop."],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', `${message}${usage}`], args.join(' '));
  }
});

test('CLI: apply --help documents the rollout flags, --skip-health-checks as an emergency switch', async () => {
  const r = await cli(['apply', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--waves <sizes>', '--max-failures <n|p%>', '--on-failure <mode>', '-y, --yes', '--skip-health-checks']) assert.ok(r.stdout.includes(flag), flag);
  // commander wraps help to the terminal width: compare with the line breaks folded.
  const help = r.stdout.replace(/\s+/g, ' ');
  assert.match(help, /--skip-health-checks EMERGENCY: do not run health checks/);
  assert.match(help, /\(choices: "rollback-wave", "rollback-all", "stop"\)/);
});

test('CLI: apply with `pause: confirm` and no terminal stops before anything runs (exit 2)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-rollout-'));
  writeFileSync(join(dir, 'hive.nix'), '{ }');
  const fleet = join(dir, 'fleet.yaml');
  writeFileSync(fleet, 'version: 1\nnix: { file: ./hive.nix }\nrollout:\n  pause: confirm\nnodes:\n  a: { host: 192.0.2.1 }\n');
  const r = await cli(['-f', fleet, 'apply']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', 'fleet: the fleet file sets `rollout.pause: confirm`, but there is no terminal to ask on; pass --yes to go on without asking\n']);
});

test('askToContinue: asks once with [y/N]; y or yes goes on, anything else or Ctrl+C (the signal) does not', async () => {
  const { EventEmitter } = await import('node:events');
  const { askToContinue } = await import('../../src/cli/confirm.js');
  const terminal = () => Object.assign(new EventEmitter(), { isTTY: true, resume() {}, pause() {} });
  const ask = async (...typed: string[]) => {
    const t = terminal();
    const out = capture();
    const answer = askToContinue(t, out.stream, 'start wave 2 of 3 (5 nodes)?');
    for (const chunk of typed) t.emit('data', Buffer.from(chunk));
    return { answer: await answer, asked: out.text(), listening: t.listenerCount('data') };
  };
  assert.deepEqual(await ask('y\n'), { answer: true, asked: 'start wave 2 of 3 (5 nodes)? [y/N] ', listening: 0 });
  assert.equal((await ask('Y', 'es\r')).answer, true, 'a line in two chunks');
  for (const no of ['\n', 'n\n', 'yep\n', 'no\n', '\u0004']) assert.equal((await ask(no)).answer, false, JSON.stringify(no));
  const controller = new AbortController();
  const t = terminal();
  const pending = askToContinue(t, capture().stream, 'go?', controller.signal);
  controller.abort();
  assert.equal(await pending, false);
  assert.equal(t.listenerCount('data'), 0);
});
