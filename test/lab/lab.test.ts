// The lab's own bookkeeping: which live processes belong to a light host (lab/procs.ts), what `npm run lab -- status`
// and `down` act on; how a lab starts (many hosts at once, batched readiness, a port taken meanwhile). A mount namespace's id is reused by the kernel once the namespace is gone, so a stopped host's
// recorded id may name another lab's host later: that one's processes must never count as this host's.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { startLab } from '../../lab/index.js';
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

describe('starting a lab', { skip: requireLabCapable() }, () => {
  test('10 hosts: each its own sshd, host key, store and namespace; readiness logs in to 2 of them, not to each (batched: their own logs say they listen)', async () => {
    const names = Array.from({ length: 10 }, (_v, i) => `s${i + 1}`);
    const lab = await startLab({ names });
    try {
      const accepted = await Promise.all(lab.hosts.map(async (h) => (await readFile(`${h.dir}/sshd.log`, 'utf8')).split('\n').filter((l) => l.includes('Accepted publickey')).length));
      assert.equal(accepted.reduce((a, b) => a + b, 0), 2, `readiness logins per host: ${accepted.join(' ')}`);
      assert.equal(accepted[0], 1, 'the first host');
      assert.equal(accepted.at(-1), 1, 'the last host');
      assert.equal(new Set(lab.hosts.map((h) => h.sshdPid)).size, 10, 'an sshd each');
      const keys = (await readFile(lab.knownHosts, 'utf8')).trim().split('\n').map((l) => l.split(' ').slice(1).join(' '));
      assert.equal(new Set(keys).size, 10, 'a host key each');
      const seen = await Promise.all(names.map(async (n) => {
        const r = await lab.exec(n, ['sh', '-c', 'hostname; readlink /proc/self/ns/mnt; stat -c %i /nix/store']);
        return r.stdout.trim().split('\n');
      }));
      assert.deepEqual(seen.map((s) => s[0]), names, 'its own host name');
      assert.equal(new Set(seen.map((s) => s[1])).size, 10, 'its own mount namespace');
      assert.equal(new Set(seen.map((s) => s[2])).size, 10, 'its own store');
      // Every host takes a login through the lab's ssh_config (strict host key checking), not only the two readiness probed.
      const logins = await Promise.all(names.map((n) => execa('ssh', ['-F', lab.sshConfig, n, 'hostname'], { reject: false })));
      assert.deepEqual(logins.map((r) => r.stdout.trim()), names, logins.map((r) => r.stderr).join('\n'));
    } finally {
      await lab.down();
    }
  });

  test('a preferred port taken when the host starts: that host moves to a free port, and ssh_config and known_hosts follow', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const other = (free.address() as AddressInfo).port;
    await new Promise((resolve) => free.close(resolve));
    try {
      const lab = await startLab({ names: ['p1', 'p2'], tryPorts: [taken, other] });
      try {
        assert.notEqual(lab.hosts[0]!.port, taken, 'moved off the taken port');
        assert.equal(lab.hosts[1]!.port, other, 'the other host kept its port');
        assert.match(await readFile(lab.sshConfig, 'utf8'), new RegExp(`Host p1\\n  HostName 127.0.0.1\\n  Port ${lab.hosts[0]!.port}\\n`));
        const r = await execa('ssh', ['-F', lab.sshConfig, 'p1', 'hostname'], { reject: false });
        assert.equal(r.stdout.trim(), 'p1', r.stderr);
      } finally {
        await lab.down();
      }
      // Fixed ports are the caller's: a taken one fails, naming the host and what sshd said.
      await assert.rejects(startLab({ names: ['p3'], ports: [taken] }), /lab host p3 \(port \d+\) exited before listening[\s\S]*Address already in use/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
