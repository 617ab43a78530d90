// The lab is what every deployment test trusts: prove its hosts are real, separate and safely torn down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { execa } from 'execa';
import { instantiateStandIn } from '../../lab/index.js';
import { requireLabCapable, useLab, type Lab } from './support.js';
import { labNixEnv } from '../../lab/index.js';

const names = ['alpha', 'beta', 'gamma'];
const nixEnv = labNixEnv;

function ssh(lab: Lab, host: string, argv: string[], extra: string[] = []) {
  return execa('ssh', ['-F', lab.sshConfig, ...extra, host, '--', ...argv], { reject: false, stdin: 'ignore' });
}

function witnessLines(lab: Lab): string[] {
  return readFileSync(lab.witness, 'utf8').split('\n').filter((l) => l !== '');
}

async function hasPath(lab: Lab, host: string, path: string): Promise<boolean> {
  return (await lab.exec(host, ['test', '-e', path])).exitCode === 0;
}

async function currentSystem(lab: Lab, host: string): Promise<string> {
  return (await lab.exec(host, ['readlink', '/run/current-system'])).stdout.trim();
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('lab smoke', { skip: requireLabCapable() }, () => {
  const started = Date.now();
  const ctx = useLab({ before, after }, names);
  before(() => console.error(`# lab of ${names.length} hosts up in ${Date.now() - started} ms`));

  test('each host reports its own host name over ssh and inside its namespace', async () => {
    for (const name of names) {
      const r = await ssh(ctx.lab, name, ['hostname']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout.trim(), name);
      assert.equal((await ctx.lab.exec(name, ['hostname'])).stdout.trim(), name);
    }
    assert.notEqual(hostname(), 'alpha');
  });

  test('each host has its own empty /root: sessions never run this machine\'s shell start-up files', async () => {
    for (const name of names) {
      const listed = await ctx.lab.exec(name, ['ls', '-A', '/root']);
      assert.equal(listed.exitCode, 0, listed.stderr);
      assert.equal(listed.stdout.trim(), '', `${name}: /root`);
    }
  });

  test('one handshake per ssh command is counted in the host log', async () => {
    const before = await ctx.lab.handshakes('alpha');
    const betaBefore = await ctx.lab.handshakes('beta');
    const t0 = performance.now();
    const r = await ssh(ctx.lab, 'alpha', ['true']);
    console.error(`# one handshake + command: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(await ctx.lab.handshakes('alpha'), before + 1);
    assert.equal(await ctx.lab.handshakes('beta'), betaBefore, 'other hosts saw no login');
  });

  test('host keys are checked: unknown and wrong keys are refused', async () => {
    const empty = `${ctx.lab.dir}/known_hosts.empty`;
    writeFileSync(empty, '');
    const unknown = await ssh(ctx.lab, 'alpha', ['true'], ['-o', `UserKnownHostsFile=${empty}`, '-o', 'StrictHostKeyChecking=yes']);
    assert.equal(unknown.exitCode, 255);
    assert.match(unknown.stderr, /Host key verification failed/);
    // beta's key recorded for alpha's address: each host has its own key, and a mismatch is caught.
    const alphaPort = ctx.lab.hosts.find((h) => h.name === 'alpha')?.port;
    const betaKey = readFileSync(`${ctx.lab.dir}/beta/ssh_host_ed25519_key.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const wrong = `${ctx.lab.dir}/known_hosts.wrong`;
    writeFileSync(wrong, `[127.0.0.1]:${alphaPort} ${betaKey}\n`);
    const mismatch = await ssh(ctx.lab, 'alpha', ['true'], ['-o', `UserKnownHostsFile=${wrong}`]);
    assert.equal(mismatch.exitCode, 255);
    assert.match(mismatch.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
  });

  test('a path copied to one host is in that store only; the witness records a local build', async () => {
    const { drv, out } = await instantiateStandIn(ctx.lab, { name: 'smoke-copy', nonce: randomUUID() });
    const witnessBefore = witnessLines(ctx.lab).length;
    assert.equal((await execa('nix-store', ['--realise', drv], { env: nixEnv })).stdout.trim(), out);
    assert.deepEqual(witnessLines(ctx.lab).slice(witnessBefore), [`${hostname()} smoke-copy`]);
    const copy = await execa('nix-copy-closure', ['--to', 'alpha', out], {
      env: { ...nixEnv, NIX_SSHOPTS: `-F ${ctx.lab.sshConfig}` },
      reject: false,
    });
    assert.equal(copy.exitCode, 0, copy.stderr);
    assert.equal(await hasPath(ctx.lab, 'alpha', out), true);
    assert.equal((await ctx.lab.exec('alpha', ['nix-store', '--check-validity', out])).exitCode, 0);
    assert.equal(await hasPath(ctx.lab, 'beta', out), false);
    assert.equal(await hasPath(ctx.lab, 'gamma', out), false);
  });

  test('a system built on a host and activated by hand is live there only', async () => {
    const { drv, out } = await instantiateStandIn(ctx.lab, { name: 'smoke-switch', nonce: randomUUID() });
    const sshEnv = { ...nixEnv, NIX_SSHOPTS: `-F ${ctx.lab.sshConfig}` };
    await execa('nix-copy-closure', ['--to', 'beta', drv], { env: sshEnv });
    const witnessBefore = witnessLines(ctx.lab).length;
    const built = await ssh(ctx.lab, 'beta', ['nix-store', '--realise', drv]);
    assert.equal(built.exitCode, 0, built.stderr);
    assert.equal(built.stdout.trim(), out);
    assert.deepEqual(witnessLines(ctx.lab).slice(witnessBefore), ['beta smoke-switch']);
    assert.equal(await hasPath(ctx.lab, 'alpha', out), false, 'built on beta, not copied elsewhere');

    const profile = '/nix/var/nix/profiles/system';
    assert.equal((await ssh(ctx.lab, 'beta', ['nix-env', '-p', profile, '--set', out])).exitCode, 0);
    const sw = await ssh(ctx.lab, 'beta', [`${out}/bin/switch-to-configuration`, 'switch']);
    assert.equal(sw.exitCode, 0, sw.stderr);
    assert.equal(await currentSystem(ctx.lab, 'beta'), out);
    assert.equal((await ctx.lab.exec('beta', ['readlink', '-f', profile])).stdout.trim(), out);
    assert.equal((await ctx.lab.exec('beta', ['readlink', '/nix/var/fleet-lab/boot-default'])).stdout.trim(), out);
    assert.match((await ctx.lab.exec('beta', ['cat', '/nix/var/fleet-lab/activation.log'])).stdout, new RegExp(`^switch ${out}$`, 'm'));
    assert.equal(await currentSystem(ctx.lab, 'alpha'), '');
    assert.equal(await currentSystem(ctx.lab, 'gamma'), '');
  });

  test('builds on every host and locally at once do not disturb each other', async () => {
    const sshEnv = { ...nixEnv, NIX_SSHOPTS: `-F ${ctx.lab.sshConfig}` };
    const nonce = randomUUID();
    const witnessBefore = witnessLines(ctx.lab).length;
    const builds = [...names, 'local'].map(async (where) => {
      const { drv, out } = await instantiateStandIn(ctx.lab, { name: `smoke-par-${where}`, buildSeconds: 1, nonce });
      if (where === 'local') return { where, out, r: await execa('nix-store', ['--realise', drv], { env: nixEnv, reject: false }) };
      await execa('nix-copy-closure', ['--to', where, drv], { env: sshEnv });
      return { where, out, r: await ssh(ctx.lab, where, ['nix-store', '--realise', drv]) };
    });
    for (const { where, out, r } of await Promise.all(builds)) {
      assert.equal(r.exitCode, 0, `${where}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), out);
    }
    const expected = [...names.map((n) => `${n} smoke-par-${n}`), `${hostname()} smoke-par-local`];
    assert.deepEqual(witnessLines(ctx.lab).slice(witnessBefore).sort(), expected.sort());
  });

  test('stand-in variants: dry-activate changes nothing, fail-halfway fails after switching, cut-ssh cuts ssh', async () => {
    const sshEnv = { ...nixEnv, NIX_SSHOPTS: `-F ${ctx.lab.sshConfig}` };
    const nonce = randomUUID();
    const systems = await Promise.all(
      (['ok', 'fail-halfway', 'cut-ssh'] as const).map((variant) => instantiateStandIn(ctx.lab, { name: `smoke-${variant}`, variant, nonce })),
    );
    const [ok, half, cut] = systems.map((s) => s.out);
    assert.ok(ok && half && cut);
    await execa('nix-store', ['--realise', ...systems.map((s) => s.drv)], { env: nixEnv });
    await execa('nix-copy-closure', ['--to', 'gamma', ok, half, cut], { env: sshEnv });
    const activate = (out: string, goal: string) => ctx.lab.exec('gamma', [`${out}/bin/switch-to-configuration`, goal]);

    assert.equal((await activate(ok, 'dry-activate')).exitCode, 0);
    assert.equal(await currentSystem(ctx.lab, 'gamma'), '');
    assert.equal((await activate(ok, 'switch')).exitCode, 0);
    assert.equal((await activate(half, 'switch')).exitCode, 1);
    assert.equal(await currentSystem(ctx.lab, 'gamma'), half, 'half-way: the live system was already touched');

    assert.equal((await activate(cut, 'switch')).exitCode, 0);
    const cutOff = await ssh(ctx.lab, 'gamma', ['true'], ['-o', 'ConnectTimeout=2']);
    assert.equal(cutOff.exitCode, 255, 'a new ssh connection must fail while ssh is cut');
    assert.equal((await activate(ok, 'switch')).exitCode, 0);
    assert.equal((await ssh(ctx.lab, 'gamma', ['true'])).exitCode, 0, 'a working config restores ssh');
  });

  test('stop leaves no process and no mount behind', async () => {
    const lab = ctx.lab;
    const namespaces = lab.hosts.map((h) => readFileSync(`${h.dir}/mntns`, 'utf8').trim());
    const pids = lab.hosts.flatMap((h) => [h.pid, h.sshdPid]);
    await lab.stop();
    await lab.stop(); // idempotent
    // A zombie (state Z) is already dead: it only waits for init to collect its exit status.
    const alive = pids.filter((pid) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    });
    assert.deepEqual(alive, []);
    const leftovers = (await execa('sh', ['-c', 'for p in /proc/[0-9]*; do echo "$(readlink $p/ns/mnt) $(tr "\\0" " " < $p/cmdline)"; done'])).stdout
      .split('\n')
      .filter((line) => namespaces.some((ns) => line.startsWith(ns)) || line.includes(lab.dir));
    assert.deepEqual(leftovers.filter((l) => !l.includes('sh -c for p in')), []);
    assert.doesNotMatch(readFileSync('/proc/mounts', 'utf8'), new RegExp(lab.dir));
    for (const h of lab.hosts) assert.equal(await acceptsTcp(h.port), false, `port ${h.port} still accepts connections`);
    assert.ok(existsSync(`${lab.hosts[0]?.dir}/sshd.log`), 'stop() without remove keeps the files');
  });
});
