// The interactive apply UI (`fleet apply -i`) driven by event streams recorded from real lab runs
// (test/fixtures/ui/*.ndjson): what is on screen at each point of a run, and which command each key sends.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { cleanup, render } from 'ink-testing-library';
import { createElement } from 'react';
import type { EventOf, FleetEvent } from '../../src/events.js';
import type { SteerCommand } from '../../src/steer.js';
import { formatGroup } from '../../src/diff/format.js';
import { ApplyApp } from '../../src/ui/ink/apply/app.js';
import { foldEvents } from '../../src/ui/view.js';
import { atReview, fixture } from './ui-recorded.js';
import { waitFor } from '../poll.js';

/** The events up to and including the `nth` one that matches. */
function upTo(events: FleetEvent[], match: (e: FleetEvent) => boolean, nth = 1): FleetEvent[] {
  let seen = 0;
  const i = events.findIndex((e) => match(e) && ++seen === nth);
  assert.ok(i >= 0, 'the fixture has the event the test cuts at');
  return events.slice(0, i + 1);
}
const is = <T extends FleetEvent['type']>(type: T, where: (e: EventOf<T>) => boolean = () => true) => (e: FleetEvent): e is EventOf<T> => e.type === type && where(e as EventOf<T>);
const all = <T extends FleetEvent['type']>(events: FleetEvent[], type: T) => events.filter(is(type));
const one = <T extends FleetEvent['type']>(events: FleetEvent[], type: T, where?: (e: EventOf<T>) => boolean) => {
  const found = events.find(is(type, where));
  assert.ok(found, `the fixture has a ${type} event`);
  return found;
};
const hash7 = (path: string) => /^\/nix\/store\/([0-9a-z]{32})-/.exec(path)![1]!.slice(0, 7);
const secondsAfter = (iso: string, now: number) => `${Math.floor((now - Date.parse(iso)) / 1000)}s`;

const ESC = '\u001b';
const keys = { up: `${ESC}[A`, down: `${ESC}[B`, enter: '\r', esc: ESC, ctrlC: '\u0003' };

afterEach(() => cleanup());

/** The app on the view folded from `events`; the clock 5 s after the last of them. */
function show(events: FleetEvent[], options: { rows?: number; notices?: string[] } = {}) {
  const view = foldEvents(events);
  const sent: SteerCommand[] = [];
  const now = Date.parse(events.at(-1)!.time) + 5000;
  const app = render(createElement(ApplyApp, { view, send: (c: SteerCommand) => sent.push(c), now, rows: options.rows ?? 200, notices: options.notices ?? [] }));
  const frame = () => app.lastFrame() ?? '';
  return {
    view, sent, now, frame,
    /** The frame's line that shows `node` (the one starting with its name, after the selection mark). */
    row: (node: string) => frame().split('\n').find((l) => l.slice(2).startsWith(`${node} `) || l.slice(2) === node) ?? '',
    /** Press a key and wait until the screen shows `until` (or, without it, until ink has read the key). */
    async press(key: string, until?: (frame: string) => boolean) {
      const before = app.frames.length;
      app.stdin.write(key);
      if (until) await waitFor(`the screen after ${JSON.stringify(key)}`, () => until(frame()), { timeoutMs: 5000, everyMs: 5 });
      else await new Promise((resolve) => setImmediate(resolve)).then(() => new Promise((resolve) => setImmediate(resolve)));
      return app.frames.length > before;
    },
  };
}

const selected = (frame: string) => frame.split('\n').find((l) => l.startsWith('▸ '))?.slice(2).split(' ')[0];

