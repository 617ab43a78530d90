// `fleet status --watch`: its usage errors, the watch state folded from refreshes, and the ink screen drawn from
// a RECORDED `fleet status --json` run (test/fixtures/ui/status.ndjson), keys included.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { Box } from 'ink';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { runCli } from '../../src/cli/main.js';
import type { Terminal } from '../../src/terminal.js';
import { INTERVAL_NEEDS_WATCH, WATCH_NEEDS_TERMINAL, WATCH_NO_EXIT_CODE, WATCH_NOT_JSON } from '../../src/cli/commands/status.js';
import { readEventLines, type FleetEvent } from '../../src/events.js';
import type { NodeStatus } from '../../src/status/classify.js';
import { countLine, formatStatus } from '../../src/status/format.js';
import type { SteerCommand } from '../../src/steer.js';
import { foldWatch, initialWatch, NOTICES_KEPT, withNotice, type WatchState } from '../../src/ui/ink/watch-state.js';
import { StatusTable } from '../../src/ui/ink/status-table.js';
import { oneLine } from '../../src/util/terminal-text.js';
import { clockTime, StatusWatchApp, StatusWatchScreen } from '../../src/ui/ink/status-watch.js';

const FIXTURE = new URL('../fixtures/ui/status.ndjson', import.meta.url);
const recorded = (): FleetEvent[] => readEventLines(readFileSync(FIXTURE, 'utf8'));
const statusesOf = (events: FleetEvent[]): NodeStatus[] =>
  events.flatMap((e) => (e.type === 'status' ? [(({ type: _t, v: _v, run: _r, seq: _s, time: _time, ...s }) => s)(e)] : []));

/** The recorded refresh again, as a later refresh: another run id, each status changed by `change`. */
function laterRefresh(events: FleetEvent[], run: string, change: (s: FleetEvent & { type: 'status' }) => FleetEvent = (s) => s): FleetEvent[] {
  return events.map((e) => ({ ...(e.type === 'status' ? change(e) : e), run }) as FleetEvent);
}

const fold = (events: FleetEvent[], state: WatchState = initialWatch()) => events.reduce(foldWatch, state);
const text = (frame: string | undefined) => stripVTControlCharacters(frame ?? '');
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

// ---- usage errors: before the fleet file is read (it does not exist here), exit 2 -------------------------------

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (c: Buffer) => (out += c.toString()));
  return { stream, text: () => out };
}

async function cli(args: string[], tty = false) {
  const out = capture();
  const err = capture();
  // A terminal that is never drawn on: every case here is refused before anything would be.
  const terminal = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() } as unknown as Terminal;
  const code = await runCli(['node', 'fleet', '-f', '/nonexistent/fleet.yaml', ...args], { stdout: out.stream, stderr: err.stream, env: {}, cwd: '/', ...(tty ? { tty: terminal } : {}) }, new AbortController().signal);
  return { code, stdout: out.text(), stderr: err.text() };
}

test('status --watch without a terminal on stdin and stdout: usage error, exit 2, nothing read', async () => {
  const r = await cli(['status', '--watch']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `fleet: ${WATCH_NEEDS_TERMINAL}\n`);
  assert.equal(r.stdout, '');
  assert.match(WATCH_NEEDS_TERMINAL, /^--watch needs a terminal on stdin and stdout/);
});

test('status --watch --json: usage error, exit 2, even on a terminal', async () => {
  for (const tty of [true, false]) {
    const r = await cli(['status', '--watch', '--json'], tty);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `fleet: ${WATCH_NOT_JSON}\n`);
    assert.equal(r.stdout, '', 'not one event');
  }
});

test('status --interval without --watch: usage error, exit 2 (with or without --json)', async () => {
  for (const extra of [[], ['--json']]) {
    const r = await cli(['status', '--interval', '2s', ...extra], true);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `fleet: ${INTERVAL_NEEDS_WATCH}\n`);
  }
});

