// Secrets (`keys:`) on systemd lab hosts, reached as root, as `deploy` (sudo) and as `deploy-pw` (sudo with a
// password): a distinctive secret is planted in a file, a command and an environment variable, and then looked for
// everywhere it must not be (both Nix stores, every argv on the machine during the upload, events, plain and listr2
// output, error messages). Every other assertion reads the hosts: content, owner, group, mode, inode, mtime.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { readSystemState, type StandInSpec } from '../../lab/index.js';
import { quoteArgv } from '../../src/transport/quote.js';
import { startArgvSampler } from './argv-sampler.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { FLEET_BIN, NIX_ENV, nodeDoneText, outcomesOf, runFleet, type FleetRun } from './run-fleet.js';

const NODES = ['k1', 'k2', 'k3'];
const USERS: Record<string, string> = { k1: 'root', k2: 'deploy', k3: 'deploy-pw' };

describe('keys on systemd hosts (root, sudo, sudo with a password)', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const nonce = randomBytes(4).toString('hex');
  const secret = `FLEETSECRET${randomBytes(12).toString('hex')}`;
  let hive: string;
  let passwordFile: string;
  let generation = 0;
  let baseHandshakes: number[] = []; // per host: SSH handshakes of an apply that activates, without keys
  const env = () => ({ FLEET_TEST_TOKEN: `${secret}-env`, FLEET_SUDO_PASSWORD_FILE: passwordFile });
  const exec = (host: string, argv: string[], input?: string) => ctx.lab.exec(host, argv, input !== undefined ? { input } : {});
  const sh = async (host: string, script: string) => (await exec(host, ['sh', '-c', script])).stdout.trim();
  /** owner group mode inode mtime of a file on a host; '' when it is not there. */
  const stat = (host: string, path: string) => sh(host, `stat -c '%U %G %a %i %Y.%y' '${path}' 2>/dev/null || true`);
  const read = (host: string, path: string) => sh(host, `cat '${path}' 2>/dev/null || true`);
  /** A fresh system for each node (so an apply activates), or the given specs. */
  const configure = (specs: Record<string, StandInSpec> = {}) => {
    generation += 1;
    return configureHive(ctx.lab, hive, Object.fromEntries(NODES.map((n) => [n, specs[n] ?? { name: `keys-${generation}-${nonce}` }])));
  };
  /** The fleet file: every node's user, and keys in defaults (every node) plus per-node extras. */
  const fleetFile = (keys: Record<string, unknown>, nodeExtra: Record<string, Record<string, unknown>> = {}, extra: Record<string, unknown> = {}) =>
    ctx.lab.writeFleet({
      nixFile: hive, path: `${ctx.lab.dir}/fleet-keys.yaml`, defaults: { keys, confirmTimeout: '10s' }, extra,
      nodes: Object.fromEntries(NODES.map((n) => [n, { user: USERS[n], ...nodeExtra[n] }])),
    });
  const apply = async (args: string[] = [], extraEnv: Record<string, string> = {}) => runFleet(['-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'apply', '--json', ...args], { ...env(), ...extraEnv });
  const noSecretIn = (what: string, text: string) => assert.equal(text.includes(secret), false, `${what} holds the secret`);
  const noSecretInRun = (run: FleetRun) => {
    noSecretIn('stdout (events)', run.stdout);
    noSecretIn('stderr', run.stderr);
  };
  /** `grep -r` of the secret over a store (the pattern on stdin: never in an argv); true when it found it. */
  const storeHolds = async (host: string | undefined) => {
    const argv = ['grep', '-rlF', '-f', '-', '/nix/store'];
    const r = host === undefined ? await execa(argv[0]!, argv.slice(1), { input: secret, reject: false }) : await exec(host, argv, secret);
    assert.ok(r.exitCode === 0 || r.exitCode === 1, `grep failed: ${String(r.stderr)}`);
    return r.exitCode === 0;
  };
  const keysEvents = (run: FleetRun) => run.events.filter((e) => e.type === 'keys').map((e) => e.type === 'keys' ? { node: e.node, changed: e.changed, unchanged: e.unchanged, removed: e.removed, uploadAt: e.uploadAt } : undefined);
  const BIG = 6 * 1024 * 1024; // makes each upload last long enough for the sampler to see it

  const KEYS = () => ({
    'tls.key': { file: './tls.key', user: 'keysvc', group: 'keygrp', permissions: '0440' },
    wg: { command: ['sh', './wg.sh'], group: 'keygrp', permissions: 640 }, // as YAML reads an unquoted 0640
    token: { env: 'FLEET_TEST_TOKEN', destDir: '/etc/fleet-secrets' },
    big: { file: './big.key' },
  });

  before(async () => {
    hive = `${ctx.lab.dir}/hive.nix`;
    passwordFile = `${ctx.lab.dir}/sudo-password`;
    writeFileSync(passwordFile, `${ctx.lab.sudoPassword}\n`, { mode: 0o600 });
    writeFileSync(`${ctx.lab.dir}/tls.key`, `${secret}-tls-1\n`);
    writeFileSync(`${ctx.lab.dir}/wg.sh`, `printf '%s\\n' '${secret}-wg'\n`);
    writeFileSync(`${ctx.lab.dir}/big.key`, Buffer.concat([Buffer.from(`${secret}-big\n`), Buffer.alloc(BIG, 'x')]));
    for (const host of NODES) {
      const r = await exec(host, ['sh', '-c', 'groupadd keygrp && useradd -M -g keygrp keysvc']);
      assert.equal(r.exitCode, 0, String(r.stderr));
    }
    await configure();
    await fleetFile({});
    const before = await Promise.all(NODES.map((h) => ctx.lab.handshakes(h)));
    const base = await apply();
    assert.equal(base.code, 0, base.stderr);
    baseHandshakes = (await Promise.all(NODES.map((h) => ctx.lab.handshakes(h)))).map((n, i) => n - before[i]!);
  });

  test('first upload: content, owner, group and mode on every host; the secret in no store, argv, event or output', async (t) => {
    await fleetFile(KEYS());
    await configure();
    // The sampler catches a short-lived argv with the secret (else an empty report would prove nothing).
    const control = await startArgvSampler(secret, 'fleet-keys');
    await execa('sh', ['-c', 'sleep 0.2', secret]);
    assert.equal((await control.stop()).leaks.length, 1, 'the sampler sees a leak');
    const sampler = await startArgvSampler(secret, 'fleet-keys');
    const run = await apply();
    const report = await sampler.stop();
    assert.equal(run.code, 0, `${run.stderr}\n${nodeDoneText(run, 'k3')}`);
    assert.deepEqual(outcomesOf(run), { k1: 'activated', k2: 'activated', k3: 'activated' });
    t.diagnostic(`argv sampler: ${report.scans} scans of the process table, ${report.here} fleet-keys argvs on the deployer, ${report.hosts} on the hosts`);
    assert.deepEqual(report.leaks, [], 'no argv held the secret');
    assert.ok(report.here > 0 && report.hosts > 0, `the sampler saw the uploads (${report.here} argvs here, ${report.hosts} on the hosts, ${report.scans} scans)`);
    noSecretInRun(run);
    for (const host of NODES) {
      assert.equal(await read(host, '/run/keys/tls.key'), `${secret}-tls-1`, host);
      assert.equal(await read(host, '/run/keys/wg'), `${secret}-wg`, host);
      assert.equal(await read(host, '/etc/fleet-secrets/token'), `${secret}-env`, host);
      assert.equal(await sh(host, 'wc -c < /run/keys/big'), String(BIG + `${secret}-big\n`.length), host);
      assert.match(await stat(host, '/run/keys/tls.key'), /^keysvc keygrp 440 /, host);
      assert.match(await stat(host, '/run/keys/wg'), /^root keygrp 640 /, host);
      assert.match(await stat(host, '/etc/fleet-secrets/token'), /^root root 600 /, host);
      assert.equal(await sh(host, 'stat -c %a /etc/fleet-secrets'), '711', 'a directory fleet made: only root lists it');
      assert.equal(await sh(host, 'ls -A /run/keys | grep -c fleet-key || true'), '0', 'no temporary file left');
      assert.equal(await storeHolds(host), false, `${host}'s /nix/store holds the secret`);
      noSecretIn(`${host}'s manifest`, await sh(host, 'cat /var/lib/fleet/keys/manifest'));
    }
    assert.equal(await storeHolds(undefined), false, "the deployer's /nix/store holds the secret");
    assert.deepEqual(keysEvents(run).sort((a, b) => a!.node.localeCompare(b!.node)), NODES.map((node) => ({ node, changed: ['big', 'tls.key', 'token', 'wg'], unchanged: 0, removed: [], uploadAt: 'pre-activation' })));
    // sudo ran the helper for the deploy users (their journal), and deploy-pw's password went on stdin (no prompt in the log).
    assert.match(await sh('k3', "journalctl -o cat --no-pager -t sudo | grep -c 'deploy-pw : .*COMMAND=/usr/bin/sh -c' || true"), /^[1-9]/);
  });

  test('a second apply with the keys unchanged rewrites nothing (inode, mtime); the plain output holds no secret; keys ride the existing connection', async () => {
    const paths = ['/run/keys/tls.key', '/run/keys/wg', '/run/keys/big', '/etc/fleet-secrets/token'];
    const before = await Promise.all(NODES.flatMap((h) => paths.map((p) => stat(h, p))));
    await configure();
    const handshakes = await Promise.all(NODES.map((h) => ctx.lab.handshakes(h)));
    const plain = await runFleet(['-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'apply'], env());
    const added = (await Promise.all(NODES.map((h) => ctx.lab.handshakes(h)))).map((n, i) => n - handshakes[i]!);
    assert.deepEqual(added, baseHandshakes, 'as many SSH handshakes as an apply without keys (the master, and magic rollback\'s fresh one)');
    assert.equal(plain.code, 0, plain.stderr);
    noSecretIn('plain output', plain.stdout);
    noSecretIn('stderr', plain.stderr);
    assert.match(plain.stdout, /k2 +keys +0 changed, 4 unchanged/);
    assert.deepEqual(await Promise.all(NODES.flatMap((h) => paths.map((p) => stat(h, p)))), before, 'same inode and mtime');
    const json = await apply();
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(keysEvents(json).map((e) => [e!.changed, e!.unchanged]), NODES.map(() => [[], 4]));
  });

  test('one changed key of three: fleet plan says so, apply swaps it alone (listr2 output checked too); the others keep inode and mtime', async () => {
    writeFileSync(`${ctx.lab.dir}/tls.key`, `${secret}-tls-2\n`);
    const plan = await runFleet(['-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'plan'], env());
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /keys: 1 changed, 3 unchanged \(tls\.key\)/);
    noSecretIn('plan output', plan.stdout);
    const planJson = await runFleet(['-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'plan', '--json', '--exit-code'], env());
    assert.equal(planJson.code, 1, 'plan --exit-code: a rotated key is a change to deploy');
    assert.deepEqual(keysEvents(planJson).map((e) => [e!.node, e!.changed, e!.unchanged, e!.uploadAt]), NODES.map((n) => [n, ['tls.key'], 3, undefined]), planJson.stdout.slice(-3000));
    const others = ['/run/keys/wg', '/run/keys/big', '/etc/fleet-secrets/token'];
    const before = await Promise.all(NODES.flatMap((h) => [...others, '/run/keys/tls.key'].map((p) => stat(h, p))));
    // listr2 on a terminal: `script` gives fleet a pty and keeps everything it drew.
    const command = quoteArgv([process.execPath, '--import', 'tsx', FLEET_BIN, '-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'apply']);
    const tty = await execa('script', ['-qefc', command, '/dev/null'], { env: { ...NIX_ENV, ...env(), CI: '', TERM: 'xterm-256color' }, reject: false, stdin: 'ignore' });
    assert.equal(tty.exitCode, 0, String(tty.stdout).slice(-3000));
    noSecretIn('listr2 output', String(tty.stdout));
    assert.match(String(tty.stdout), /k1.*unchanged/);
    const after = await Promise.all(NODES.flatMap((h) => [...others, '/run/keys/tls.key'].map((p) => stat(h, p))));
    for (const [i, host] of NODES.entries()) {
      const [b, a] = [before.slice(i * 4, i * 4 + 4), after.slice(i * 4, i * 4 + 4)];
      assert.deepEqual(a.slice(0, 3), b.slice(0, 3), `${host}: wg, big and token untouched`);
      assert.notEqual(a[3]!.split(' ')[3], b[3]!.split(' ')[3], `${host}: tls.key is a new file`);
      assert.match(a[3]!, /^keysvc keygrp 440 /);
      assert.equal(await read(host, '/run/keys/tls.key'), `${secret}-tls-2`);
    }
  });

  test('a reboot empties /run/keys: status says keys-missing, fleet keys puts them back without deploying, status says in-sync', async () => {
    await ctx.lab.reboot('k1');
    assert.equal(await read('k1', '/run/keys/wg'), '', '/run is a tmpfs');
    const status = await runFleet(['-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'status', '--json'], env());
    const states = Object.fromEntries(status.events.filter((e) => e.type === 'status').map((e) => [e.type === 'status' ? e.node : '', e.type === 'status' ? { state: e.state, keys: e.keys } : undefined]));
    assert.deepEqual(states.k1, { state: 'keys-missing', keys: { current: 1, missing: ['big', 'tls.key', 'wg'], outdated: [], stale: [] } });
    assert.deepEqual(states.k2, { state: 'in-sync', keys: { current: 4, missing: [], outdated: [], stale: [] } });
    noSecretIn('status', status.stdout);
    const system = await readSystemState(ctx.lab, 'k1');
    const keys = await runFleet(['-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'keys', '--json'], env());
    assert.equal(keys.code, 0, keys.stderr);
    assert.deepEqual(outcomesOf(keys), { k1: 'pushed', k2: 'unchanged', k3: 'unchanged' });
    noSecretInRun(keys);
    assert.equal(await read('k1', '/run/keys/wg'), `${secret}-wg`);
    assert.match(await stat('k1', '/run/keys/tls.key'), /^keysvc keygrp 440 /);
    assert.deepEqual(await readSystemState(ctx.lab, 'k1'), system, 'nothing deployed');
    const again = await runFleet(['-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'status', '--json', '--exit-code'], env());
    assert.equal(again.code, 0, again.stdout);
  });

  test('a key removed from the fleet file disappears from every host; a file fleet did not write stays', async () => {
    const { wg: _wg, ...rest } = KEYS();
    await fleetFile(rest);
    await exec('k2', ['sh', '-c', 'echo mine > /run/keys/not-fleets']);
    const run = await apply();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(keysEvents(run).map((e) => [e!.node, e!.changed, e!.removed]).sort(), NODES.map((n) => [n, [], ['/run/keys/wg']]));
    for (const host of NODES) assert.equal(await stat(host, '/run/keys/wg'), '', host);
    assert.equal(await read('k2', '/run/keys/not-fleets'), 'mine');
    noSecretInRun(run);
  });

  test('a user the node does not have fails that node before activation, naming the key and the user; the others deploy', async () => {
    const { wg: _wg, ...rest } = KEYS();
    await fleetFile(rest, { k2: { keys: { 'tls.key': { file: './tls.key', user: 'nosuchuser', group: 'keygrp' } } } });
    writeFileSync(`${ctx.lab.dir}/tls.key`, `${secret}-tls-3\n`);
    const before = await readSystemState(ctx.lab, 'k2');
    const outs = await configure();
    const run = await apply(['--keep-going']);
    assert.equal(run.code, 1);
    assert.deepEqual(outcomesOf(run), { k1: 'activated', k2: 'failed', k3: 'activated' });
    assert.match(nodeDoneText(run, 'k2'), /keys: no key was changed: key `tls\.key`: user `nosuchuser` does not exist on k2/);
    assert.deepEqual(await readSystemState(ctx.lab, 'k2'), before, 'not activated');
    assert.equal(await read('k2', '/run/keys/tls.key'), `${secret}-tls-2`, 'the old key stays');
    assert.equal((await readSystemState(ctx.lab, 'k1')).current, outs.k1);
    assert.equal(await read('k1', '/run/keys/tls.key'), `${secret}-tls-3`);
    noSecretInRun(run);
    const plain = await runFleet(['-f', `${ctx.lab.dir}/fleet-keys.yaml`, 'apply', '--on', 'k2'], env());
    assert.equal(plain.code, 1);
    assert.match(plain.stdout, /user `nosuchuser` does not exist on k2/);
    noSecretIn('plain output of a failure', `${plain.stdout}${plain.stderr}`);
  });

  test('a post-activation key that cannot be written rolls its node back (magic rollback on); keys go up in their wave only', async () => {
    const { wg: _wg, ...rest } = KEYS();
    await fleetFile({ ...rest, late: { env: 'FLEET_TEST_TOKEN', uploadAt: 'post-activation', group: 'nosuchgroup' } }, {}, { rollout: { waves: [1], maxFailures: 0 } });
    writeFileSync(`${ctx.lab.dir}/tls.key`, `${secret}-tls-4\n`);
    const before = await Promise.all(NODES.map((h) => readSystemState(ctx.lab, h)));
    await configure();
    const run = await apply();
    assert.equal(run.code, 1);
    assert.deepEqual(outcomesOf(run), { k1: 'rolled-back', k2: 'held', k3: 'held' });
    assert.match(nodeDoneText(run, 'k1'), /key `late`: group `nosuchgroup` does not exist on k1/);
    assert.deepEqual(await readSystemState(ctx.lab, 'k1'), before[0], 'k1 is back on what it ran');
    assert.equal(await read('k1', '/run/keys/tls.key'), `${secret}-tls-4`, 'its pre-activation keys went up (keys are not rolled back)');
    assert.equal(await stat('k1', '/run/keys/late'), '');
    for (const [i, host] of ['k2', 'k3'].entries()) {
      assert.deepEqual(await readSystemState(ctx.lab, host), before[i + 1], `${host} untouched`);
      assert.notEqual(await read(host, '/run/keys/tls.key'), `${secret}-tls-4`, `${host}: its wave never started, nor its keys`);
    }
    noSecretInRun(run);
  });

  test('a key command that fails ends the run before any target is touched; its stderr is not shown', async () => {
    writeFileSync(`${ctx.lab.dir}/fail.sh`, `echo "${secret} leaked by a failing tool" >&2\nexit 4\n`);
    await fleetFile({ ...KEYS(), broken: { command: ['sh', './fail.sh'] } });
    const handshakes = await Promise.all(NODES.map((h) => ctx.lab.handshakes(h)));
    const run = await apply();
    assert.equal(run.code, 2);
    assert.deepEqual(run.events, [], 'no event: nothing started');
    assert.equal(run.stderr.trim(), 'fleet: key `broken` of node `k1`: command `sh ./fail.sh` failed (exit 4); its stderr (1 line) is not shown, as it may hold the secret: run it yourself to see it');
    noSecretIn('stderr', run.stderr);
    assert.deepEqual(await Promise.all(NODES.map((h) => ctx.lab.handshakes(h))), handshakes, 'no SSH connection to any host');
  });
});