describe('plan review (review-waves: 3 waves, diffs while the plan waits)', () => {
  const events = fixture('review-waves');
  const plan = one(events, 'plan').plan;
  const diffs = all(atReview(events), 'diff');

  test('before the plan: how many nodes are evaluated and targets asked, each node with its phase', () => {
    const evaluating = upTo(events, is('node-phase', (e) => e.phase === 'evaluate'), plan.nodes.length);
    const s = show(evaluating);
    assert.match(s.frame(), new RegExp(`evaluating ${plan.nodes.length} nodes`));
    for (const np of plan.nodes) assert.match(s.row(np.name), /evaluating/);
    const asking = upTo(events, is('node-phase', (e) => e.phase === 'query'), 2);
    assert.match(show(asking).frame(), new RegExp(`evaluating ${plan.nodes.length - 2} nodes · asking 2 targets`));
  });

  test('every node in its wave with from → to, reason, build host, copy route and its own diff counts', () => {
    const s = show(atReview(events));
    const frame = s.frame();
    assert.match(frame, /review the plan/);
    const lines = frame.split('\n');
    plan.waves!.forEach((wave, i) => {
      const head = lines.findIndex((l) => l.startsWith(`wave ${i + 1} `));
      assert.ok(head >= 0, `wave ${i + 1} has a heading`);
      assert.match(lines[head]!, new RegExp(`${wave.nodes.length} nodes? · may fail ${wave.maxFailures}`));
      // Its nodes follow its heading, before the next wave's.
      const next = lines.findIndex((l) => l.startsWith(`wave ${i + 2} `));
      for (const name of wave.nodes) {
        const at = lines.findIndex((l) => l.slice(2).startsWith(`${name} `));
        assert.ok(at > head && (next < 0 || at < next), `${name} is listed under wave ${i + 1}`);
      }
    });
    for (const np of plan.nodes) {
      const row = s.row(np.name);
      const from = np.from!.currentSystem!;
      assert.ok(row.includes(`gen ${np.from!.generation} → new`), `${np.name}: ${row}`);
      assert.ok(row.includes(`${hash7(from)} → ${hash7(np.to.system)}`), `${np.name}: ${row}`);
      assert.ok(row.includes(np.reason), `${np.name}: ${row}`);
      const second = lines[lines.indexOf(row) + 1]!;
      assert.ok(second.includes(`build on ${np.buildJob}`), second);
      assert.ok(second.includes(np.copy.kind === 'from-local' ? 'copy from local' : np.copy.kind), second);
      const diff = diffs.find((d) => d.nodes.includes(np.name));
      assert.ok(diff, `the fixture has ${np.name}'s diff`);
      const counts = [[diff.changed, 'changed'], [diff.added, 'added'], [diff.removed, 'removed']] as const;
      for (const [list, word] of counts) if (list.length > 0) assert.ok(second.includes(`${list.length} ${word}`), `${np.name}: ${second}`);
      // This run's own locks are not news: no lock line for any node here.
      assert.doesNotMatch(lines[lines.indexOf(row) + 2] ?? '', /lock/);
    }
    assert.match(frame, new RegExp(`${diffs.length} diffs of ${plan.nodes.filter((n) => n.activate).length} ready`));
    const build = one(events, 'build-done');
    assert.match(frame, new RegExp(`${build.build}: built`));
  });

  test('before a node\'s diff arrives it says so instead of counts', () => {
    const s = show(upTo(events, is('review', (e) => e.state === 'waiting')));
    for (const np of plan.nodes.filter((n) => n.activate)) {
      const second = s.frame().split('\n')[s.frame().split('\n').indexOf(s.row(np.name)) + 1]!;
      assert.match(second, /diff: reading closures…/);
    }
  });

  test('while the build that makes a node runs, its diff says building… (the run cut before its build-done)', () => {
    const cut = upTo(events, is('review', (e) => e.state === 'waiting')).filter((e) => e.type !== 'build-done');
    const s = show(cut);
    const lines = s.frame().split('\n');
    for (const np of plan.nodes.filter((n) => n.buildJob !== undefined)) assert.match(lines[lines.indexOf(s.row(np.name)) + 1]!, /diff: building…/);
    assert.match(s.frame(), new RegExp(`${plan.builds[0]!.id}: building \\d+s, ${plan.builds[0]!.drvPaths.length} derivation`));
  });

  test('arrow keys move the selection over every node in wave order, and stop at the ends', async () => {
    const s = show(atReview(events));
    const order = plan.waves!.flatMap((w) => w.nodes);
    assert.equal(selected(s.frame()), order[0]);
    for (const name of order.slice(1)) await s.press(keys.down, (f) => selected(f) === name);
    await s.press(keys.down);
    assert.equal(selected(s.frame()), order.at(-1));
    await s.press(keys.up, (f) => selected(f) === order.at(-2));
    assert.deepEqual(s.sent, []);
  });

  test('Enter opens the selected node\'s full diff: every package, old → new; Esc, Enter and q go back sending nothing', async () => {
    const s = show(atReview(events));
    const name = plan.waves![1]!.nodes[0]!;
    await s.press(keys.down, (f) => selected(f) === name);
    await s.press(keys.enter, (f) => !f.includes('review the plan'));
    const diff = diffs.find((d) => d.nodes.includes(name))!;
    const frame = s.frame();
    assert.ok(frame.startsWith(`${name}: `), frame);
    for (const c of diff.changed) assert.match(frame, new RegExp(`changed\\s+${c.name} ${c.before.join(', ')} → ${c.after.join(', ')}`));
    for (const c of diff.added) assert.match(frame, new RegExp(`added\\s+${c.name} ${c.after.join(', ')}`));
    for (const c of diff.removed) assert.match(frame, new RegExp(`removed\\s+${c.name} ${c.before.join(', ')}`));
    await s.press(keys.esc, (f) => f.includes('review the plan'));
    assert.equal(selected(s.frame()), name);
    await s.press(keys.enter, (f) => !f.includes('review the plan'));
    await s.press('q', (f) => f.includes('review the plan'));
    await s.press(keys.enter, (f) => !f.includes('review the plan'));
    await s.press(keys.enter, (f) => f.includes('review the plan'));
    assert.deepEqual(s.sent, [], 'q in the diff goes back, it does not decline');
  });

  test('the full diff words each package as fleet diff does: an unversioned package added or removed is its bare name', async () => {
    // Packages the recording lacks: unversioned added and removed, a version appearing next to none (∅ → 3.0).
    const extra = {
      added: [{ name: 'plain', before: [], after: [''], sizeDelta: 7 }],
      removed: [{ name: 'bare', before: [''], after: [], sizeDelta: -3 }],
      changed: [{ name: 'openssl', before: [], after: ['3.0'], sizeDelta: 1 }],
    };
    const review = atReview(events).map((e) => (e.type === 'diff' ? { ...e, added: [...e.added, ...extra.added], removed: [...e.removed, ...extra.removed], changed: [...e.changed, ...extra.changed] } : e));
    const group = all(review, 'diff')[0]!;
    const s = show(review);
    for (let i = 0; i < plan.nodes.length && selected(s.frame()) !== group.nodes[0]; i++) await s.press(keys.down);
    assert.equal(selected(s.frame()), group.nodes[0]);
    await s.press(keys.enter, (f) => !f.includes('review the plan'));
    const frame = s.frame().split('\n');
    // fleet diff's lines for the same group, each on the screen as it is (the screen has no header line per group).
    const lines = formatGroup(group).split('\n').slice(1);
    assert.ok(lines.some((l) => l === '  added    plain (+7 B)') && lines.some((l) => l === '  removed  bare (-3 B)') && lines.some((l) => l === '  changed  openssl ∅ → 3.0 (+1 B)'));
    for (const l of lines) assert.ok(frame.some((f) => f.trimEnd() === l), `${l} on the screen:\n${frame.join('\n')}`);
    assert.ok(!frame.some((f) => f.includes('ε')), 'no ε for an unversioned name');
  });

  test('y deploys (approve), once', async () => {
    const s = show(atReview(events));
    await s.press('y', (f) => f.includes('deploying…'));
    await s.press('y');
    assert.deepEqual(s.sent, [{ type: 'approve' }]);
  });

  for (const key of ['n', 'q']) {
    test(`${key} leaves with nothing touched (decline)`, async () => {
      const s = show(atReview(events));
      await s.press(key, (f) => f.includes('declined: leaving with nothing touched'));
      assert.deepEqual(s.sent, [{ type: 'decline' }]);
    });
  }

  test('Ctrl+C sends abort at the review and in the full diff; after it, y and n send nothing', async () => {
    const s = show(atReview(events));
    await s.press(keys.enter, (f) => !f.includes('review the plan'));
    await s.press(keys.ctrlC);
    await s.press(keys.esc, (f) => f.includes('review the plan'));
    await s.press(keys.ctrlC);
    assert.match(s.frame(), /aborting: leaving with nothing touched/);
    await s.press('y');
    await s.press('n');
    assert.deepEqual(s.sent, [{ type: 'abort' }, { type: 'abort' }]);
  });

  test('a terminal too short for the list: the frame fits and scrolls to keep the selection in view', async () => {
    const rows = 12;
    const s = show(atReview(events), { rows });
    assert.ok(s.frame().split('\n').length < rows, s.frame());
    assert.match(s.frame(), /↓ \d+ more lines/);
    const last = plan.waves!.at(-1)!.nodes.at(-1)!;
    for (let i = 1; i < plan.nodes.length; i++) await s.press(keys.down);
    await waitFor('the last node selected', () => selected(s.frame()) === last, { timeoutMs: 5000, everyMs: 5 });
    assert.ok(s.frame().split('\n').length < rows, s.frame());
    assert.match(s.frame(), /↑ \d+ more lines/);
  });
});