test('status --watch --exit-code: usage error, exit 2', async () => {
  const r = await cli(['status', '--watch', '--exit-code'], true);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `fleet: ${WATCH_NO_EXIT_CODE}\n`);
});

test('status --watch --interval: a duration as the other options take it (1s to 24h)', async () => {
  const bad = await cli(['status', '--watch', '--interval', '5'], true);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /option '--interval <duration>' argument '5' is invalid\. not a duration: `5` \(write e\.g\. `1500ms`, `10s`, `5m` or `1h`\)/);
  const short = await cli(['status', '--watch', '--interval', '500ms'], true);
  assert.equal(short.code, 2);
  assert.match(short.stderr, /duration `500ms` is not from `1s` to `24h`/);
  // A valid one gets past the options: the missing fleet file is what stops it.
  const ok = await cli(['status', '--watch', '--interval', '2s'], true);
  assert.equal(ok.code, 2);
  assert.match(ok.stderr, /fleet\.yaml:1:1: the fleet file does not exist/);
});

test('status --help shows --watch and --interval', async () => {
  const r = await cli(['status', '--help']);
  assert.equal(r.code, 0);
  const help = r.stdout.replace(/\n +/g, ' '); // commander wraps the descriptions
  assert.match(help, /--watch +redraw the table in place, refreshed every --interval, until q \(exit 0\) or Ctrl\+C \(exit 130\); needs a terminal/);
  assert.match(help, /--interval <duration> +with --watch: time between refreshes \(default 5s\), e\.g\. 2s or 1m/);
  assert.match(r.stdout, /^Exit codes of status --watch: 0 on q, 130 on Ctrl\+C, 2 usage \(no terminal, --json\)\.$/m);
});

// ---- the watch state: only complete refreshes are shown ----------------------------------------------------------

test('the recorded run is a status run with a status per node and a summary', () => {
  const events = recorded();
  assert.equal(events[0]?.type, 'run-start');
  assert.equal(events.at(-1)?.type, 'summary');
  assert.ok(statusesOf(events).length > 0);
});

test('a refresh is shown once its summary arrives; the next one runs while it stays shown', () => {
  const first = recorded();
  const partial = fold(first.slice(0, -1));
  assert.equal(partial.latest, undefined, 'no summary yet: nothing complete to show');
  assert.ok(partial.current);
  const one = fold(first);
  assert.equal(one.refreshes, 1);
  assert.equal(one.current, undefined);
  assert.equal(one.refreshedAt, Date.parse(first.at(-1)!.time));

  const drifted = (s: FleetEvent & { type: 'status' }) => ({ ...s, state: 'drifted' as const, reason: 'changed by hand' });
  const second = laterRefresh(first, 'second-refresh', drifted);
  const running = fold(second.slice(0, -1), one);
  assert.equal(running.latest, one.latest, 'the complete refresh stays while the next runs');
  assert.ok(running.current);
  const two = fold(second.slice(-1), running);
  assert.equal(two.refreshes, 2);
  assert.ok(two.latest!.nodes.filter((n) => n.status).every((n) => n.status!.state === 'drifted'));
});

test('an interrupted refresh never replaces the complete one; events outside a refresh are left out', () => {
  const first = recorded();
  const one = fold(first);
  const cut = laterRefresh(first, 'cut-short').map((e) => (e.type === 'summary' ? { ...e, interrupted: true, exitCode: 130 } : e));
  const after = fold(cut, one);
  assert.equal(after.latest, one.latest);
  assert.equal(after.current, undefined);
  assert.equal(after.refreshes, 1);
  assert.deepEqual(fold(first.slice(1)), initialWatch(), 'no run-start: no refresh to fold into');
});

test('notices: the newest kept', () => {
  let s = initialWatch();
  for (let i = 1; i <= NOTICES_KEPT + 2; i++) s = withNotice(s, `n${i}`);
  assert.deepEqual(s.notices, Array.from({ length: NOTICES_KEPT }, (_, i) => `n${i + 3}`));
});

