process.env.TZ = 'UTC';
// The evaluation in the renderers: a line per chunk and the summary line (plain), one task (listr), the report,
// the view's numbers, and the events as they are (json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsonRenderer, createListrRenderer } from '../../src/ui/index.js';
import { foldEvents } from '../../src/ui/view.js';
import { SCALE_AT } from '../../src/ui/scale.js';
import { capture, drive, record, recordedEvalRun, renderPlain } from './ui-fixture.js';

const SUMMARY = 'evaluated 3 nodes (1 failed) in 4 chunks on 2 workers, peak 1.7 GiB of 1.5 GiB, 7.1 s';

test('plain: one line per chunk (nodes, worker, wall time, peak, failures, nodes again), the summary, a warning per node alone over the budget', async () => {
  const lines = await renderPlain(recordedEvalRun);
  for (const expected of [
    '12:00:01 fleet  evaluate      chunk 1 on worker 1: 1 node in 0.9 s, peak 180.0 MiB',
    '12:00:03 fleet  evaluate      chunk 2 on worker 2: 2 nodes in 2.3 s, peak 400.0 MiB; again: web-3',
    '12:00:04 fleet  evaluate      chunk 3 on worker 1: 1 node in 0.4 s, peak 60.0 MiB; failed: web-3',
    `12:00:07 fleet  evaluated     ${SUMMARY}`,
    '12:00:07 fleet  warning       db-1 alone needs more than the evaluation budget of 1.5 GiB: evaluated with nothing else running',
  ]) {
    assert.ok(lines.includes(expected), `missing line: ${expected}\n${lines.join('\n')}`);
  }
  assert.ok(lines.slice(lines.indexOf('')).includes(SUMMARY), 'the report says it too');
});

test('view: chunks counted as they end, then the numbers of eval-done', () => {
  const chunks = recordedEvalRun.filter((e) => e.type === 'eval-chunk');
  const during = foldEvents(recordedEvalRun.slice(0, recordedEvalRun.indexOf(chunks[2]!) + 1));
  assert.deepEqual(during.evaluation, { chunks: 3, evaluated: 2, peakRss: 400 * 2 ** 20 });
  const after = foldEvents(recordedEvalRun);
  assert.equal(after.evaluation?.done?.chunks, 4);
  assert.deepEqual([after.evaluation?.chunks, after.evaluation?.evaluated], [4, 3]);
  assert.equal(foldEvents(recordedEvalRun.slice(0, 3)).evaluation, undefined);
});

test('listr: one evaluation task, titled with the summary when it ends; the report has the summary line', async () => {
  const { out, text } = capture();
  await drive(createListrRenderer(out, { renderer: 'test', err: out, rendererOptions: { task: ['title'] } }), recordedEvalRun, true);
  const lines = text().split('\n');
  const titles = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; data: unknown; task?: { title?: string } });
  const done = titles.filter((l) => l.event === 'STATE' && l.task?.title === SUMMARY).map((l) => l.data);
  assert.deepEqual(done.at(-1), 'COMPLETED');
  assert.ok(lines.includes(SUMMARY));
});

test('listr: a fleet too large for a task per node still shows the evaluation task', async () => {
  const many = Array.from({ length: SCALE_AT + 5 }, (_v, i) => `n${i + 1}`);
  const events = record([
    [0, { type: 'run-start', command: 'apply', goal: 'build', nodes: many, fleetVersion: '0.1.0' }],
    [2, { type: 'eval-chunk', chunk: 1, worker: 1, nodes: many, failed: [], retried: [], wallMs: 2000, peakRss: 2 ** 30, ended: 'done' }],
    [2, { type: 'eval-done', nodes: many.length, failed: 0, chunks: 1, workers: 1, peakRss: 2 ** 30, wallMs: 2000, budget: 2 ** 31, alone: [] }],
    [3, { type: 'summary', command: 'apply', goal: 'build', exitCode: 0, durationMs: 3000, interrupted: false, nodes: Object.fromEntries(many.map((n) => [n, { outcome: 'built' as const }])) }],
  ]);
  const { out, text } = capture();
  await drive(createListrRenderer(out, { renderer: 'test', err: out, rendererOptions: { task: ['title'] } }), events, true);
  const title = `evaluated ${many.length} nodes in 1 chunk on 1 worker, peak 1.0 GiB of 2.0 GiB, 2.0 s`;
  const states = text().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; data: unknown; task?: { title?: string } });
  assert.equal(states.filter((l) => l.event === 'STATE' && l.task?.title === title).at(-1)?.data, 'COMPLETED');
});

test('json: the evaluation events pass through as they are', async () => {
  const { out, text } = capture();
  await drive(createJsonRenderer(out), recordedEvalRun);
  const events = text().trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(events, recordedEvalRun);
});
