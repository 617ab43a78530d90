// fleet doctor on systemd lab hosts (nix-daemon, sudo, systemd): a healthy lab reported clean, then broken on purpose,
// each checked on the host and reported with its fix, which applied as printed makes the check pass: no sudo rights
// for the deploy user (its sudoers drop-in removed), sudo that asks a password (deploy-pw: FLEET_SUDO_PASSWORD_FILE),
// and a builder whose SSH user nix-daemon does not trust (trusted-users).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { EventOf } from '../../src/events.js';
import { runFleet, type FleetRun } from './run-fleet.js';
import { requireSystemdLabCapable, useSystemdLab, type SystemdLab } from './support.js';

const NODES = ['n1', 'n2'];
type Check = EventOf<'doctor-check'>;

function checkOf(run: FleetRun, role: 'node' | 'builder', host: string, check: string): Check {
  const c = run.events.find((e): e is Check => e.type === 'doctor-check' && e.role === role && e.host === host && e.check === check);
  assert.ok(c, `a ${check} check of ${role} ${host}; exit ${run.code}\n${run.stdout}\n${run.stderr}`);
  return c;
}

function problems(run: FleetRun): string[] {
  return run.events.filter((e): e is Check => e.type === 'doctor-check' && (e.status === 'fail' || e.status === 'warn')).map((e) => `${e.role} ${e.host} ${e.check}: ${e.status}: ${e.detail}`);
}

