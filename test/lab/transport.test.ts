// The transport against real sshd: fresh connections, BatchMode, host-key pinning that NIX_SSHOPTS cannot defeat,
// masters that die with fleet, and connects that Ctrl+C cancels at once.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { Builder, ResolvedNode } from '../../src/config/types.js';
import { copyWithLocal } from '../../src/transport/copy.js';
import { createHostPool } from '../../src/transport/pool.js';
import { runLocal } from '../../src/transport/run.js';
import { SshConnectError } from '../../src/transport/ssh.js';
import { eventually, waitFor } from '../poll.js';
import { resolvedNode } from '../resolved-node.js';
import { requireLabCapable, useLab } from './support.js';

const POOL = fileURLToPath(new URL('../../src/transport/pool.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const nodeAt = (host: string, extra: Partial<ResolvedNode> = {}) => resolvedNode(host, { host, activationTimeoutMs: 60_000, ...extra });

/** Live processes whose command line names `text` (this process excluded). */
function processesNaming(text: string): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
    } catch {
      return false; // exited meanwhile
    }
  }).map(Number);
}

/** The control socket a host's commands ride, as its ssh options name it. */
function controlPathOf(sshOpts: readonly string[]): string {
  const path = /(?:^|\s)(?:-S |-o ControlPath=)(\S+)/.exec(sshOpts.join(' '))?.[1];
  assert.ok(path, `no control path in ${sshOpts.join(' ')}`);
  return path;
}

const keyLine = async (pubFile: string) => (await readFile(pubFile, 'utf8')).trim().split(' ').slice(0, 2).join(' ');

