process.env.TZ = 'UTC';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { FleetEvent } from '../../src/events.js';
import { createListrRenderer, createPlainRenderer, chooseRenderer } from '../../src/ui/index.js';
import { isCi } from '../../src/ui/choose.js';
import { capture, drive, recordedRun } from './ui-fixture.js';

interface Logged {
  event: 'STATE' | 'TITLE' | 'OUTPUT' | 'MESSAGE';
  data: unknown;
  task?: { title?: string };
}

/** listr2's TestRenderer writes one JSON object per task event; the report follows. */
async function renderListr(events: FleetEvent[], pause = true): Promise<{ logged: Logged[]; report: string }> {
  const { out, text } = capture();
  await drive(createListrRenderer(out, { renderer: 'test', err: out, rendererOptions: { task: ['title'] } }), events, pause);
  const lines = text().split('\n');
  const logged = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Logged);
  const report = lines.filter((l) => !l.startsWith('{')).join('\n');
  return { logged, report };
}

/** The last state each task reached, keyed by its title at that moment. */
function finalStates(logged: Logged[]): Map<string, unknown> {
  const states = new Map<string, unknown>();
  for (const l of logged) if (l.event === 'STATE' && l.task?.title !== undefined) states.set(l.task.title, l.data);
  return states;
}

const expectedStates: [string, string][] = [
  ['web-1: activated', 'COMPLETED'],
  ['web-2 (unchanged)', 'COMPLETED'],
  ['web-3: rolled-back', 'FAILED'],
  ['db-1: failed', 'FAILED'],
  ['cache-1: skipped', 'SKIPPED'],
  ['built on local: 2 derivations for web-1, web-3', 'COMPLETED'],
  ['build on builder:big failed', 'FAILED'],
];

for (const pause of [true, false]) {
  void test(`listr: node and build tasks end per outcome (${pause ? 'events spread out' : 'one synchronous burst'})`, async () => {
    const { logged } = await renderListr(recordedRun, pause);
    const states = finalStates(logged);
    for (const [title, state] of expectedStates) assert.equal(states.get(title), state, title);
    // Exactly one task per node and per build ended (untitled helper tasks aside).
    const ended = logged.filter((l) => l.event === 'STATE' && l.task?.title && l.data !== 'STARTED');
    assert.equal(ended.length, expectedStates.length);
  });
}

void test('listr: a running task shows the current phase as title and the detail as output', async () => {
  const { logged } = await renderListr(recordedRun);
  const titles = logged.filter((l) => l.event === 'TITLE').map((l) => l.data);
  for (const t of ['web-3: evaluating', 'web-3: copying', 'web-3: activating', 'web-3: rolling back', 'web-1: verifying']) {
    assert.ok(titles.includes(t), t);
  }
  const outputs = logged.filter((l) => l.event === 'OUTPUT').map((l) => [l.task?.title, l.data]);
  assert.deepEqual(outputs.filter(([t]) => t === 'web-3: rolling back'), [['web-3: rolling back', 'to generation 41']]);
  const skip = logged.find((l) => l.event === 'MESSAGE' && l.task?.title === 'cache-1: skipped');
  assert.deepEqual(skip?.data, { skip: 'cache-1: skipped: unreachable: connection refused' });
  const errors = logged.filter((l) => l.event === 'MESSAGE' && (l.data as { error?: string }).error !== undefined);
  assert.deepEqual(
    errors.map((l) => [l.task?.title, (l.data as { error: string }).error]).sort(),
    [
      ['build on builder:big failed', 'builder for c.drv failed with exit code 1'],
      ['db-1: failed', 'build on builder:big failed'],
      ['web-3: rolled-back', 'switch-to-configuration exited with 4'],
    ],
  );
});

void test('listr: after the tasks, the same report as the plain renderer', async () => {
  const { report } = await renderListr(recordedRun);
  const { out, text } = capture();
  await drive(createPlainRenderer(out), recordedRun, false);
  const plain = text();
  const plainReport = plain.slice(plain.indexOf('\n\n') + 1);
  assert.ok(plainReport.includes('NODE     OUTCOME'));
  assert.equal(report, plainReport);
});

