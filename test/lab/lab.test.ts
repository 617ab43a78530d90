// The lab's own bookkeeping: which live processes belong to a light host (lab/procs.ts), what `npm run lab -- status`
// and `down` act on. A mount namespace's id is reused by the kernel once the namespace is gone, so a stopped host's
// recorded id may name another lab's host later: that one's processes must never count as this host's.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { listHostPids, readMountNamespace } from '../../lab/procs.js';
import { waitFor } from '../poll.js';
import { requireLabCapable } from './support.js';

describe('lab host processes', { skip: requireLabCapable() }, () => {
  const children: ResultPromise[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.allSettled(children);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  /** A host dir with its own nix dir, as lab/host.ts makes one. */
  const hostDir = async () => {
    const dir = await mkdtemp('/tmp/fl-procs-');
    dirs.push(dir);
    await mkdir(`${dir}/nix`);
    return dir;
  };
  /** A process in a mount namespace of its own (sh -c script), and that namespace's id once it is in it. */
  const inNewNamespace = async (script: string, ...args: string[]) => {
    const child = execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${script}; exec sleep 300`, 'sh', ...args], { reject: false });
    children.push(child);
    const pid = child.pid!;
    const own = readMountNamespace(process.pid);
    let mntns: string | undefined;
    await waitFor(`pid ${pid} in a namespace of its own, its script done`, async () => {
      mntns = readMountNamespace(pid);
      return mntns !== undefined && mntns !== own && (await execa('cat', [`/proc/${pid}/cmdline`])).stdout.startsWith('sleep');
    });
    return { pid, mntns: mntns! };
  };

  test('a process in the recorded namespace counts only if its /nix is the host\'s own nix dir (a reused namespace id names another host)', async () => {
    const dir = await hostDir();
    const host = await inNewNamespace('mount --bind "$1/nix" /nix', dir);
    assert.deepEqual(listHostPids({ dir, mntns: host.mntns }), [host.pid], 'the host\'s process, found by its namespace');

    // The host is gone and its namespace id now names another namespace (another host's, with its own /nix).
    const stopped = await hostDir();
    assert.deepEqual(listHostPids({ dir: stopped, mntns: host.mntns }), [], 'another host\'s process is not this stopped host\'s');
    const bare = await inNewNamespace('true');
    assert.deepEqual(listHostPids({ dir: stopped, mntns: bare.mntns }), [], 'nor a process whose /nix is the machine\'s');
  });
});
