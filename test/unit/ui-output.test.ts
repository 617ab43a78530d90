// A closed stdout (`fleet apply --json | head -1`) must never crash fleet: renderers stop writing, the run goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { createJsonRenderer, createListrRenderer, createPlainRenderer, type Renderer } from '../../src/ui/index.js';
import { writeText } from '../../src/ui/write.js';
import { recordedRun } from './ui-fixture.js';

const renderers: [string, (out: NodeJS.WritableStream) => Renderer][] = [
  ['json', createJsonRenderer],
  ['plain', createPlainRenderer],
  ['listr', (out) => createListrRenderer(out, { renderer: 'test', err: out })],
];

const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
const pause = () => new Promise((resolve) => setTimeout(resolve, 5)); // lets stream events fire, not a timing assertion

for (const [kind, create] of renderers) {
  void test(`${kind}: a stream that fails with EPIPE mid-run: no throw, the run's events still fold, finish() resolves`, async () => {
    const out = new PassThrough();
    out.resume();
    const renderer = create(out);
    for (const e of recordedRun.slice(0, 3)) renderer.onEvent(e);
    await pause();
    assert.equal(renderer.outputBroken, false);
    out.destroy(epipe()); // emits 'error': without a listener, an uncaught exception fails this test
    await pause();
    for (const e of recordedRun.slice(3)) renderer.onEvent(e);
    await renderer.finish();
    assert.equal(renderer.outputBroken, true);
    assert.equal(renderer.view.summary?.exitCode, 1, 'the renderer kept following the run');
  });

  void test(`${kind}: fleet's own stdout is a pipe whose reader goes away after the first line (like | head -1)`, async () => {
    // The child renders the recorded run to its real process.stdout; once we closed our end, it writes the rest.
    const script = `
      const ui = await import(${JSON.stringify(new URL('../../src/ui/index.ts', import.meta.url).href)});
      const { recordedRun } = await import(${JSON.stringify(new URL('./ui-fixture.ts', import.meta.url).href)});
      const create = { json: ui.createJsonRenderer, plain: ui.createPlainRenderer, listr: (o) => ui.createListrRenderer(o, { renderer: 'test', err: o }) }[${JSON.stringify(kind)}];
      const renderer = create(process.stdout);
      renderer.onEvent(recordedRun[0]);
      await new Promise((resolve) => process.stdin.once('data', resolve));
      for (const e of recordedRun.slice(1)) { renderer.onEvent(e); await new Promise((r) => setTimeout(r, 2)); }
      await renderer.finish();
      process.stderr.write(JSON.stringify({ broken: renderer.outputBroken, seq: renderer.view.lastSeq }) + '\\n');
      process.stdin.destroy();
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => {
      child.stdout.destroy(); // the reader is gone: the child's next write hits a closed pipe
      child.stdin.write('go\n');
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stderr.trim().split('\n').at(-1)!), { broken: true, seq: recordedRun.length });
  });
}

void test('writeText resolves on a broken stream, and writes nothing more to it', async () => {
  const out = new PassThrough();
  let written = 0;
  out.on('data', () => (written += 1));
  await writeText(out, 'first\n');
  assert.equal(written, 1);
  out.destroy(epipe());
  await pause();
  await writeText(out, 'second\n');
  await writeText(out, 'third\n');
  assert.equal(written, 1);
});