void test('listr: a run cut short still finishes, nodes without an outcome fail as unknown', async () => {
  const buildStart = recordedRun.find((e) => e.type === 'build-start' && e.build === 'local')!;
  const { logged, report } = await renderListr([recordedRun[0]!, recordedRun[1]!, buildStart]);
  const states = finalStates(logged);
  assert.equal(states.get('web-1: unknown'), 'FAILED');
  assert.equal(states.get('build on local failed'), 'FAILED');
  const buildError = logged.find((l) => l.event === 'MESSAGE' && l.task?.title === 'build on local failed');
  assert.deepEqual(buildError?.data, { error: 'the run ended before this build finished' });
  assert.ok(report.includes('5 nodes: 5 unknown'));
});

void test('listr: installs no signal handlers and does not exit', async () => {
  const before = process.listenerCount('SIGINT');
  const { out, text } = capture();
  const renderer = createListrRenderer(out, { renderer: 'test', err: out });
  renderer.onEvent(recordedRun[0]!);
  // Wait (bounded) until listr2 is loaded and its tasks are running.
  for (let i = 0; i < 500 && !text().includes('"STARTED"'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(text().includes('"STARTED"'), 'listr2 started');
  assert.equal(process.listenerCount('SIGINT'), before);
  await drive(renderer, recordedRun.slice(1), false);
  assert.equal(process.listenerCount('SIGINT'), before);
});

void test('chooseRenderer: json, listr on an interactive terminal, plain lines otherwise', async () => {
  const probe = async (choice: { json: boolean; tty: boolean; ci: boolean; verbose?: boolean }) => {
    const { out, text } = capture();
    const renderer = chooseRenderer({ ...choice, out });
    renderer.onEvent(recordedRun[0]!);
    renderer.onEvent(recordedRun.at(-1)!);
    // A listr renderer on a fake stream falls back to listr2's simple renderer; finish it quickly.
    await renderer.finish();
    return text().split('\n')[0]!;
  };
  assert.equal((JSON.parse(await probe({ json: true, tty: true, ci: false })) as FleetEvent).type, 'run-start');
  assert.match(await probe({ json: false, tty: false, ci: false }), /^12:00:00 fleet +switch/);
  assert.match(await probe({ json: false, tty: true, ci: true }), /^12:00:00 fleet +switch/);
  assert.doesNotMatch(await probe({ json: false, tty: true, ci: false }), /^12:00:00 fleet/);
  // --verbose streams output lines, which only the line renderer prints.
  assert.match(await probe({ json: false, tty: true, ci: false, verbose: true }), /^12:00:00 fleet +switch/);
});

void test('isCi: CI set to anything but false/0', () => {
  assert.equal(isCi({ CI: 'true' }), true);
  assert.equal(isCi({ CI: '1' }), true);
  assert.equal(isCi({ CI: 'woodpecker' }), true);
  assert.equal(isCi({ CI: 'false' }), false);
  assert.equal(isCi({ CI: '0' }), false);
  assert.equal(isCi({}), false);
});

void test('listr2 is loaded only once a listr renderer starts, not by importing the UI', async () => {
  const script = `
    import { register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    const { port1, port2 } = new MessageChannel();
    const seen = [];
    port1.on('message', (url) => seen.push(url));
    const hooks = 'let port; export function initialize(d) { port = d.port; }' +
      ' export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }';
    register('data:text/javascript,' + encodeURIComponent(hooks), import.meta.url, { data: { port: port2 }, transferList: [port2] });
    const settle = () => new Promise((r) => setTimeout(r, 200));
    const ui = await import(${JSON.stringify(new URL('../../src/ui/index.ts', import.meta.url).href)});
    const { PassThrough } = await import('node:stream');
    await settle();
    const before = seen.some((u) => u.includes('/node_modules/listr2/'));
    const out = new PassThrough(); out.resume();
    const r = ui.createListrRenderer(out, { renderer: 'test', err: out });
    const envelope = (seq) => ({ v: 2, run: 'r', seq, time: new Date().toISOString() });
    r.onEvent({ ...envelope(1), type: 'run-start', command: 'apply', goal: 'switch', nodes: ['a'], fleetVersion: '0' });
    r.onEvent({ ...envelope(2), type: 'node-done', node: 'a', outcome: 'activated' });
    await r.finish();
    await settle();
    const after = seen.some((u) => u.includes('/node_modules/listr2/'));
    console.log(JSON.stringify({ before, after }));
    port1.close();
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    timeout: 30_000,
  });
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), { before: false, after: true });
});
