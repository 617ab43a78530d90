process.env.TZ = 'UTC';
// The views of a large fleet (src/ui/scale.ts): 500 nodes stay within one screen. "Within a screen": every frame
// listr2 draws (on an 80-column terminal) is at most SCREEN lines, and the plain renderer writes at most SCREEN
// lines for the events of one instant (the engine emits a phase change of `--parallel` nodes, a plan, an evaluation
// of every node at one instant); every failure is still named, each node's detail is in the final table.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import type { FleetEvent } from '../../src/events.js';
import { createListrRenderer, createPlainRenderer } from '../../src/ui/index.js';
import { FAILURES_SHOWN } from '../../src/ui/listr-scale.js';
import { SCALE_AT } from '../../src/ui/scale.js';
import { nodeName, scaledRun } from './ui-scale-run.js';

const SCREEN = 40;
// eslint-disable-next-line no-control-regex
const ansi = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** A terminal listr2 draws on: each write one frame (log-update), kept apart; tall enough that nothing is cut. */
function fakeTty() {
  const writes: string[] = [];
  const out = Object.assign(new Writable({ write(chunk: Buffer, _enc, cb) { writes.push(chunk.toString()); cb(); } }), { isTTY: true, columns: 80, rows: 10_000 });
  return { out, writes };
}

/** listr2's default renderer (the one a terminal gets) on the run; the frames it drew, and the report after them. */
async function drawListr(events: FleetEvent[]): Promise<{ frames: string[][]; report: string }> {
  const { out, writes } = fakeTty();
  // listr2 picks its default renderer only when process.stdout is a terminal.
  const was = process.stdout.isTTY;
  process.stdout.isTTY = true;
  try {
    const renderer = createListrRenderer(out);
    let second = '';
    for (const e of events) {
      // Events of one instant come in one burst; time passes between instants (listr2 redraws meanwhile).
      if (e.time !== second) await new Promise((resolve) => setTimeout(resolve, 3));
      second = e.time;
      renderer.onEvent(e);
    }
    await renderer.finish();
  } finally {
    process.stdout.isTTY = was;
  }
  const at = writes.findIndex((w) => /^NODE +OUTCOME/m.test(w));
  assert.ok(at > 0, 'the report follows the frames');
  const frames = writes.slice(0, at).map((w) => w.replace(ansi, '').split('\n').filter((l) => l.trim() !== ''));
  return { frames: frames.filter((f) => f.length > 0), report: writes.slice(at).join('') };
}

/** The plain renderer's lines, per instant (the events sharing a time), and the report. */
async function drawPlain(events: FleetEvent[]): Promise<{ bursts: Map<string, string[]>; all: string[]; report: string }> {
  const writes: string[] = [];
  const out = new Writable({ write(chunk: Buffer, _enc, cb) { writes.push(chunk.toString()); cb(); } });
  const renderer = createPlainRenderer(out);
  const bursts = new Map<string, string[]>();
  for (const time of new Set(events.map((e) => e.time))) {
    const before = writes.length;
    for (const e of events.filter((x) => x.time === time)) renderer.onEvent(e);
    await new Promise((resolve) => setTimeout(resolve, 1));
    bursts.set(time, writes.slice(before).join('').split('\n').filter(Boolean));
  }
  const progressEnd = writes.length;
  await renderer.finish();
  return { bursts, all: writes.slice(0, progressEnd).join('').split('\n').filter(Boolean), report: writes.slice(progressEnd).join('') };
}

const failing = [3, 77, 150, 301, 499];