// ---- the screen (ink-testing-library), from the recorded run -------------------------------------------------------

test('the table is fleet status\'s table: same columns, reasons and count line as formatStatus, on one line each', () => {
  const events = recorded();
  const view = fold(events).latest!;
  // Wider than the testing library's 100 columns: the whole rows, as `fleet status` prints them.
  const { lastFrame, unmount } = render(createElement(Box, { width: 300 }, createElement(StatusTable, { view })));
  const screen = text(lastFrame());
  // ssh's own words in the recorded unreachable reason end a line with \r, which would send the cursor back:
  // both drop it (statusRow, reasonOf), so the screen is formatStatus's text exactly.
  assert.ok(statusesOf(events).some((s) => s.reason.includes('\r')), 'the recording has a \\r in a reason');
  assert.equal(screen, formatStatus(statusesOf(events)));
  assert.ok(!screen.includes('\r'));
  unmount();
});

test('oneLine: no control character reaches the screen', () => {
  // An escape sequence goes whole (not its ESC alone, leaving `[2J` behind), as forTerminal drops it.
  assert.equal(oneLine('banner exchange\r; Connection\ttimed\nout\u001b[2J'), 'banner exchange; Connection timed out');
  assert.equal(oneLine('title\u001b]0;pwned\u0007 csi\u009b2J bell\u0007 c1\u0085'), 'title csi bell^G c1\\x85');
});

