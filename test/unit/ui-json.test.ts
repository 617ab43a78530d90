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