describe('live rollout (review-waves: a pause asked for before wave 2, resumed)', () => {
  const events = fixture('review-waves');
  const plan = one(events, 'plan').plan;
  const words: Record<string, string> = { build: 'building', copy: 'copying', activate: 'activating', verify: 'verifying', confirm: 'confirming' };

  test('waves with their state, each node\'s phase in words and how long it has been in it', () => {
    const cut = upTo(events, is('node-phase', (e) => e.phase === 'activate'));
    const s = show(cut);
    const view = foldEvents(cut);
    const frame = s.frame();
    assert.match(frame, /wave 1 of 3\s+running/);
    assert.match(frame, /wave 2 of 3\s+planned/);
    for (const np of plan.nodes) {
      const phase = [...all(cut, 'node-phase')].reverse().find((e) => e.node === np.name)!;
      const node = view.nodes.find((n) => n.name === np.name)!;
      const inWave1 = plan.waves![0]!.nodes.includes(np.name);
      // Nodes of later waves are copied ahead; they wait for their wave.
      assert.ok(s.row(np.name).includes(words[phase.phase]!), `${np.name}: ${s.row(np.name)}`);
      if (inWave1) assert.ok(s.row(np.name).includes(secondsAfter(node.phaseSince!, s.now)), s.row(np.name));
    }
    assert.match(frame, /p pause after this wave/);
  });

  test('p asks for a pause and says so until it comes; r takes it back', async () => {
    const s = show(upTo(events, is('wave-start')));
    await s.press('p', (f) => f.includes('pausing after wave 1'));
    await s.press('p');
    await s.press('r', (f) => !f.includes('pausing after wave'));
    assert.deepEqual(s.sent, [{ type: 'pause' }, { type: 'resume' }]);
  });

  test('paused by rollout.pause: confirm: the prompt asks whether the next wave starts', () => {
    const cut = upTo(events, is('paused')).map((e) => (e.type === 'paused' ? { ...e, reason: 'confirm' as const } : e));
    const wave = (cut.at(-1) as EventOf<'paused'>).wave;
    assert.match(show(cut).frame(), new RegExp(`wave ${wave - 1} passed; start wave ${wave}\\?\\s+r/y go on`));
  });

  test('paused before wave 2: the prompt, r or y go on, n stops here', async () => {
    const cut = upTo(events, is('paused'));
    const paused = cut.at(-1) as EventOf<'paused'>;
    const s = show(cut);
    assert.match(s.frame(), new RegExp(`paused before wave ${paused.wave}\\s+r/y go on\\s+n stop here`));
    assert.match(s.frame(), new RegExp(`wave ${paused.wave} of 3\\s+paused before`));
    assert.match(s.frame(), /wave 1 of 3\s+passed/);
    await s.press('r');
    await s.press('y');
    await s.press('n', (f) => f.includes('stopping here'));
    await s.press('r');
    assert.deepEqual(s.sent, [{ type: 'resume' }, { type: 'resume' }, { type: 'decline' }]);
  });

  test('resumed: the prompt is gone and wave 2 runs', () => {
    const s = show(upTo(events, is('wave-start', (e) => e.wave === 2)));
    assert.doesNotMatch(s.frame(), /paused before/);
    assert.match(s.frame(), /wave 2 of 3\s+running/);
  });

  test('a asks before aborting: n goes on, y aborts', async () => {
    const s = show(upTo(events, is('wave-start', (e) => e.wave === 2)));
    await s.press('a', (f) => f.includes('abort?'));
    await s.press('n', (f) => !f.includes('abort?'));
    assert.deepEqual(s.sent, []);
    await s.press('a', (f) => f.includes('abort?'));
    await s.press('y', (f) => f.includes('aborting'));
    assert.deepEqual(s.sent, [{ type: 'abort' }]);
  });

  test('Ctrl+C sends abort during the rollout', async () => {
    const s = show(upTo(events, is('wave-start', (e) => e.wave === 2)));
    await s.press(keys.ctrlC, (f) => f.includes('aborting'));
    assert.deepEqual(s.sent, [{ type: 'abort' }]);
  });

  test('notices (the Ctrl+C one) are shown inside the UI', () => {
    const text = 'fleet: interrupted: nothing new starts; press Ctrl+C again to quit now';
    assert.ok(show(upTo(events, is('wave-start')), { notices: [text] }).frame().includes(text));
  });

  test('the result: the non-interactive report, every node\'s outcome and the exit code', () => {
    const s = show(events);
    const summary = events.at(-1) as EventOf<'summary'>;
    for (const [name, r] of Object.entries(summary.nodes)) assert.match(s.frame(), new RegExp(`^${name}\\s+${r.outcome}`, 'm'));
    assert.match(s.frame(), new RegExp(`exit code ${summary.exitCode} after`));
    assert.match(s.frame(), /3 waves: 3 passed/);
  });
});

