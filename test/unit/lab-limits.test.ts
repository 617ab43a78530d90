// The open-file limit a large lab raises (lab/limits.ts): read from /proc, raised with prlimit up to the hard limit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parseOpenFileLimit } from '../../lab/limits.js';

const limits = fileURLToPath(new URL('../../lab/limits.ts', import.meta.url));

test('parseOpenFileLimit: soft and hard from /proc/<pid>/limits; unlimited is Infinity', () => {
  const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax processes             95000                95000                processes\nMax open files            1024                 524288               files\n';
  assert.deepEqual(parseOpenFileLimit(text), { soft: 1024, hard: 524288 });
  assert.deepEqual(parseOpenFileLimit(text.replace('524288', 'unlimited')), { soft: 1024, hard: Number.POSITIVE_INFINITY });
  assert.throws(() => parseOpenFileLimit('Max processes 1 1 processes'), /no "Max open files" line/);
});

/** A node process started with soft limit `soft` and hard `hard` (ulimit), running raiseOpenFileLimit(needed); what it printed. */
async function raiseIn(soft: number, hard: number, needed: number) {
  const script = `const { raiseOpenFileLimit, readOpenFileLimit } = await import(${JSON.stringify(limits)});
    const { execSync } = await import('node:child_process');
    try { raiseOpenFileLimit(${needed}); console.log('soft', readOpenFileLimit().soft, 'child', execSync('ulimit -Sn', { shell: '/bin/sh' }).toString().trim()); }
    catch (e) { console.log('error', e.message); }`;
  return execa('sh', ['-c', `ulimit -Sn ${soft} && ulimit -Hn ${hard} && exec "$0" --import tsx --input-type=module -e "$1"`, process.execPath, script], { reject: false });
}

test('raiseOpenFileLimit: a soft limit below what the lab needs is raised to the hard limit, and children inherit it', async () => {
  const r = await raiseIn(256, 4096, 1000);
  assert.equal(r.stdout.trim(), 'soft 4096 child 4096', r.stderr);
});

test('raiseOpenFileLimit: a hard limit below the need fails with what to do', async () => {
  const r = await raiseIn(256, 512, 1000);
  assert.match(r.stdout.trim(), /^error the lab needs 1000 open files, but the hard limit is 512: raise it \(ulimit -Hn 1000, as root\) or start fewer hosts$/);
});