describe('transport on a 1-host lab', { skip: requireLabCapable() }, () => {
  const ctx = useLab({ before, after }, ['t1']);

  test('runFresh makes exactly one new handshake; runs over the master make none', async () => {
    const { lab } = ctx;
    const pool = createHostPool({ env: {} });
    try {
      const host = pool.forNode(nodeAt('t1', { sshConfig: lab.sshConfig }));
      await host.connect();
      const afterConnect = await lab.handshakes('t1');
      for (let i = 0; i < 3; i++) assert.equal((await host.run(['true'])).exitCode, 0);
      assert.equal(await lab.handshakes('t1'), afterConnect, 'runs ride the master');
      const fresh = await host.runFresh(['hostname']);
      assert.equal(fresh.exitCode, 0, fresh.stderr);
      assert.equal(fresh.stdout.trim(), 't1');
      assert.equal(await lab.handshakes('t1'), afterConnect + 1, 'a fresh run authenticates on its own');
      assert.equal((await host.run(['true'])).exitCode, 0);
      assert.equal(await lab.handshakes('t1'), afterConnect + 1, 'the master is still there for the others');
    } finally {
      await pool.closeAll();
    }
  });

  test('a master that died is opened again: later commands ride the new one, and closeAll ends it', { timeout: 60_000 }, async () => {
    const { lab } = ctx;
    const pool = createHostPool({ env: {} });
    const host = pool.forNode(nodeAt('t1', { sshConfig: lab.sshConfig }));
    const { dest, sshOpts } = host.copyTarget!;
    const controlPath = controlPathOf(sshOpts);
    try {
      await host.connect();
      // The master ends under the run (as after a cut): commands still work, directly, until a new master is up.
      assert.equal((await execa('ssh', [...sshOpts, '-O', 'exit', dest], { reject: false })).exitCode, 0);
      await waitFor('the master to end', () => !existsSync(controlPath));
      const back = await eventually(async () => {
        assert.equal((await host.run(['true'])).exitCode, 0);
        return existsSync(controlPath);
      });
      assert.equal(back, true, 'a new master opened for later commands');
      assert.equal((await execa('ssh', [...sshOpts, '-O', 'check', dest], { reject: false })).exitCode, 0, 'a live master on the socket');
      const handshakes = await lab.handshakes('t1');
      for (let i = 0; i < 3; i++) assert.equal((await host.run(['true'])).exitCode, 0);
      assert.equal(await lab.handshakes('t1'), handshakes, 'runs ride the new master');
    } finally {
      await pool.closeAll();
    }
    assert.equal(await eventually(() => processesNaming(controlPath).length === 0, { timeoutMs: 20_000 }), true, `left behind: ${processesNaming(controlPath).join(', ')}`);
  });

  test('BatchMode=yes: an unknown host key fails the connect instead of asking', async () => {
    const { lab } = ctx;
    const t1 = lab.hosts[0]!;
    const dir = await mkdtemp('/tmp/fleet-askpass-');
    const askpass = `${dir}/askpass`, asked = `${dir}/asked`, emptyKnownHosts = `${dir}/known_hosts`;
    // An askpass that answers "yes": without BatchMode ssh would ask it and connect.
    await writeFile(askpass, `#!/bin/sh\necho "$*" >> ${asked}\necho yes\n`);
    await chmod(askpass, 0o755);
    await writeFile(emptyKnownHosts, '');
    const saved = { SSH_ASKPASS: process.env.SSH_ASKPASS, SSH_ASKPASS_REQUIRE: process.env.SSH_ASKPASS_REQUIRE, DISPLAY: process.env.DISPLAY };
    Object.assign(process.env, { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' });
    const pool = createHostPool({ env: {} });
    try {
      const host = pool.forNode(nodeAt('127.0.0.1', { port: t1.port, sshOptions: ['-i', lab.key, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${emptyKnownHosts}`] }));
      await assert.rejects(host.connect(), (e: Error) => e instanceof SshConnectError && /Host key verification failed/.test(e.message));
      assert.equal(await readFile(asked, 'utf8').catch(() => ''), '', 'ssh never prompted');
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      await pool.closeAll();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a builder\'s pinned host key wins over NIX_SSHOPTS that turn checking off: fleet\'s ssh and nix-copy-closure refuse', async () => {
    const { lab } = ctx;
    const t1 = lab.hosts[0]!;
    const dir = await mkdtemp('/tmp/fleet-pin-');
    try {
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/other`]);
      const builder = (name: string, key: string): Builder => ({
        name, host: { user: 'root', host: '127.0.0.1', port: t1.port }, systems: [], maxJobs: 1, speedFactor: 1, supportedFeatures: [], mandatoryFeatures: [],
        publicHostKey: Buffer.from(key).toString('base64'), sshOptions: ['-i', lab.key, '-o', 'IdentitiesOnly=yes'], connectTimeoutMs: 10_000,
      });
      const env = { NIX_SSHOPTS: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' };
      const pool = createHostPool({ env });
      try {
        // Control: the right key with the same NIX_SSHOPTS connects, so a refusal below is the key's doing.
        const right = pool.forBuilder(builder('right', await keyLine(`${t1.dir}/ssh_host_ed25519_key.pub`)));
        await right.connect();
        assert.equal((await right.run(['hostname'])).stdout.trim(), 't1');

        const wrong = pool.forBuilder(builder('wrong', await keyLine(`${dir}/other.pub`)));
        const hostKeyError = /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/;
        await assert.rejects(wrong.connect(), (e: Error) => e instanceof SshConnectError && hostKeyError.test(e.message));

        // Nix's own ssh, with the options fleet hands it (no master to ride: it must connect, and check the key).
        await writeFile(`${dir}/payload`, 'pinned\n');
        const path = (await execa('nix-store', ['--add', `${dir}/payload`])).stdout.trim();
        const copied = await copyWithLocal(runLocal, '--to', { ...wrong, connect: async () => {} }, [path], false);
        assert.equal(copied.failed, true, 'nix-copy-closure must not reach a host whose key does not match');
        assert.match(copied.stderr, hostKeyError);
        assert.equal((await lab.exec('t1', ['nix-store', '--check-validity', path])).exitCode, 1, 'nothing was copied');
      } finally {
        await pool.closeAll();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('SIGKILL of fleet: its SSH master dies with it', { timeout: 60_000 }, async () => {
    const { lab } = ctx;
    const script = `${lab.dir}/hold-master.mts`; // .mts: an ES module (top-level await) outside the package
    await writeFile(script, [
      `import { createHostPool } from ${JSON.stringify(POOL)};`,
      'const host = createHostPool({ env: {} }).forNode(JSON.parse(process.argv[2]));',
      'await host.connect();',
      'console.log(JSON.stringify(host.copyTarget.sshOpts));',
      'setInterval(() => {}, 1000);',
      '',
    ].join('\n'));
    const child = execa(process.execPath, ['--import', 'tsx', script, JSON.stringify(nodeAt('t1', { sshConfig: lab.sshConfig }))], { cwd: ROOT, reject: false, stdin: 'ignore' });
    const firstLine = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().split('\n')[0]!));
      void child.then((r) => reject(new Error(`script exited early: ${r.stderr}`)));
    });
    const controlPath = controlPathOf(JSON.parse(firstLine) as string[]);
    assert.ok(processesNaming(controlPath).length > 0, 'the master runs while fleet does');
    child.kill('SIGKILL');
    await child;
    assert.equal(await eventually(() => processesNaming(controlPath).length === 0, { timeoutMs: 20_000 }), true, `left behind: ${processesNaming(controlPath).join(', ')}`);
    await rm(dirname(controlPath), { recursive: true, force: true }); // a killed fleet cannot remove its (empty) control dir
  });
});

test('Ctrl+C cancels a connect to a host that accepts TCP and never speaks SSH', { timeout: 20_000 }, async () => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const controller = new AbortController();
  const pool = createHostPool({ env: {}, signal: controller.signal });
  try {
    const node = nodeAt('127.0.0.1', { port, connectTimeoutMs: 30_000, sshOptions: ['-o', 'UserKnownHostsFile=/dev/null'] });
    const host = pool.forNode(node);
    const controlPath = controlPathOf(host.copyTarget!.sshOpts);
    const connecting = host.connect();
    await eventually(() => sockets.length > 0, { timeoutMs: 5_000 });
    assert.equal(sockets.length, 1, 'ssh reached the silent server');
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(connecting, (e: Error) => {
      assert.ok(e instanceof SshConnectError && e.reason === 'canceled', String(e));
      assert.equal(e.message, `cannot connect to 127.0.0.1 (root@127.0.0.1 port ${port}): canceled: interrupted while connecting`);
      return true;
    });
    assert.deepEqual(processesNaming(controlPath), [], 'the ssh child is gone');
    const later = pool.forNode({ ...node, name: 'other', sshOptions: ['-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes'] });
    await assert.rejects(later.connect(), (e: Error) => e instanceof SshConnectError && e.reason === 'canceled', 'after Ctrl+C no new connect starts');
    assert.equal(sockets.length, 1);
  } finally {
    await pool.closeAll();
    for (const s of sockets) s.destroy();
    server.close();
  }
});
