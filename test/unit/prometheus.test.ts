// fleet's Prometheus output: the exposition writer, `fleet status --format prometheus` and `fleet apply
// --metrics-file`, checked word for word and by Prometheus's own `promtool check metrics` (parser and linter).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WATCH_NOT_FORMAT } from '../../src/cli/commands/status.js';
import { runCliCaptured } from './cli-harness.js';
import { checkMetricsFile, metricsDirMissing, metricsFileIsDir, metricsWriteFailed, writeFileAtomic } from '../../src/cli/metrics-file.js';
import { FORMAT_CONFLICT } from '../../src/cli/output-format.js';
import type { EventOf } from '../../src/events.js';
import type { NodeStatus } from '../../src/status/classify.js';
import { formatExposition, labelValue, listLabel } from '../../src/ui/prometheus.js';
import { coveredSeconds, createRunMetrics } from '../../src/ui/run-metrics.js';
import { formatStatusMetrics } from '../../src/ui/status-metrics.js';
import { promtoolCheck, requireTool } from '../tools.js';
import { recordedRun, recordedStatusRun, rolloutRun } from './ui-fixture.js';

const statuses = recordedStatusRun.filter((e): e is EventOf<'status'> => e.type === 'status').map(({ type: _t, v: _v, run: _r, seq: _s, time: _time, ...s }) => s as NodeStatus);
const labels = [
  { node: 'web-1', tags: ['web', 'eu'], buildHost: 'local' },
  { node: 'web-2', tags: ['web'], buildHost: 'big' },
  { node: 'db-1', tags: [], buildHost: 'target' },
  { node: 'cache-1', tags: ['cache'], buildHost: 'deploy@build-1:2222' }, // its evaluation failed: no status
];
const statusText = formatStatusMetrics({ nodes: labels, statuses, time: new Date('2025-01-02T12:00:02Z') });

function runMetrics(events: typeof rolloutRun, exitCode = 0): string {
  const m = createRunMetrics();
  for (const e of events) m.onEvent(e);
  return m.render(exitCode);
}

