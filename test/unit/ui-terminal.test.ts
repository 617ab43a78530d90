process.env.TZ = 'UTC';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetEvent } from '../../src/events.js';
import { createJsonRenderer, createListrRenderer, createPlainRenderer, forTerminal } from '../../src/ui/index.js';
import { errorLines } from '../../src/util/terminal-text.js';
import { capture, drive, record } from './ui-fixture.js';

// What a hostile or just careless target prints: a window title, a screen clear, cursor moves, \r, BS, NUL, BEL.
const hostile = 'evil\x1b]0;pwned\x07\x1b[2J\x1b[H\rline\x08\x00end\x1b[31m red\x1b[0m\u009b2J\x07';
const shown = 'evil^Mline^H^@end red^G';
// Raw control characters a terminal acts on (tab and the renderers' own newlines are fine).
const raw = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/; // eslint-disable-line no-control-regex

const hostileRun: FleetEvent[] = record([
  [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: ['web-1', 'web-2'], fleetVersion: '0.1.0' }],
  [1, { type: 'build-start', build: 'local', drvPaths: ['/nix/store/x.drv'], nodes: ['web-1'] }],
  [1, { type: 'log', build: 'local', line: hostile }],
  [2, { type: 'build-done', build: 'local', ok: false, error: hostile, log: [hostile, 'ok line\r'] }],
  [3, { type: 'node-phase', node: 'web-2', phase: 'activate', detail: hostile }],
  [3, { type: 'log', node: 'web-2', line: hostile }],
  [4, { type: 'node-done', node: 'web-1', outcome: 'failed', error: `${hostile}\nsecond` }],
  [5, { type: 'node-done', node: 'web-2', outcome: 'rolled-back', error: hostile, log: [hostile] }],
  [6, {
    type: 'summary', command: 'apply', goal: 'switch', exitCode: 1, durationMs: 6000, interrupted: false,
    nodes: { 'web-1': { outcome: 'failed', error: hostile }, 'web-2': { outcome: 'rolled-back', error: hostile } },
  }],
]);

void test('forTerminal: escape sequences dropped, other controls made visible, tab and text kept', () => {
  assert.equal(forTerminal(hostile), shown);
  assert.equal(forTerminal('a\tb'), 'a\tb');
  assert.equal(forTerminal('crlf\r'), 'crlf');
  assert.equal(forTerminal('50%\r100%'), '50%^M100%');
  assert.equal(forTerminal('one\ntwo'), 'one^Jtwo'); // a line stays one line
  assert.equal(forTerminal('title \x1b]2;unterminated'), 'title ');
  assert.equal(forTerminal('lone \x1b'), 'lone ^[');
  assert.equal(forTerminal('del\x7f c1\u0085'), 'del^? c1\\x85');
  assert.equal(forTerminal('café ✓ 漢字'), 'café ✓ 漢字');
});

void test('errorLines (the error: lines of fleet status, plan and diff): each line cleaned, Nix\'s lines kept, CRLF ends dropped', () => {
  const printed = errorLines(`web-1: connect: ${hostile}\r\n       at hive.nix:3:5\r\nlast\ttab`);
  assert.doesNotMatch(printed, raw);
  assert.equal(printed, `error: web-1: connect: ${shown}\n       at hive.nix:3:5\nlast\ttab`);
  assert.equal(errorLines('web-1: evaluate: boom'), 'error: web-1: evaluate: boom');
});

void test('plain: target output cannot drive the terminal, in progress lines nor in the report', async () => {
  const { out, text } = capture();
  await drive(createPlainRenderer(out), hostileRun);
  const lines = text().split('\n');
  assert.doesNotMatch(text(), raw);
  for (const expected of [
    `12:00:01 build@local  |             ${shown}`,
    `12:00:02 build@local  build failed  ${shown}`,
    `12:00:03 web-2  activating    ${shown}`,
    `12:00:03 web-2  |             ${shown}`,
    `12:00:04 web-1  failed        ${shown}`,
    `── build on local failed: ${shown}`,
    `   ${shown}`,
    '   ok line',
    `── web-2: rolled-back: ${shown}`,
    `web-2  rolled-back  ${shown}`,
  ]) {
    assert.ok(lines.includes(expected), `missing: ${JSON.stringify(expected)}\n${text()}`);
  }
});

void test('listr: titles, outputs, errors and the report are cleaned too', async () => {
  const { out, text } = capture();
  await drive(createListrRenderer(out, { renderer: 'test', err: out, rendererOptions: { task: ['title'] } }), hostileRun, true);
  const written = text().split('\n');
  // The test renderer serialises what listr2 would draw; parsed back, every string in it must be clean.
  const drawn = written.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { data: unknown; task?: { title?: string } });
  const strings = drawn.flatMap((d) => [d.task?.title ?? '', ...(typeof d.data === 'string' ? [d.data] : Object.values(d.data ?? {}).map(String))]);
  assert.ok(strings.length > 0);
  for (const s of strings) assert.doesNotMatch(s, raw, JSON.stringify(s));
  assert.ok(drawn.some((d) => d.data === shown), 'the phase detail is shown, cleaned');
  assert.ok(drawn.some((d) => JSON.stringify(d.data) === JSON.stringify({ error: shown })), 'the error is shown, cleaned');
  const report = written.filter((l) => !l.startsWith('{')).join('\n');
  assert.doesNotMatch(report, raw);
  assert.ok(report.includes(`── web-2: rolled-back: ${shown}`), report);
});

void test('NDJSON keeps the text exactly as the target wrote it', async () => {
  const { out, text } = capture();
  await drive(createJsonRenderer(out), hostileRun);
  const events = text().trimEnd().split('\n').map((l) => JSON.parse(l) as FleetEvent);
  assert.deepEqual(events, hostileRun);
  assert.ok(text().includes('\\u001b]0;pwned\\u0007'));
});