describe('a wave rolled back (wave-rollback: wave 2 fails its health check; wave 3 held)', () => {
  const events = fixture('wave-rollback');

  test('a health check in progress shows its attempt k/n and how it went', () => {
    const cut = upTo(events, is('health'));
    const h = cut.at(-1) as EventOf<'health'>;
    const row = show(cut).row(h.node);
    assert.ok(row.includes(`health check ${h.attempt}/${h.attempts}`), row);
    assert.ok(row.includes(`${h.check} ${h.attempt}/${h.attempts} ${h.ok ? 'passed' : 'failed'}`), row);
  });

  test('p pressed during the wave that then fails: the pause can no longer come and the screen stops promising it', async () => {
    const started = upTo(events, is('wave-start', (e) => e.wave === 2));
    const failed = upTo(events, is('wave-done', (e) => e.verdict === 'failed'));
    const now = Date.parse(failed.at(-1)!.time) + 5000;
    const sent: SteerCommand[] = [];
    const props = { send: (c: SteerCommand) => sent.push(c), now, rows: 200 };
    const app = render(createElement(ApplyApp, { view: foldEvents(started), ...props }));
    app.stdin.write('p');
    await waitFor('the pause asked for', () => (app.lastFrame() ?? '').includes('pausing after wave 2'), { timeoutMs: 5000, everyMs: 5 });
    app.rerender(createElement(ApplyApp, { view: foldEvents(failed), ...props }));
    assert.doesNotMatch(app.lastFrame() ?? '', /pausing after wave|r resume/);
    assert.deepEqual(sent, [{ type: 'pause' }]);
  });

  test('the failed wave, its rolled-back and held nodes, and the wave that never started', () => {
    const cut = upTo(events, is('node-done', (e) => e.outcome === 'held'), 2);
    const s = show(cut);
    const failed = one(events, 'wave-done', (e) => e.verdict === 'failed');
    assert.match(s.frame(), new RegExp(`wave ${failed.wave} of 3\\s+failed \\(${failed.failures} failed, 0 allowed\\)`));
    assert.match(s.frame(), new RegExp(`wave ${failed.wave + 1} of 3\\s+held`));
    for (const e of all(cut, 'node-done')) {
      const word = e.outcome === 'rolled-back' ? 'rolled back' : e.outcome;
      assert.ok(s.row(e.node).includes(word), s.row(e.node));
      if (e.outcome !== 'activated') assert.ok(s.row(e.node).includes(e.error!.split('\n')[0]!.slice(0, 30)), s.row(e.node));
    }
  });

  test('after a wave failed no pause can come: p is not offered and sends nothing', async () => {
    const s = show(upTo(events, is('wave-done', (e) => e.verdict === 'failed')));
    assert.doesNotMatch(s.frame(), /p pause/);
    await s.press('p');
    assert.deepEqual(s.sent, []);
  });

  test('l shows the selected node\'s log (the rollback\'s output) and its error; l again hides it', async () => {
    const cut = upTo(events, is('node-done', (e) => e.outcome === 'rolled-back'));
    const done = cut.at(-1) as EventOf<'node-done'>;
    const s = show(cut);
    const order = foldEvents(cut).waves.flatMap((w) => w.nodes);
    for (const name of order.slice(1, order.indexOf(done.node) + 1)) await s.press(keys.down, (f) => selected(f) === name);
    await s.press('l', (f) => f.includes(`log of ${done.node}`));
    for (const line of done.log!) assert.ok(s.frame().includes(line), line);
    assert.ok(s.frame().includes(`error: ${done.error!.slice(0, 40)}`));
    await s.press('l', (f) => !f.includes('log of'));
  });

  test('the result names the rolled-back and held nodes and exits non-zero', () => {
    const summary = events.at(-1) as EventOf<'summary'>;
    const s = show(events);
    for (const [name, r] of Object.entries(summary.nodes)) assert.match(s.frame(), new RegExp(`^${name}\\s+${r.outcome}`, 'm'));
    assert.notEqual(summary.exitCode, 0);
    assert.match(s.frame(), new RegExp(`exit code ${summary.exitCode} after`));
    assert.match(s.frame(), /3 waves: 1 passed, 1 failed, 1 not started/);
  });
});

