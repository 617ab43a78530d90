import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { findExecutable } from '../../lab/which.js';

test('findExecutable: an executable on PATH; not a plain file; never through a relative PATH entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-which-'));
  writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
  chmodSync(join(dir, 'tool'), 0o755);
  writeFileSync(join(dir, 'plain'), '');
  assert.equal(findExecutable('tool', { PATH: `/nonexistent:${dir}` }), join(dir, 'tool'));
  assert.equal(findExecutable('plain', { PATH: dir }), undefined);
  assert.equal(findExecutable('tool', { PATH: relative(process.cwd(), dir) }), undefined);
  assert.equal(findExecutable('no-such-tool-here', { PATH: '/bin:/usr/bin' }), undefined);
});
