process.env.TZ = 'UTC'; // clock column is local time; pin it
// Staged rollouts in the view and the renderers: waves from the plan and wave events, health attempts, `held`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createListrRenderer } from '../../src/ui/index.js';
import { foldEvents, nodeOf } from '../../src/ui/view.js';
import { capture, drive, record, renderPlain, rolloutRun } from './ui-fixture.js';

void test('view: waves come from the plan, run at wave-start, end at wave-done; nodes know their wave and last health attempt', () => {
  const view = foldEvents(rolloutRun);
  assert.deepEqual(view.waves.map((w) => [w.wave, w.nodes, w.maxFailures, w.state, w.failures, w.verdict]), [
    [1, ['canary-1'], 0, 'done', 0, 'passed'],
    [2, ['web-1', 'web-2'], 0, 'done', 1, 'failed'],
    [3, ['web-3'], 0, 'planned', undefined, undefined],
  ]);
  assert.deepEqual(view.nodes.map((n) => [n.name, n.wave, n.outcome]), [
    ['canary-1', 1, 'activated'], ['web-1', 2, 'rolled-back'], ['web-2', 2, 'rolled-back'], ['web-3', 3, 'held'],
  ]);
  assert.deepEqual(nodeOf(view, 'canary-1')!.health, { check: 'nginx', attempt: 2, attempts: 4, ok: true, detail: 'exit 0' });
  assert.deepEqual(nodeOf(view, 'web-2')!.health, { check: 'web', attempt: 2, attempts: 2, ok: false, detail: 'HTTP 503, expected 200: starting' });
  assert.equal(nodeOf(view, 'web-3')!.health, undefined);
  assert.equal(view.counts.held, 1);
  assert.equal(view.counts['rolled-back'], 2);
});

void test('view: a wave-start without a plan still makes the wave (and those before it, empty); the plan does not undo a running wave', () => {
  const events = record([
    [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: ['a', 'b'], fleetVersion: '0' }],
    [1, { type: 'wave-start', wave: 2, nodes: ['b'] }],
  ]);
  const view = foldEvents(events);
  assert.deepEqual(view.waves.map((w) => [w.wave, w.nodes, w.state]), [[1, [], 'planned'], [2, ['b'], 'running']]);
  assert.equal(nodeOf(view, 'b')!.wave, 2);
  assert.equal(foldEvents([]).waves.length, 0);
});

void test('plain: the plan lists the waves; one line per wave start and end, and per health attempt', async () => {
  const lines = await renderPlain(rolloutRun);
  for (const expected of [
    '12:00:01 fleet     plan          1 build, 4 copies, 4 of 4 nodes to activate in 3 waves',
    '12:00:01 fleet     plan          wave 1: 1 node, may fail 0: canary-1',
    '12:00:01 fleet     plan          wave 2: 2 nodes, may fail 0: web-1, web-2',
    '12:00:02 fleet     wave          1 of 3 started: 1 node: canary-1',
    '12:00:03 canary-1  health        nginx 1/4 failed: exit 3: inactive',
    '12:00:04 canary-1  health        nginx 2/4 passed: exit 0',
    '12:00:04 fleet     wave          1 of 3 passed: 0 failures, 0 allowed',
    '12:00:07 web-2     health        web 2/2 failed: HTTP 503, expected 200: starting',
    '12:00:08 fleet     wave          2 of 3 failed: 1 failure, 0 allowed',
    '12:00:09 web-3     held          not started: wave 2 failed',
  ]) assert.ok(lines.includes(expected), `missing line: ${expected}\n${lines.join('\n')}`);
});

void test('plain: a wave list of many nodes is clipped to 10 names; a health detail shows its first line', async () => {
  const many = Array.from({ length: 12 }, (_, i) => `n${i + 1}`);
  const lines = await renderPlain(record([
    [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: many, fleetVersion: '0' }],
    [1, { type: 'wave-start', wave: 1, nodes: many }],
    [2, { type: 'health', node: 'n1', check: 'c', attempt: 1, attempts: 1, ok: false, detail: 'exit 1: first\nsecond' }],
  ]));
  assert.ok(lines.includes('12:00:01 fleet  wave          1 of 1 started: 12 nodes: n1, n2, n3, n4, n5, n6, n7, n8, n9, n10 … and 2 more'), lines.join('\n'));
  assert.ok(lines.includes('12:00:02 n1     health        c 1/1 failed: exit 1: first'), lines.join('\n'));
});

void test('report: held nodes in the table and the counts, without a log section; a waves line', async () => {
  const lines = await renderPlain(rolloutRun);
  const text = lines.join('\n');
  assert.match(text, /\nweb-3 +held +not started: wave 2 failed\n/);
  assert.doesNotMatch(text, /── web-3/);
  assert.ok(lines.includes('4 nodes: 1 activated, 2 rolled-back, 1 held'));
  assert.ok(lines.includes('3 waves: 1 passed, 1 failed, 1 not started'));
  const cut = await renderPlain(rolloutRun.filter((e) => !(e.type === 'wave-done' && e.wave === 2) && e.type !== 'summary'));
  assert.ok(cut.includes('3 waves: 1 passed, 1 unfinished, 1 not started'), cut.join('\n'));
  const unstaged = await renderPlain(rolloutRun.filter((e) => !e.type.startsWith('wave') && e.type !== 'plan'));
  assert.ok(!unstaged.some((l) => /^\d+ waves?: /.test(l)), 'no waves line without waves');
});

interface Logged {
  event: 'STATE' | 'TITLE' | 'OUTPUT' | 'MESSAGE';
  data: unknown;
  task?: { title?: string };
}

void test('listr: a task per wave that passes or fails with its failures; health attempts as node output; held nodes skipped', async () => {
  const { out, text } = capture();
  await drive(createListrRenderer(out, { renderer: 'test', err: out, rendererOptions: { task: ['title'] } }), rolloutRun, true);
  const logged = text().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Logged);
  const states = new Map<string, unknown>();
  for (const l of logged) if (l.event === 'STATE' && l.task?.title !== undefined) states.set(l.task.title, l.data);
  assert.equal(states.get('wave 1 of 3 passed (0 failures): 1 node: canary-1'), 'COMPLETED');
  assert.equal(states.get('wave 2 of 3 failed'), 'FAILED');
  assert.equal(states.get('web-3: held'), 'SKIPPED');
  assert.ok(!states.has('wave 3 of 3: 1 node: web-3'), 'a wave that never started has no task');
  const message = (title: string) => logged.find((l) => l.event === 'MESSAGE' && l.task?.title === title)?.data;
  assert.deepEqual(message('wave 2 of 3 failed'), { error: '1 failure, 0 allowed' });
  assert.deepEqual(message('web-3: held'), { skip: 'web-3: held: not started: wave 2 failed' });
  assert.ok(logged.some((l) => l.event === 'OUTPUT' && l.data === 'nginx 2/4 passed: exit 0' && l.task?.title === 'canary-1: health nginx'));
});

void test('listr: a wave still running when the run ends fails as ended early', async () => {
  const { out, text } = capture();
  const cut = rolloutRun.filter((e) => !(e.type === 'wave-done' && e.wave === 2) && e.type !== 'summary');
  await drive(createListrRenderer(out, { renderer: 'test', err: out, rendererOptions: { task: ['title'] } }), cut, true);
  const logged = text().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Logged);
  assert.ok(logged.some((l) => l.event === 'MESSAGE' && l.task?.title === 'wave 2 of 3 ended' && (l.data as { error?: string }).error === 'the run ended before this wave finished'), text());
});