describe('a node locked by another run (locked)', () => {
  const events = fixture('locked');
  const plan = one(events, 'plan').plan;
  const locked = plan.nodes.find((n) => n.lock?.state === 'held')!;

  test('the review shows who holds the lock and until when; the node is not touched', () => {
    const s = show(atReview(events));
    const lines = s.frame().split('\n');
    const at = lines.indexOf(s.row(locked.name));
    const holder = locked.lock!.holder!;
    assert.ok(lines[at + 1]!.includes('diff: not touched'), lines[at + 1]);
    assert.ok(lines[at + 2]!.includes(`locked by ${holder.by}, run ${holder.run}, until ${new Date(holder.expires * 1000).toISOString().slice(0, 19)}`), lines[at + 2]);
  });

  test('without waves: one list, and p pauses nothing', async () => {
    const s = show(upTo(events, is('node-phase', (e) => e.phase === 'activate')));
    assert.doesNotMatch(s.frame(), /wave/);
    assert.doesNotMatch(s.frame(), /p pause/);
    await s.press('p');
    assert.deepEqual(s.sent, []);
    assert.ok(s.row(locked.name).includes('locked'));
  });

  test('after the plan, a node still on a planning phase waits for its turn (no phase, no clock)', () => {
    const cut = upTo(events, is('node-phase', (e) => e.phase === 'build'));
    const s = show(cut);
    const waiting = foldEvents(cut).nodes.filter((n) => !n.outcome && (n.phase === 'query' || n.phase === 'evaluate'));
    assert.ok(waiting.length > 0, 'the cut has a node not started yet');
    for (const n of waiting) assert.match(s.row(n.name), new RegExp(`^  ${n.name}\\s+waiting$`));
  });
});