describe('500 nodes in listr2 (the default renderer on a terminal)', () => {
  test('every frame fits a screen: counts, the nodes in flight, each failure; the final table has every node, grouped by outcome', async () => {
    const { frames, report } = await drawListr(scaledRun({ nodes: 500, failing }));
    assert.ok(frames.length >= 5, `listr2 drew the run as it went (${frames.length} frames)`);
    const tallest = Math.max(...frames.map((f) => f.length));
    assert.ok(tallest <= SCREEN, `the tallest frame has ${tallest} lines:\n${frames.find((f) => f.length === tallest)!.join('\n')}`);
    const seen = frames.flat();
    assert.ok(seen.some((l) => /\d+ of 500 nodes done/.test(l)), 'counts of the nodes done');
    assert.ok(seen.some((l) => /\d+ copying|\d+ activating/.test(l)), 'counts per phase');
    assert.ok(seen.some((l) => /in flight: node-\d+ (copying|activating|verifying)/.test(l)), 'the nodes in flight');
    const last = frames.at(-1)!.join('\n');
    assert.match(last, /500 nodes: 495 activated, 5 rolled-back/);
    for (const i of failing) assert.match(last, new RegExp(`${nodeName(i)}: rolled-back: switch-to-configuration exited with 4`), `${nodeName(i)} named as it failed`);
    const rows = report.split('\n').filter((l) => /^node-\d+ /.test(l));
    assert.equal(rows.length, 500, 'one row per node in the final table');
    assert.deepEqual(rows.slice(-5).map((r) => r.split(/ +/)[0]), failing.map(nodeName), 'grouped by outcome: the rolled-back nodes last, in order');
  });

  test(`more than ${FAILURES_SHOWN} failures: the first ${FAILURES_SHOWN} named live, the rest counted; the frame still fits`, async () => {
    const many = Array.from({ length: 30 }, (_v, i) => i * 16);
    const { frames, report } = await drawListr(scaledRun({ nodes: 500, failing: many }));
    assert.ok(Math.max(...frames.map((f) => f.length)) <= SCREEN);
    const last = frames.at(-1)!.join('\n');
    assert.equal(many.filter((i) => last.includes(`${nodeName(i)}: rolled-back`)).length, FAILURES_SHOWN);
    assert.match(last, new RegExp(`${30 - FAILURES_SHOWN} more failures in the report`));
    for (const i of many) assert.match(report, new RegExp(`── ${nodeName(i)}: rolled-back`), 'every failure in the report');
  });

  test('a staged rollout: the wave running with its counts, and the waves', async () => {
    const { frames } = await drawListr(scaledRun({ nodes: 500, waves: [5, 200], failing: [2, 100] }));
    assert.ok(Math.max(...frames.map((f) => f.length)) <= SCREEN);
    const seen = frames.flat();
    assert.ok(seen.some((l) => /wave 2 of 3 running: \d+ of 200 nodes done/.test(l)), seen.filter((l) => l.includes('wave 2')).join('\n'));
    assert.match(frames.at(-1)!.join('\n'), /3 waves: 1 passed, 2 passed, 3 passed/);
  });

  test(`${SCALE_AT} nodes keep a line per node`, async () => {
    const { frames } = await drawListr(scaledRun({ nodes: SCALE_AT, failing: [4] }));
    const last = frames.at(-1)!.join('\n');
    for (let i = 0; i < SCALE_AT; i++) assert.ok(last.includes(nodeName(i)), `${nodeName(i)} has its line`);
  });
});

describe('500 nodes in plain lines (CI, pipes)', () => {
  test('the lines of one instant fit a screen; progress lines count phases and name the nodes in flight; each failure has its line', async () => {
    const { bursts, all, report } = await drawPlain(scaledRun({ nodes: 500, failing }));
    const [tallestAt, tallest] = [...bursts].reduce((a, b) => (b[1].length > a[1].length ? b : a));
    assert.ok(tallest.length <= SCREEN, `${tallest.length} lines at ${tallestAt}:\n${tallest.join('\n')}`);
    assert.ok(all.some((l) => / fleet +progress +\d+ of 500 nodes done: [^·]+ · \d+ (copying|activating|verifying)/.test(l)), all.join('\n'));
    assert.ok(all.some((l) => / fleet +progress +in flight: node-\d+ /.test(l)));
    for (const i of failing) assert.ok(all.some((l) => new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${nodeName(i)} +rolled-back +switch-to-configuration exited with 4$`).test(l)), `${nodeName(i)}'s failure line`);
    // No node's phase changes line by line: a node's name appears only in its failure line or the bounded in-flight lists.
    assert.ok(!all.some((l) => /^\S+ node-\d+ +(evaluating|copying|activating|verifying|activated|plan)/.test(l)));
    // At most one round of progress lines per 5 s of the run, whatever its size.
    const rounds = all.filter((l) => / progress +\d+ of 500 nodes done/.test(l)).length;
    const seconds = (Date.parse(scaledRun({ nodes: 500 }).at(-1)!.time) - Date.parse(scaledRun({ nodes: 500 })[0]!.time)) / 1000;
    assert.ok(rounds <= seconds / 5 + 1, `${rounds} progress rounds in ${seconds} s`);
    assert.equal(report.split('\n').filter((l) => /^node-\d+ /.test(l)).length, 500);
  });

  test('progress goes on without events: a quiet stretch still gets its progress line (a timer)', async () => {
    const writes: string[] = [];
    const out = new Writable({ write(chunk: Buffer, _enc, cb) { writes.push(chunk.toString()); cb(); } });
    const renderer = createPlainRenderer(out, { progressEveryMs: 30 });
    const events = scaledRun({ nodes: 100 });
    const copying = events.findIndex((e) => e.type === 'node-phase' && e.phase === 'copy');
    for (const e of events.slice(0, copying + 3)) renderer.onEvent(e); // three nodes start copying, then nothing comes
    const before = writes.join('');
    assert.doesNotMatch(before, /3 copying/, 'not shown at once: within the same instant as the previous progress line');
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.match(writes.join('').slice(before.length), /progress +0 of 100 nodes done · 3 copying, 97 waiting/);
    await renderer.finish();
  });

  test(`${SCALE_AT} nodes keep a line per node change`, async () => {
    const { all } = await drawPlain(scaledRun({ nodes: SCALE_AT }));
    for (let i = 0; i < SCALE_AT; i++) assert.ok(all.some((l) => new RegExp(`${nodeName(i)} +activating`).test(l)));
  });
});
