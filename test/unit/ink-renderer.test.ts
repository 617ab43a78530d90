// The interactive apply renderer on a (fake) terminal, loaded as the CLI loads it (loadInkUi): events in, frames
// out, keys to commands, and the terminal given back on finish() and on restore(). Nothing here imports ink
// statically: under CI=true ink would otherwise decide at load to draw nothing until exit.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { loadInkUi } from '../../src/cli/ink.js';
import type { EventOf } from '../../src/events.js';
import type { SteerCommand } from '../../src/steer.js';
import { waitFor } from '../poll.js';
import { atReview, fixture } from './ui-recorded.js';
import { nodeName, scaledRun } from './ui-scale-run.js';

const { createInteractiveRenderer } = await loadInkUi();

/** A terminal for the renderer: a stdout that keeps what was written, a stdin that remembers raw mode. */
function fakeTerminal(rows: number) {
  class Stdin extends EventEmitter {
    isTTY = true;
    raw: boolean[] = [];
    private data: string | null = null;
    setRawMode(on: boolean) {
      this.raw.push(on);
      return this;
    }
    setEncoding() {}
    resume() {}
    pause() {}
    ref() {}
    unref() {}
    read = () => {
      const d = this.data;
      this.data = null;
      return d;
    };
    press(key: string) {
      this.data = key;
      this.emit('readable');
    }
  }
  let written = '';
  const stdout = Object.assign(new Writable({ write(chunk: Buffer, _enc, cb) { written += chunk.toString(); cb(); } }), { isTTY: true, columns: 120, rows });
  const stdin = new Stdin();
  return { terminal: { stdin: stdin as unknown as NodeJS.ReadStream, stdout: stdout as unknown as NodeJS.WriteStream, stderr: stdout as unknown as NodeJS.WriteStream }, stdin, written: () => written };
}

describe('the renderer on a terminal (createInteractiveRenderer)', () => {
  const events = fixture('review-waves');

  test('events in, frames out; y approves; finish() shows the result and gives the terminal back', async () => {
    const t = fakeTerminal(60);
    const sent: SteerCommand[] = [];
    const renderer = createInteractiveRenderer(t.terminal, (c) => sent.push(c), { throttleMs: 1 });
    const review = atReview(events);
    for (const e of review) renderer.onEvent(e);
    await waitFor('the review on screen', () => t.written().includes('review the plan'), { timeoutMs: 5000, everyMs: 5 });
    assert.equal(t.stdin.raw.at(-1), true, 'raw mode while the UI reads keys');
    t.stdin.press('y');
    assert.deepEqual(sent, [{ type: 'approve' }]);
    for (const e of events.slice(review.length)) renderer.onEvent(e);
    renderer.notice('fleet: a notice for the person');
    assert.equal(renderer.view.summary?.exitCode, (events.at(-1) as EventOf<'summary'>).exitCode);
    await renderer.finish();
    const out = t.written();
    assert.match(out, /exit code 0 after/);
    assert.ok(out.includes('fleet: a notice for the person'));
    assert.equal(t.stdin.raw.at(-1), false, 'raw mode off');
    assert.ok(out.endsWith('\u001b[?25h'), 'the cursor is shown again');
    renderer.restore(); // idempotent
    assert.equal(renderer.outputBroken, false);
  });

  test('a report taller than the terminal is printed whole below the UI', async () => {
    const t = fakeTerminal(8);
    const renderer = createInteractiveRenderer(t.terminal, () => {}, { throttleMs: 1 });
    for (const e of events) renderer.onEvent(e);
    await renderer.finish();
    const after = t.written().slice(t.written().lastIndexOf('\u001b[?25h') + '\u001b[?25h'.length);
    const summary = events.at(-1) as EventOf<'summary'>;
    for (const [name, r] of Object.entries(summary.nodes)) assert.match(after, new RegExp(`^${name}\\s+${r.outcome}`, 'm'));
    assert.match(after, /exit code 0 after/);
    assert.equal(t.stdin.raw.at(-1), false);
  });

  test('restore() before finish (a forced quit): terminal back at once, later events draw nothing', async () => {
    const t = fakeTerminal(40);
    const renderer = createInteractiveRenderer(t.terminal, () => {}, { throttleMs: 1 });
    for (const e of atReview(events)) renderer.onEvent(e);
    renderer.restore();
    assert.equal(t.stdin.raw.at(-1), false);
    const before = t.written().length;
    renderer.onEvent(events.at(-1)!);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(t.written().length, before);
    await renderer.finish();
  });
});

/** 300 nodes mid-rollout: node-0151..0160 in flight, 150 ended. */
const scaled = scaledRun({ nodes: 300, failing: [41, 141, 241] });
const midway = scaled.slice(0, scaled.findIndex((e) => e.type === 'node-phase' && e.node === nodeName(150) && e.phase === 'activate'));

describe('redraws', () => {
  test('a burst of hundreds of events is drawn once (the throttle), not once per event', async () => {
    let written = '';
    const stdout = Object.assign(new Writable({ write(chunk: Buffer, _enc, cb) { written += chunk.toString(); cb(); } }), { isTTY: true, columns: 120, rows: 30 });
    const stdin = Object.assign(new EventEmitter(), { isTTY: true, setRawMode: () => stdin, setEncoding() {}, resume() {}, pause() {}, ref() {}, unref() {}, read: () => null });
    let draws = 0;
    const renderer = createInteractiveRenderer(
      { stdin: stdin as unknown as NodeJS.ReadStream, stdout: stdout as unknown as NodeJS.WriteStream, stderr: stdout as unknown as NodeJS.WriteStream },
      () => {},
      { throttleMs: 20, tickMs: 60_000, now: () => (draws += 1, Date.parse(midway.at(-1)!.time)) },
    );
    const mounted = draws;
    for (const e of midway) renderer.onEvent(e);
    await waitFor('the burst drawn', () => written.includes('150 of 300 nodes done'), { timeoutMs: 5000, everyMs: 5 });
    assert.ok(midway.length > 500, `${midway.length} events`);
    assert.equal(draws - mounted, 1, `${draws - mounted} draws for ${midway.length} events`);
    renderer.restore();
  });
});