describe('a node that could not be rolled back (rollback-failed)', () => {
  const events = fixture('rollback-failed');
  const summary = events.at(-1) as EventOf<'summary'>;
  const stuck = Object.entries(summary.nodes).filter(([, r]) => r.outcome === 'rollback-failed').map(([name]) => name);
  const squeeze = (text: string) => text.replace(/\s/g, '');

  test('during the run: the node says ROLLBACK FAILED, the others their outcomes', () => {
    const s = show(events.slice(0, -1));
    assert.ok(stuck.length > 0, 'the fixture has a node that could not be rolled back');
    for (const name of stuck) assert.match(s.row(name), /ROLLBACK FAILED/);
    const words: Record<string, string> = { activated: 'activated', unchanged: 'up to date' };
    for (const [name, r] of Object.entries(summary.nodes)) if (words[r.outcome]) assert.ok(s.row(name).includes(words[r.outcome]!), s.row(name));
  });

  test('the result: ATTENTION names it, the whole error (what to run by hand) is on screen, exit code 3', () => {
    const s = show(events);
    assert.match(s.frame(), new RegExp(`ATTENTION: ${stuck.join(', ')} could not be put back`));
    for (const name of stuck) assert.ok(squeeze(s.frame()).includes(squeeze(summary.nodes[name]!.error!)), 'the error wraps, it is not cut');
    assert.equal(summary.exitCode, 3);
    assert.match(s.frame(), /exit code 3 after/);
  });
});

describe('declined at review (declined)', () => {
  const events = fixture('declined');

  test('the result: every node skipped, exit code 0', () => {
    const summary = events.at(-1) as EventOf<'summary'>;
    const s = show(events);
    for (const name of Object.keys(summary.nodes)) assert.match(s.frame(), new RegExp(`^${name}\\s+skipped`, 'm'));
    assert.equal(summary.exitCode, 0);
    assert.match(s.frame(), /exit code 0 after/);
  });

  test('between the decline and the summary: it says it leaves, and keys send nothing more', async () => {
    const s = show(upTo(events, is('review', (e) => e.state === 'declined')));
    assert.match(s.frame(), /declined: leaving with nothing touched/);
    for (const key of ['y', 'p', 'a', 'r']) await s.press(key);
    assert.deepEqual(s.sent, []);
  });
});
