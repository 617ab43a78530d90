import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createJsonRenderer } from '../../src/ui/index.js';
import { capture, drive, recordedRun } from './ui-fixture.js';

void test('NDJSON: exactly one JSON object per line per event, nothing else', async () => {
  const { out, text: written } = capture();
  await drive(createJsonRenderer(out), recordedRun);
  const text = written();
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  assert.equal(lines.length, recordedRun.length);
  assert.deepEqual(lines.map((l) => JSON.parse(l) as unknown), recordedRun);
  const last = JSON.parse(lines.at(-1)!) as { type: string; exitCode: number };
  assert.equal(last.type, 'summary');
  assert.equal(last.exitCode, 1);
});

void test('finish() resolves only after a slow stream has taken every line', async () => {
  const written: string[] = [];
  const slow = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, done) {
      setTimeout(() => {
        written.push(chunk.toString());
        done();
      }, 2);
    },
  });
  const renderer = createJsonRenderer(slow);
  for (const e of recordedRun) renderer.onEvent(e);
  assert.ok(written.length < recordedRun.length);
  await renderer.finish();
  assert.equal(written.length, recordedRun.length);
});

void test('a forced quit (second Ctrl+C): the stream still ends with a summary, from what the events said so far', async () => {
  const { createSession } = await import('../../src/cli/session.js');
  const { withEventOutput } = await import('../../src/ui/json.js');
  const { QUIT_BEFORE_DONE, QUIT_WHILE_ACTIVATING } = await import('../../src/ui/quit.js');
  const { readEventLines } = await import('../../src/events.js');
  const { assertValidEvents } = await import('../events-validate.js');
  const { out, text } = capture();
  const session = createSession();
  await withEventOutput(out, true, async ({ emit }) => {
    emit({ type: 'run-start', command: 'apply', goal: 'switch', nodes: ['a', 'b', 'c'], fleetVersion: '0.1.0' });
    emit({ type: 'node-done', node: 'a', outcome: 'activated' });
    session.quit(3, ['b']); // what main() does before process.exit
  }, session.onQuit);
  const events = readEventLines(text());
  assertValidEvents(events);
  const summary = events.at(-1)!;
  assert.equal(summary.type, 'summary');
  assert.deepEqual(summary.type === 'summary' && { ...summary, durationMs: 0 }, {
    ...summary, type: 'summary', command: 'apply', goal: 'switch', exitCode: 3, interrupted: true, durationMs: 0, seq: 3,
    nodes: { a: { outcome: 'activated' }, b: { outcome: 'rollback-failed', error: QUIT_WHILE_ACTIVATING }, c: { outcome: 'skipped', error: QUIT_BEFORE_DONE } },
  });
  // After the run returned its own summary, a quit adds nothing: the handler was removed.
  const before = text();
  session.quit(130, []);
  assert.equal(text(), before);
});

void test('quit summary: none before a run started or after its summary; a status node that answered needs no outcome', async () => {
  const { quitSummary } = await import('../../src/ui/quit.js');
  const { initialView, reduceRun } = await import('../../src/ui/view.js');
  const { record } = await import('./ui-fixture.js');
  assert.equal(quitSummary(initialView(), 130, []), undefined);
  const view = (events: Parameters<typeof record>[0]) => record(events).reduce(reduceRun, initialView());
  const status = view([
    [0, { type: 'run-start', command: 'status', goal: 'switch', nodes: ['a', 'b'], fleetVersion: '0.1.0' }],
    [1, { type: 'status', node: 'a', state: 'in-sync', reason: 'runs the desired system', desired: '/nix/store/x' }],
  ]);
  assert.deepEqual(quitSummary(status, 130, [])?.nodes, { b: { outcome: 'skipped', error: 'fleet quit (a second Ctrl+C) before it was done' } });
  const done = view([
    [0, { type: 'run-start', command: 'plan', goal: 'switch', nodes: ['a'], fleetVersion: '0.1.0' }],
    [1, { type: 'summary', command: 'plan', goal: 'switch', exitCode: 0, durationMs: 1, interrupted: false, nodes: {} }],
  ]);
  assert.equal(quitSummary(done, 130, []), undefined);
});