describe('fleet doctor on systemd lab hosts', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const lab = (): SystemdLab => ctx.lab;
  const v4 = (name: string) => lab().hosts.find((h) => h.name === name)!.v4;
  /** n1 deployed as `user` and built on builder b2 (n2, reached as deploy); n2 a node as root. */
  const fleetAs = async (user: string) => {
    await writeFile(`${lab().dir}/hive.nix`, '{ }\n');
    return lab().writeFleet({
      nixFile: `${lab().dir}/hive.nix`, path: `${lab().dir}/fleet-doctor-${user}.yaml`,
      nodes: { n1: { user, buildHost: 'b2' } },
      extra: { builders: { b2: { host: `deploy@${v4('n2')}`, systems: ['x86_64-linux'], supportedFeatures: ['big-parallel'] } } },
    });
  };
  const doctor = async (user: string, args: string[] = [], env: Record<string, string> = {}) => runFleet(['-f', await fleetAs(user), 'doctor', '--json', ...args], env);
  const root = async (host: string, script: string) => {
    const r = await lab().exec(host, ['sh', '-c', script]);
    assert.equal(r.exitCode, 0, `${host}: ${script}: ${r.stderr}`);
    return r.stdout;
  };

  test('a healthy lab: exit 0, no failure or warning; deploy escalates with sudo -n, activations detach with systemd, deploy is trusted on the builder', async () => {
    const run = await doctor('deploy');
    assert.deepEqual(problems(run), []);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(checkOf(run, 'node', 'n1', 'sudo').detail, '`sudo -H --` runs commands as root without asking for a password');
    assert.equal(checkOf(run, 'node', 'n1', 'activation').detail, 'systemd runs: activations are detached into a transient unit (systemd-run)');
    assert.equal(checkOf(run, 'node', 'n1', 'trusted').detail, 'deploy is trusted by nix-daemon (trusted-users = root deploy deploy-pw)');
    assert.equal(checkOf(run, 'node', 'n1', 'store').detail, 'nix-store --serve answers (serve protocol 2.7); the store answers through nix-daemon');
    assert.equal(checkOf(run, 'node', 'n2', 'sudo').detail, 'the SSH user is root: nothing to escalate');
    assert.match(checkOf(run, 'builder', 'b2', 'systems').detail, /^builds x86_64-linux \(and i686-linux[^)]*\); declared x86_64-linux; builds for n1 \(x86_64-linux\)$/);
    assert.match(checkOf(run, 'builder', 'b2', 'features').detail, /^declared big-parallel; the machine has .*big-parallel/);
    const start = run.events[0];
    assert.ok(start?.type === 'doctor-start');
    assert.deepEqual(start.hosts.map((h) => `${h.role}:${h.name}:${h.address}`), ['deployer:deployer:local', `node:n1:deploy@${v4('n1')}`, `node:n2:root@${v4('n2')}`, `builder:b2:deploy@${v4('n2')}`]);
  });

  test('no sudo for the deploy user (its sudoers drop-in removed): sudo fails with the sudoers line; run as printed, it passes', async () => {
    await root('n1', 'mv /etc/sudoers.d/deploy /root/sudoers-deploy');
    try {
      const asDeploy = await lab().ssh('n1-deploy', ['sudo', '-n', 'true']);
      assert.notEqual(asDeploy.exitCode, 0, 'deploy has no passwordless sudo on n1');
      const run = await doctor('deploy', ['--on', 'n1']);
      assert.equal(run.code, 1);
      const c = checkOf(run, 'node', 'n1', 'sudo');
      assert.equal(c.status, 'fail');
      assert.equal(c.detail, 'sudo asks deploy for a password on n1 (sudo: a password is required): a deploy there stops before activating');
      const sudoers = 'echo \'deploy ALL=(ALL:ALL) NOPASSWD: ALL\' > /etc/sudoers.d/fleet-deploy && chmod 440 /etc/sudoers.d/fleet-deploy';
      assert.equal(c.fix, `run fleet with --ask-sudo-password (CI: FLEET_SUDO_PASSWORD_FILE=<file>) if deploy has sudo with a password; to need none, as root on n1: ${sudoers} ` +
        '(NixOS: security.sudo.extraRules = [ { users = [ "deploy" ]; commands = [ { command = "ALL"; options = [ "NOPASSWD" ]; } ]; } ];)');
      assert.deepEqual(problems(run), [`node n1 sudo: fail: ${c.detail}`]);

      await root('n1', sudoers);
      const fixed = await doctor('deploy', ['--on', 'n1']);
      assert.equal(fixed.code, 0, fixed.stdout);
      assert.equal(checkOf(fixed, 'node', 'n1', 'sudo').status, 'ok');
    } finally {
      await root('n1', 'rm -f /etc/sudoers.d/fleet-deploy; mv /root/sudoers-deploy /etc/sudoers.d/deploy');
    }
  });

  test('sudo that asks a password (deploy-pw): fails naming --ask-sudo-password; with the password (FLEET_SUDO_PASSWORD_FILE) it passes, and a wrong one is named', async () => {
    const run = await doctor('deploy-pw', ['--on', 'n1']);
    assert.equal(run.code, 1);
    assert.match(checkOf(run, 'node', 'n1', 'sudo').fix ?? '', /^run fleet with --ask-sudo-password \(CI: FLEET_SUDO_PASSWORD_FILE=<file>\) if deploy-pw has sudo with a password;/);
    const file = `${lab().dir}/sudo-password`;
    await writeFile(file, `${lab().sudoPassword}\n`, { mode: 0o600 });
    const given = await doctor('deploy-pw', ['--on', 'n1'], { FLEET_SUDO_PASSWORD_FILE: file });
    assert.equal(given.code, 0, given.stdout);
    assert.equal(checkOf(given, 'node', 'n1', 'sudo').detail, '`sudo -H --` runs commands as root with the password given');
    await writeFile(file, 'not-the-password\n');
    const wrong = await doctor('deploy-pw', ['--on', 'n1'], { FLEET_SUDO_PASSWORD_FILE: file });
    assert.equal(wrong.code, 1);
    assert.equal(checkOf(wrong, 'node', 'n1', 'sudo').fix, 'give deploy-pw\'s password on n1 (--ask-sudo-password, or FLEET_SUDO_PASSWORD_FILE)');
  });

  test('an untrusted builder user (trusted-users without deploy): the builder\'s trusted check fails with the nix.conf line; set as printed, it passes', async () => {
    const conf = await root('n2', 'cat /etc/nix/nix.conf');
    await root('n2', "sed -i 's/^trusted-users = .*/trusted-users = root/' /etc/nix/nix.conf && systemctl restart nix-daemon");
    try {
      assert.match(await root('n2', 'cat /etc/nix/nix.conf'), /^trusted-users = root$/m, 'n2 trusts only root');
      const run = await doctor('deploy', ['--on', 'n1']);
      assert.equal(run.code, 1);
      const c = checkOf(run, 'builder', 'b2', 'trusted');
      assert.equal(c.status, 'fail');
      assert.equal(c.detail, 'deploy is not in nix-daemon\'s trusted-users (root) on b2: derivations sent to it to build and the paths copied to it are refused');
      assert.equal(c.fix, 'on b2, set `trusted-users = root deploy` in /etc/nix/nix.conf and restart nix-daemon (systemctl restart nix-daemon); NixOS: nix.settings.trusted-users = [ "deploy" ]; or connect as root');
      assert.deepEqual(problems(run), [`builder b2 trusted: fail: ${c.detail}`], 'n1 itself still trusts deploy');

      const line = /set `(trusted-users = [^`]+)`/.exec(c.fix)![1]!;
      await root('n2', `sed -i 's/^trusted-users = .*/${line}/' /etc/nix/nix.conf && systemctl restart nix-daemon`);
      const fixed = await doctor('deploy', ['--on', 'n1']);
      assert.equal(fixed.code, 0, fixed.stdout);
      assert.equal(checkOf(fixed, 'builder', 'b2', 'trusted').detail, 'deploy is trusted by nix-daemon (trusted-users = root deploy)');
    } finally {
      await root('n2', `cat > /etc/nix/nix.conf <<'EOF'\n${conf}\nEOF\nsystemctl restart nix-daemon`);
    }
  });
});
