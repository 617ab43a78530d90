// `fleet apply -i` with hundreds of nodes: the list scrolls with the selection (arrows, PgUp/PgDn, Home/End), `/`
// filters it by name or state (Esc clears), and a large fleet's counts stand above it (the redraw throttle is tested in
// ink-renderer.test.ts, which loads ink as the CLI does: this file imports ink statically, so under CI=true ink draws nothing until exit).
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { cleanup, render } from 'ink-testing-library';
import { createElement } from 'react';
import type { FleetEvent } from '../../src/events.js';
import type { SteerCommand } from '../../src/steer.js';
import { ApplyApp } from '../../src/ui/ink/apply/app.js';
import { foldEvents } from '../../src/ui/view.js';
import { waitFor } from '../poll.js';
import { nodeName, scaledRun } from './ui-scale-run.js';

const ESC = '\u001b';
const keys = { up: `${ESC}[A`, down: `${ESC}[B`, pageDown: `${ESC}[6~`, pageUp: `${ESC}[5~`, home: `${ESC}[H`, end: `${ESC}[F`, enter: '\r', esc: ESC, backspace: '\u007f' };
const ROWS = 30;

afterEach(() => cleanup());

const run = scaledRun({ nodes: 300, failing: [41, 141, 241] });
/** Mid-rollout: node-0151..0160 in flight, 150 ended (node-0042 and node-0142 rolled back). */
const midway = run.slice(0, run.findIndex((e) => e.type === 'node-phase' && e.node === nodeName(150) && e.phase === 'activate'));

function show(events: FleetEvent[]) {
  const view = foldEvents(events);
  const sent: SteerCommand[] = [];
  const app = render(createElement(ApplyApp, { view, send: (c: SteerCommand) => sent.push(c), now: Date.parse(events.at(-1)!.time) + 1000, rows: ROWS }));
  const frame = () => app.lastFrame() ?? '';
  const listed = () => frame().split('\n').filter((l) => /^[▸ ] node-\d+ /.test(l)).map((l) => l.slice(2).split(' ')[0]!);
  const selected = () => frame().split('\n').find((l) => l.startsWith('▸ '))?.slice(2).split(' ')[0];
  return {
    sent, frame, listed, selected,
    async press(key: string, until: () => boolean) {
      app.stdin.write(key);
      await waitFor(`the screen after ${JSON.stringify(key)}`, until, { timeoutMs: 5000, everyMs: 5 });
    },
    /** `/` then `text`, a key at a time, each one on screen before the next. */
    async filter(text: string) {
      await this.press('/', () => frame().includes('filter /▏'));
      for (let i = 1; i <= text.length; i++) await this.press(text[i - 1]!, () => frame().includes(`filter /${text.slice(0, i)}▏`));
    },
  };
}

describe('300 nodes in the live rollout', () => {
  test('the frame fits the terminal; the counts stand above the list', () => {
    const s = show(midway);
    assert.ok(s.frame().split('\n').length < ROWS, `${s.frame().split('\n').length} lines`);
    assert.match(s.frame(), /150 of 300 nodes done: 148 activated, 2 rolled-back · 10 copying, 140 waiting/);
    assert.ok(s.listed().length >= 10 && s.listed().length < ROWS, `${s.listed().length} nodes on screen`);
    assert.match(s.frame(), /↓ \d+ more lines/);
  });

  test('PgDn, PgUp, End and Home move the selection a page or to the ends; the list scrolls with it', async () => {
    const s = show(midway);
    assert.equal(s.selected(), nodeName(0));
    await s.press(keys.pageDown, () => s.selected() === nodeName(ROWS - 10));
    await s.press(keys.end, () => s.selected() === nodeName(299));
    assert.ok(s.listed().includes(nodeName(299)) && !s.listed().includes(nodeName(0)), 'scrolled to the end');
    await s.press(keys.pageUp, () => s.selected() === nodeName(299 - (ROWS - 10)));
    await s.press(keys.home, () => s.selected() === nodeName(0));
    assert.ok(s.listed().includes(nodeName(0)));
  });

  test('/ filters by name as it is typed; Backspace widens it; Enter keeps it; Esc clears it', async () => {
    const s = show(midway);
    await s.filter('42');
    assert.deepEqual(s.listed(), [nodeName(41), nodeName(141), nodeName(241)]);
    assert.match(s.frame(), /3 of 300 nodes/);
    await s.press(keys.down, () => s.selected() === nodeName(141));
    await s.press(keys.backspace, () => s.frame().includes('/4▏'));
    assert.ok(s.listed().length > 3 && s.listed().every((n) => n.includes('4')), s.listed().join(' '));
    await s.press(keys.enter, () => !s.frame().includes('▏'));
    assert.ok(s.frame().includes('filter /4 '), 'kept');
    await s.press(keys.esc, () => !s.frame().includes('filter /'));
    assert.equal(s.selected(), nodeName(141), 'the selection stays');
    assert.ok(s.listed().includes(nodeName(140)), 'every node listed again');
    assert.deepEqual(s.sent, []);
  });

  test('/ filters by state too: "rolled" lists the rolled-back nodes, "copying" the ones copying', async () => {
    const s = show(midway);
    await s.filter('rolled');
    assert.deepEqual(s.listed(), [nodeName(41), nodeName(141)]);
    assert.match(s.frame(), /2 of 300 nodes/);
    await s.press(keys.esc, () => !s.frame().includes('filter /'));
    await s.filter('copying');
    assert.deepEqual(s.listed(), Array.from({ length: 10 }, (_v, i) => nodeName(150 + i)));
  });

  test('while the filter is typed, letters are text: p, a and l do nothing else', async () => {
    const s = show(midway);
    await s.filter('pal');
    assert.doesNotMatch(s.frame(), /abort\? /);
    assert.doesNotMatch(s.frame(), /log of /);
    assert.deepEqual(s.sent, []);
    assert.match(s.frame(), /0 of 300 nodes/);
  });
});

describe('300 nodes at the plan review', () => {
  const review = [...run.slice(0, run.findIndex((e) => e.type === 'build-start')), ...foldReviewWaiting(run)];
  function foldReviewWaiting(events: FleetEvent[]): FleetEvent[] {
    const plan = events.find((e) => e.type === 'plan')!;
    return [{ ...plan, type: 'review', state: 'waiting', seq: plan.seq + 1 } as FleetEvent];
  }

  test('y typed into the filter does not deploy; after Esc it does', async () => {
    const s = show(review);
    assert.match(s.frame(), /review the plan/);
    await s.filter('y');
    assert.deepEqual(s.sent, []);
    await s.press(keys.esc, () => !s.frame().includes('filter /'));
    await s.press('y', () => s.sent.length > 0);
    assert.deepEqual(s.sent, [{ type: 'approve' }]);
  });
});