void test('exposition: HELP and TYPE per family, label values escaped, a family without samples left out, bad names refused', () => {
  assert.equal(labelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(listLabel(['web', 'eu']), ',web,eu,');
  assert.equal(listLabel([]), '');
  const text = formatExposition([
    { name: 'x_seconds', help: 'back\\slash\nnewline', type: 'gauge', samples: [{ value: 1.5 }, { labels: { a: 'q"', b: '' }, value: NaN }] },
    { name: 'y_total', help: 'none', type: 'counter', samples: [] },
  ]);
  assert.equal(text, '# HELP x_seconds back\\\\slash\\nnewline\n# TYPE x_seconds gauge\nx_seconds 1.5\nx_seconds{a="q\\"",b=""} NaN\n');
  assert.throws(() => formatExposition([{ name: 'bad-name', help: 'h', type: 'gauge', samples: [{ value: 1 }] }]), /invalid Prometheus metric name: bad-name/);
  assert.throws(() => formatExposition([{ name: 'x', help: 'h', type: 'gauge', samples: [{ labels: { __x: 'y' }, value: 1 }] }]), /invalid Prometheus label name: __x/);
});

void test('status metrics: in sync, one-hot state, generation, last deploy, reboot and lock per node; unknown values left out', () => {
  const web1 = 'node="web-1",tags=",web,eu,",build_host="local"';
  const web2 = 'node="web-2",tags=",web,",build_host="big"';
  const db1 = 'node="db-1",tags="",build_host="target"';
  const cache1 = 'node="cache-1",tags=",cache,",build_host="deploy@build-1:2222"';
  const lines = statusText.split('\n');
  const samples = (name: string) => lines.filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  assert.deepEqual(samples('fleet_node_in_sync'), [`fleet_node_in_sync{${web1}} 1`, `fleet_node_in_sync{${web2}} 0`, `fleet_node_in_sync{${db1}} 0`, `fleet_node_in_sync{${cache1}} 0`]);
  const states = ['in-sync', 'outdated', 'drifted', 'pending-reboot', 'keys-missing', 'keys-outdated', 'unreachable', 'locked', 'evaluation-failed'];
  assert.deepEqual(samples('fleet_node_state').filter((l) => l.endsWith(' 1')), [
    `fleet_node_state{${web1},state="in-sync"} 1`, `fleet_node_state{${web2},state="locked"} 1`, `fleet_node_state{${db1},state="unreachable"} 1`, `fleet_node_state{${cache1},state="evaluation-failed"} 1`,
  ]);
  assert.equal(samples('fleet_node_state').length, 4 * states.length, 'one sample per node and state');
  // Known only for nodes that answered: web-1 (generation 5, a record) and web-2 (no generation, no record).
  assert.deepEqual(samples('fleet_node_generation'), [`fleet_node_generation{${web1}} 5`]);
  assert.deepEqual(samples('fleet_node_last_deploy_timestamp_seconds'), [`fleet_node_last_deploy_timestamp_seconds{${web1}} ${Date.parse('2025-01-02T11:00:00Z') / 1000}`]);
  assert.deepEqual(samples('fleet_node_reboot_pending'), [`fleet_node_reboot_pending{${web1}} 0`, `fleet_node_reboot_pending{${web2}} 0`]);
  assert.deepEqual(samples('fleet_node_lock_held'), [`fleet_node_lock_held{${web1}} 0`, `fleet_node_lock_held{${web2}} 1`]);
  assert.deepEqual(samples('fleet_status_timestamp_seconds'), [`fleet_status_timestamp_seconds ${Date.parse('2025-01-02T12:00:02Z') / 1000}`]);
  assert.ok(statusText.includes('# HELP fleet_node_in_sync Whether the node runs the system the fleet file wants (fleet status: in-sync): 1 yes, 0 no or unknown.\n# TYPE fleet_node_in_sync gauge\n'));
});

void test('coveredSeconds: phases of nodes side by side count once; gaps do not count', () => {
  assert.equal(coveredSeconds([]), 0);
  assert.equal(coveredSeconds([[0, 2000], [1000, 3000], [5000, 6000], [5500, 5600]]), 4);
  assert.equal(coveredSeconds([[3000, 4000], [0, 1000]]), 2);
});

void test('run metrics: time per phase, nodes per outcome, waves and verdicts, duration, exit code, end time', () => {
  const text = runMetrics(rolloutRun);
  const value = (sample: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    assert.ok(line, `${sample} in\n${text}`);
    return Number(line.slice(sample.length + 1));
  };
  // canary-1 activates 2-4 s, web-1 and web-2 5-8 and 5-7 s: 5 s with an activation running; rollbacks 7-9 s.
  assert.equal(value('fleet_apply_phase_seconds{goal="switch",phase="activate"}'), 5);
  assert.equal(value('fleet_apply_phase_seconds{goal="switch",phase="rollback"}'), 2);
  assert.equal(value('fleet_apply_phase_seconds{goal="switch",phase="build"}'), 0);
  assert.equal(value('fleet_apply_nodes{goal="switch",outcome="activated"}'), 1);
  assert.equal(value('fleet_apply_nodes{goal="switch",outcome="rolled-back"}'), 2);
  assert.equal(value('fleet_apply_nodes{goal="switch",outcome="held"}'), 1);
  assert.equal(value('fleet_apply_nodes{goal="switch",outcome="failed"}'), 0);
  assert.equal(value('fleet_apply_waves{goal="switch"}'), 3);
  assert.equal(value('fleet_apply_waves_done{goal="switch",verdict="passed"}'), 1);
  assert.equal(value('fleet_apply_waves_done{goal="switch",verdict="failed"}'), 1);
  assert.equal(value('fleet_apply_duration_seconds{goal="switch"}'), 9);
  assert.equal(value('fleet_apply_exit_code{goal="switch"}'), 1);
  assert.equal(value('fleet_apply_end_timestamp_seconds{goal="switch"}'), Date.parse('2025-01-02T12:00:10Z') / 1000);
  assert.ok(!text.includes('fleet_apply_copied_bytes'), 'no copy-done: the bytes are not known, so not said');
  // Two copies (3 paths, 125,952 bytes; 0 paths): the bytes sent.
  assert.ok(runMetrics(recordedRun).includes('\nfleet_apply_copied_bytes{goal="switch"} 125952\n'));
  // The build phase: the builds' own intervals (2-4 s local, 2-5 s builder:big), counted once.
  assert.match(runMetrics(recordedRun), /\nfleet_apply_phase_seconds\{goal="switch",phase="build"\} 3\n/);
});

void test('run metrics without a summary (fleet\'s own error): the exit code the CLI exits with, phases closed at the last event', () => {
  const cut = rolloutRun.filter((e) => e.type !== 'summary');
  const text = runMetrics(cut, 3);
  assert.match(text, /\nfleet_apply_exit_code\{goal="switch"\} 3\n/);
  assert.match(text, /\nfleet_apply_duration_seconds\{goal="switch"\} 9\n/);
  assert.match(text, /\nfleet_apply_nodes\{goal="switch",outcome="activated"\} 0\n/);
});

void test('promtool check metrics accepts both outputs: no parse error, no lint problem (names, units, HELP, TYPE)', { skip: requireTool('promtool') }, async () => {
  for (const text of [statusText, runMetrics(rolloutRun), runMetrics(recordedRun)]) {
    const r = await promtoolCheck(text);
    assert.deepEqual(r, { code: 0, problems: '' }, text);
  }
  // And it can fail: a counter without _total and a unit Prometheus does not use.
  const bad = await promtoolCheck('# HELP x_milliseconds h\n# TYPE x_milliseconds counter\nx_milliseconds 1\n');
  assert.notEqual(bad.code, 0);
  assert.match(bad.problems, /counter metrics should have "_total" suffix/);
});

void test('--metrics-file: its directory must exist and be writable, and it must not be a directory (exit 2 before the run)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-metrics-'));
  assert.equal(await checkMetricsFile(dir, 'fleet.prom'), join(dir, 'fleet.prom'));
  await assert.rejects(checkMetricsFile(dir, 'missing/fleet.prom'), { message: metricsDirMissing(join(dir, 'missing')) });
  await assert.rejects(checkMetricsFile('/', dir), { message: metricsFileIsDir(dir) });
  assert.equal(metricsDirMissing('/x'), '--metrics-file: /x is not a directory fleet can write to (create it first)');
  assert.equal(metricsFileIsDir('/x/'), '--metrics-file: /x/ is a directory; name a file in it, e.g. /x/fleet.prom');
  const file = join(dir, 'fleet.prom');
  writeFileSync(file, 'old\n');
  await writeFileAtomic(file, 'new\n');
  assert.equal(readFileSync(file, 'utf8'), 'new\n');
  assert.deepEqual(readdirSync(dir), ['fleet.prom'], 'no temporary file left');
  const failed = await writeFileAtomic(join(dir, 'gone', 'x.prom'), 'x').then(() => undefined, (error: unknown) => error);
  assert.ok(failed instanceof Error);
  assert.ok(!existsSync(join(dir, 'gone')));
  assert.match(metricsWriteFailed(join(dir, 'gone', 'x.prom'), failed), new RegExp(`^--metrics-file: could not write ${dir}/gone/x\\.prom: ENOENT: no such file or directory, open '${dir}/gone/x\\.prom\\.\\d+\\.[0-9a-f]{8}\\.tmp'$`));
});

const cli = (args: string[]) => runCliCaptured(args);

void test('CLI: status --json --format prometheus and --watch --format are refused; apply --metrics-file in a missing directory too (exit 2)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-prom-'));
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, 'version: 1\nnix: {file: ./hive.nix}\nnodes: {a: {host: a.example}}\n');
  const json = await cli(['-f', file, 'status', '--json', '--format', 'prometheus']);
  assert.deepEqual([json.code, json.stderr], [2, `fleet: ${FORMAT_CONFLICT('prometheus')}\n`]);
  const watch = await cli(['-f', file, 'status', '--watch', '--format', 'prometheus']);
  assert.deepEqual([watch.code, watch.stderr], [2, `fleet: ${WATCH_NOT_FORMAT}\n`]);
  assert.equal(WATCH_NOT_FORMAT, '--watch redraws a table on the terminal: leave out --format (for metrics, run fleet status --format prometheus on a schedule)');
  const apply = await cli(['-f', file, 'apply', '--metrics-file', join(dir, 'no', 'fleet.prom')]);
  assert.deepEqual([apply.code, apply.stderr], [2, `fleet: ${metricsDirMissing(join(dir, 'no'))}\n`]);
});
