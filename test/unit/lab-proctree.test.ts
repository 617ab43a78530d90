// Sampling a process tree from /proc (lab/proctree.ts): what the 100-host lab test and bench/fleet-100 count ssh
// clients and memory with.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { listTree, sampleTree, watchTree } from '../../lab/proctree.js';
import { waitFor } from '../poll.js';

test('sampleTree: a process and every descendant (grandchildren too), the ssh ones counted apart, their memory summed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleet-tree-'));
  await copyFile('/bin/sleep', join(dir, 'ssh')); // a process whose command is `ssh`
  const child = execa('sh', ['-c', `"${dir}/ssh" 30 & sh -c '"${dir}/ssh" 30 & sleep 30; wait' & wait`], { reject: false });
  try {
    // A forked sh may not have exec'd into ssh yet: wait for both counts.
    await waitFor('the tree started', () => { const t = sampleTree(child.pid!); return t.processes === 5 && t.ssh === 2; }, { timeoutMs: 5000, everyMs: 20 });
    const s = sampleTree(child.pid!);
    assert.deepEqual([s.processes, s.ssh], [5, 2], 'sh, ssh, sh, ssh, sleep');
    assert.ok(s.sshRssKB > 0 && s.rssKB > s.sshRssKB, JSON.stringify(s));
    const watch = watchTree(child.pid!, 10);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const peaks = watch.stop();
    assert.ok(peaks.samples >= 2 && peaks.ssh === 2 && peaks.processes === 5, JSON.stringify(peaks));
  } finally {
    for (const pid of listTree(child.pid!).reverse()) killIfAlive(pid);
    await child;
    await rm(dir, { recursive: true, force: true });
  }
  assert.equal(sampleTree(child.pid!).processes, 0, 'a tree that is gone samples empty');
});

/** A parent may exit on its own once its children are killed (its `wait` returns): that is no failure. */
function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
