process.env.TZ = 'UTC'; // clock column is local time; pin it
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readEventLines } from '../../src/events.js';
import { countOf } from '../../src/util/text.js';
import { describePlan } from '../../src/ui/plan-text.js';
import { buildLog, nodes, record, recordedRun, renderPlain, rollbackLog, storePath } from './ui-fixture.js';

/** Rows of the summary table, split on its two-space column gaps. */
function readTable(lines: string[]): string[][] {
  const start = lines.findIndex((l) => /^NODE +OUTCOME +ERROR$/.test(l));
  assert.ok(start >= 0, 'summary table header');
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end).map((l) => l.split(/ {2,}/));
}

void test('one line per state change: time, node, phase, detail', async () => {
  const lines = await renderPlain(recordedRun);
  for (const expected of [
    '12:00:00 fleet    switch        5 nodes: web-1, web-2, web-3, db-1, cache-1',
    '12:00:01 db-1     evaluating    hive.nix',
    '12:00:02 build@local  building      2 derivations for web-1, web-3',
    '12:00:02 build@builder:big  building      1 derivation for db-1',
    '12:00:03 build@local  |             building /nix/store/d7v-nixos-system-web-1.drv...',
    '12:00:04 build@local  built',
    '12:00:05 build@builder:big  build failed  builder for c.drv failed with exit code 1',
    '12:00:05 db-1     failed        build on builder:big failed',
    '12:00:07 web-1    |             starting the following units: nginx.service',
    '12:00:06 web-1    copying       from local',
    '12:00:07 web-3    activating    switch',
    '12:00:08 web-3    rolling back  to generation 41',
    '12:00:09 web-3    rolled-back   switch-to-configuration exited with 4',
    '12:00:02 web-2    unchanged',
    '12:00:02 cache-1  skipped       unreachable: connection refused',
    '12:00:10 fleet    done          exit code 1',
  ]) {
    assert.ok(lines.includes(expected), `missing line: ${expected}`);
  }
  // Every event gives exactly one line before the report, but the plan: one more per planned node.
  const progress = lines.slice(0, lines.indexOf(''));
  assert.equal(progress.length, recordedRun.length + 4);
});

void test('the plan: a headline, then per node what it runs now -> what it will run, and why', async () => {
  const lines = await renderPlain(recordedRun);
  const at = lines.indexOf('12:00:01 fleet    plan          2 builds, 3 copies, 3 of 4 nodes to activate');
  assert.ok(at >= 0, lines.join('\n'));
  assert.deepEqual(lines.slice(at + 1, at + 5), [
    '12:00:01 web-1    plan          gen 41 0ld0000-nixos-system-web-1 → 9e70000-nixos-system-web-1  switch needed',
    '12:00:01 web-2    plan          gen 7 9e70000-nixos-system-web-2  up to date',
    '12:00:01 web-3    plan          gen 41 9e70000-nixos-system-web-3 (running 0ld0000-nixos-system-web-3) → 9e70000-nixos-system-web-3  switch needed',
    '12:00:01 db-1     plan          nothing installed → 9e70000-nixos-system-db-1  switch needed',
  ]);
});

void test('the plan headline counts in words: one copy, two copies (countOf with an irregular plural)', () => {
  const plan = recordedRun.flatMap((e) => (e.type === 'plan' ? [e.plan] : []))[0]!;
  const copying = plan.nodes.filter((n) => n.copy.kind !== 'none');
  assert.ok(copying.length >= 2, 'the recording copies to two nodes or more');
  assert.match(describePlan({ ...plan, builds: plan.builds.slice(0, 1), nodes: copying.slice(0, 1) }), /^1 build, 1 copy, /);
  assert.match(describePlan({ ...plan, nodes: copying.slice(0, 2) }), /^2 builds, 2 copies, /);
  assert.deepEqual([countOf(0, 'node'), countOf(1, 'node'), countOf(2, 'copy', 'copies'), countOf(1, 'copy', 'copies')], ['0 nodes', '1 node', '2 copies', '1 copy']);
});

void test('the plan of goal build (nothing asked of the targets): only where each node goes', async () => {
  const out = storePath('9e70000', 'nixos-system-web-1');
  const lines = await renderPlain(record([
    [0, { type: 'run-start', command: 'plan', goal: 'build', nodes: ['web-1'], fleetVersion: '0.1.0' }],
    [1, { type: 'plan', plan: { goal: 'build', builds: [], nodes: [
      { name: 'web-1', drvPath: `${out}.drv`, outPath: out, to: { system: out }, copy: { kind: 'none', reason: 'not-needed' }, activate: false, reason: 'build only' },
    ] } }],
  ]));
  assert.deepEqual(lines.slice(0, 3), [
    '12:00:00 fleet  plan build    1 node: web-1',
    '12:00:01 fleet  plan          0 builds, 0 copies, 0 of 1 node to activate',
    '12:00:01 web-1  plan          → 9e70000-nixos-system-web-1  build only',
  ]);
});