test('text from targets cannot drive the terminal through the watch: escape sequences and C1 controls never reach it', () => {
  const events = recorded();
  // What a hostile target can put in its records and its errors: a window title, a screen clear (7-bit and 8-bit CSI).
  const hostile = 'evil\u001b]0;pwned\u0007\u001b[2J\u009b2J\u0085end';
  const [name, other] = statusesOf(events).map((s) => s.node);
  const changed = laterRefresh(events, 'hostile', (s) => (s.node === name ? { ...s, state: 'drifted', reason: `runs ${hostile}`, lastDeploy: { ...s.lastDeploy!, by: `alice${hostile}` } } as FleetEvent : s))
    .filter((e) => !(e.type === 'status' && e.node === other));
  const summary = changed.pop()!;
  const failed = { ...summary, type: 'node-done', node: other, outcome: 'failed', error: `${other}: ${hostile}\nsecond ${hostile}` } as FleetEvent;
  const state = withNotice(fold([...changed, failed, { ...summary, seq: summary.seq + 1 }]), `notice ${hostile}`);
  const { lastFrame, unmount } = render(createElement(Box, { width: 300 }, createElement(StatusWatchScreen, { state, intervalMs: 5000, now: state.refreshedAt! })));
  const frame = lastFrame() ?? '';
  unmount();
  // ink's own colours are SGR sequences (ESC [ … m); nothing else may be there.
  const raw = frame.replace(/\u001b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
  assert.doesNotMatch(raw, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, 'no control character but ink\'s colours and its line breaks'); // eslint-disable-line no-control-regex
  assert.doesNotMatch(raw, /pwned|\[2J/, 'sequences dropped whole');
  assert.match(raw, new RegExp(`^${name}: drifted: runs evil\\\\x85end$`, 'm'), 'the C1 control shown, not sent');
  assert.match(raw, /^error: \S+: evil\\x85end\nsecond evil\\x85end$/m);
  assert.match(raw, /^notice evil\\x85end$/m);
  assert.match(raw, new RegExp(`^${name} .* by aliceevil\\\\x85end 20`, 'm'), 'the last deploy cell too');
});

test('unreachable nodes and nodes that could not be evaluated are visible', () => {
  const events = recorded();
  const [name, other] = statusesOf(events).map((s) => s.node);
  const broken = laterRefresh(events, 'broken', (s) => (s.node === name ? { type: s.type, v: s.v, run: s.run, seq: s.seq, time: s.time, node: s.node, desired: s.desired, state: 'unreachable', reason: `${name}: connect: timed out` } : s))
    .filter((e) => !(e.type === 'status' && e.node === other));
  const summary = broken.pop()!;
  const failed = { ...summary, type: 'node-done', node: other, outcome: 'failed', error: `${other}: evaluation failed: boom\r\n       at hive.nix:3:5` } as FleetEvent;
  const view = fold([...broken, failed, { ...summary, seq: summary.seq + 1 }]).latest!;
  const { lastFrame, unmount } = render(createElement(Box, { width: 300 }, createElement(StatusTable, { view })));
  const screen = text(lastFrame());
  assert.match(screen, new RegExp(`^${name} +unreachable +\\? +\\? +-$`, 'm'));
  assert.match(screen, new RegExp(`^${name}: unreachable: ${name}: connect: timed out$`, 'm'));
  assert.match(screen, new RegExp(`^error: ${other}: evaluation failed: boom\n {7}at hive\\.nix:3:5$`, 'm'), 'Nix\'s lines kept, without \\r');
  assert.doesNotMatch(screen, new RegExp(`^${other} `, 'm'), 'no row: it has no status');
  unmount();
});

test('the screen: when refreshed, the countdown, refreshing… while the next runs, notices, the keys', () => {
  const events = recorded();
  const one = fold(events);
  const at = one.refreshedAt!;
  const screen = (state: WatchState, now: number) => {
    const { lastFrame, unmount } = render(createElement(StatusWatchScreen, { state, intervalMs: 5000, now }));
    const t = text(lastFrame());
    unmount();
    return t;
  };
  const first = screen(initialWatch(), at);
  assert.match(first, /^fleet status --watch · every 5s · not refreshed yet$/m);
  assert.match(first, /no complete refresh yet/);
  assert.match(screen(fold(events.slice(0, 3)), at), /every 5s · first refresh: evaluating and asking the nodes…$/m);

  const shown = screen(one, at + 2000);
  assert.match(shown, new RegExp(`^fleet status --watch · every 5s · refreshed at ${clockTime(at)}, next in 3s$`, 'm'));
  assert.match(shown, /^NODE +STATE +RUNNING +GEN +LAST DEPLOY$/m);
  assert.match(shown, new RegExp(`^${countLine(statusesOf(events))}$`, 'm'));
  assert.match(shown, /^q quit · Ctrl\+C interrupt$/m);
  assert.match(screen(one, at + 9000), /next in 0s$/m, 'late: never a negative countdown');

  const running = fold(laterRefresh(events, 'next').slice(0, 4), one);
  const refreshing = screen(running, at + 5000);
  assert.match(refreshing, new RegExp(`refreshed at ${clockTime(at)}, refreshing…$`, 'm'));
  assert.match(refreshing, /^NODE +STATE/m, 'the complete table stays');

  const noticed = screen(withNotice(one, 'fleet: Ctrl+C: starting nothing new'), at);
  assert.match(noticed, /^fleet: Ctrl\+C: starting nothing new$/m);
});

test('keys: q sends quit (and says quitting…), Ctrl+C sends abort; other keys nothing', async () => {
  const sent: SteerCommand[] = [];
  const { stdin, lastFrame, unmount } = render(createElement(StatusWatchApp, { state: fold(recorded()), intervalMs: 5000, send: (c) => sent.push(c) }));
  await settle();
  stdin.write('x');
  await settle();
  assert.deepEqual(sent, []);
  stdin.write('\u0003');
  await settle();
  assert.deepEqual(sent, [{ type: 'abort' }]);
  stdin.write('q');
  await settle();
  assert.deepEqual(sent, [{ type: 'abort' }, { type: 'quit' }]);
  assert.match(text(lastFrame()), /^quitting…$/m);
  unmount();
});