void test('the report: last 20 log lines of each failed build and node', async () => {
  const lines = await renderPlain(recordedRun);
  const buildAt = lines.indexOf('── build on builder:big failed: builder for c.drv failed with exit code 1');
  assert.ok(buildAt >= 0);
  assert.equal(lines[buildAt + 1], '   … last 20 of 30 lines');
  assert.deepEqual(lines.slice(buildAt + 2, buildAt + 22), buildLog.slice(10).map((l) => `   ${l}`));
  assert.ok(!lines.includes(`   ${buildLog[9]}`), 'line 10 of the build log is cut');

  const nodeAt = lines.indexOf('── web-3: rolled-back: switch-to-configuration exited with 4');
  assert.ok(nodeAt >= 0);
  assert.deepEqual(lines.slice(nodeAt + 2, nodeAt + 22), rollbackLog.slice(5).map((l) => `   ${l}`));
  assert.ok(!lines.includes(`   ${rollbackLog[4]}`));

  const dbAt = lines.indexOf('── db-1: failed: build on builder:big failed');
  assert.deepEqual(lines.slice(dbAt, dbAt + 2), ['── db-1: failed: build on builder:big failed', '   (no log)']);
  // Successful and skipped nodes get no log section.
  assert.ok(!lines.some((l) => /^── (web-1|web-2|cache-1)/.test(l)));
});

void test('the report: summary table and counts per outcome', async () => {
  const lines = await renderPlain(recordedRun);
  assert.deepEqual(readTable(lines), [
    ['web-1', 'activated'],
    ['web-2', 'unchanged'],
    ['web-3', 'rolled-back', 'switch-to-configuration exited with 4'],
    ['db-1', 'failed', 'build on builder:big failed'],
    ['cache-1', 'skipped', 'unreachable: connection refused'],
  ]);
  assert.ok(lines.includes('5 nodes: 1 activated, 1 unchanged, 1 skipped, 1 failed, 1 rolled-back'));
  assert.ok(lines.includes('1 build failed'));
  assert.ok(lines.includes('exit code 1 after 10.3 s'));
  assert.ok(!lines.some((l) => l.startsWith('ATTENTION')));
});

void test('an interrupted run: nodes without an outcome are unknown and get a log section', async () => {
  const run = record([
    [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes, fleetVersion: '0.1.0' }],
    [0, { type: 'node-done', node: 'web-1', outcome: 'activated' }],
    [0, { type: 'node-done', node: 'web-2', outcome: 'rollback-failed', error: 'profile set failed', log: ['x'] }],
    [0, {
      type: 'summary', command: 'apply', goal: 'switch', exitCode: 3, durationMs: 900, interrupted: true,
      nodes: { 'web-1': { outcome: 'activated' }, 'web-2': { outcome: 'rollback-failed', error: 'profile set failed' } },
    }],
  ]);
  const lines = await renderPlain(run);
  assert.deepEqual(readTable(lines), [
    ['web-1', 'activated'],
    ['web-2', 'rollback-failed', 'profile set failed'],
    ['web-3', 'unknown'],
    ['db-1', 'unknown'],
    ['cache-1', 'unknown'],
  ]);
  assert.ok(lines.includes('5 nodes: 1 activated, 1 rollback-failed, 3 unknown'));
  assert.ok(lines.includes('interrupted; exit code 3 after 0.9 s'));
  assert.ok(lines.includes('── web-3: unknown'));
  assert.ok(lines.includes('── web-2: rollback-failed: profile set failed'));
  assert.ok(lines.some((l) => l.startsWith('ATTENTION: web-2 could not be put back on the previous generation')));
});

void test('a run that never started prints nothing', async () => {
  assert.deepEqual(await renderPlain([]), ['']);
});

void test('--verbose output lines are printed under their node or build', async () => {
  const lines = await renderPlain(record([
    [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes, fleetVersion: '0.1.0' }],
    [0, { type: 'log', node: 'web-1', line: 'activated /nix/store/x-web (switch)' }],
    [0, { type: 'log', build: 'builder:big', line: 'building x.drv' }],
  ]));
  assert.ok(lines.includes('12:00:00 web-1    |             activated /nix/store/x-web (switch)'), lines.join('\n'));
  assert.ok(lines.includes('12:00:00 build@builder:big  |             building x.drv'), lines.join('\n'));
});

void test('the plan review and the pauses of a steered run (recorded: test/fixtures/ui/review-waves), and a pause of rollout.pause: confirm', async () => {
  const events = readEventLines(readFileSync(new URL('../fixtures/ui/review-waves.ndjson', import.meta.url), 'utf8'));
  const said = (lines: string[]) => lines.filter((l) => / fleet +(review|paused|resumed) /.test(l)).map((l) => l.slice('12:00:00 '.length).split(/ {2,}/));
  assert.deepEqual(said(await renderPlain(events)), [
    ['fleet', 'review', 'waiting for the plan to be approved'],
    ['fleet', 'review', 'approved'],
    ['fleet', 'paused', 'before wave 2 of 3'],
    ['fleet', 'resumed', 'wave 2 of 3 starts'],
  ]);
  const confirm = events.map((e) => (e.type === 'paused' ? { ...e, reason: 'confirm' as const } : e));
  assert.deepEqual(said(await renderPlain(confirm))[2], ['fleet', 'paused', 'before wave 2 of 3 (rollout.pause: confirm)']);
});
