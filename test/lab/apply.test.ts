// `fleet apply` against the lab: real sshd, real Nix stores; every assertion reads the hosts themselves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { evalOutPaths, readSystemState, readWitness, startLab, writeHive, type Lab, type StandInSpec } from '../../lab/index.js';
import { requireLabCapable } from './support.js';
import { interruptDuringActivation, NIX_ENV, outcomesOf, parseEvents, planOf, runFleet } from './run-fleet.js';

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
const readState = readSystemState;
const witnessLines = readWitness;
const outPathOf = async (hive: string, node: string): Promise<string> => (await evalOutPaths(hive))[node]!;
/** sshd (LogLevel VERBOSE) logs one "Starting session" per command, over the master or a connection of its own. */
const sessionsOn = async (lab: Lab, node: string) => (await readFile(`${lab.hosts.find((h) => h.name === node)!.dir}/sshd.log`, 'utf8')).split('\n').filter((l) => l.includes('Starting session: command')).length;

async function hasLocally(path: string): Promise<boolean> {
  return (await execa('nix-store', ['--check-validity', path], { reject: false, env: NIX_ENV })).exitCode === 0;
}

async function inStoreOf(lab: Lab, host: string, path: string): Promise<boolean> {
  return (await lab.exec(host, ['nix-store', '--check-validity', path])).exitCode === 0;
}

describe('fleet apply on a 6-node lab', { skip: requireLabCapable() }, () => {
  let lab: Lab;
  let fleetFile: string;
  let hive: string;
  const nonce = randomBytes(4).toString('hex');

  /** Write the hive for this step; identical specs give identical derivations. */
  const configure = async (specs: Record<string, StandInSpec>) => writeHive(hive, specs, lab.witness);

  before(async () => {
    lab = await startLab({ names: NODES });
    hive = `${lab.dir}/hive.nix`;
    fleetFile = await lab.writeFleet({
      nixFile: hive,
      tags: { n1: ['web'], n2: ['web'], n3: ['web'], n4: ['db'], n5: ['db'], n6: ['solo'] },
    });
  });
  after(async () => lab?.down());

  test('3 identical + 2 identical + 1 unique: exactly 3 builds, all 6 activated, 1 + 1 handshakes and 4 + 1 sessions per target (the master, then the magic-rollback confirmation)', async (t) => {
    const a = { name: `a-${nonce}` }, b = { name: `b-${nonce}` }, c = { name: `c-${nonce}` };
    await configure({ n1: a, n2: a, n3: a, n4: b, n5: b, n6: c });
    const witnessBefore = (await witnessLines(lab)).length;
    // plan first: read-only, and it already knows the whole job DAG.
    const planned = await runFleet(['-f', fleetFile, 'plan', '--json']);
    assert.equal(planned.code, 0, planned.stderr);
    const plan = planOf(planned);
    assert.deepEqual(plan.builds.map((b) => [b.id, b.drvPaths.length]), [['local', 3]]);
    assert.ok(plan.nodes.length === 6 && plan.nodes.every((n) => n.activate && n.copy.kind === 'from-local'));
    for (const node of NODES) assert.deepEqual(await readState(lab, node), { current: undefined, link: undefined, profile: `/nix/var/nix/profiles/system` }, `${node}: plan touched nothing`);
    assert.equal((await witnessLines(lab)).length, witnessBefore, 'plan built nothing');
    const handshakesBefore = await Promise.all(NODES.map((n) => lab.handshakes(n)));
    const sessionsBefore = await Promise.all(NODES.map((n) => sessionsOn(lab, n)));

    const started = performance.now();
    const run = await runFleet(['-f', fleetFile, 'apply', '--json']);
    t.diagnostic(`6-node apply: ${Math.round(performance.now() - started)} ms wall (whole CLI process, informational)`);
    assert.equal(run.code, 0, run.stderr);
    const builds = (await witnessLines(lab)).slice(witnessBefore);
    assert.deepEqual(builds.sort(), [`${hostname()} ${a.name}`, `${hostname()} ${b.name}`, `${hostname()} ${c.name}`].sort());
    for (const [i, node] of NODES.entries()) {
      const out = await outPathOf(hive, node);
      const state = await readState(lab, node);
      assert.equal(state.current, out, `${node}: /run/current-system`);
      assert.equal(state.profile, out, `${node}: profile`);
      assert.equal(state.link, 'system-1-link', `${node}: first generation`);
      // The master carries everything but the confirmation, which must prove a brand-new connection works.
      assert.equal(await lab.handshakes(node), handshakesBefore[i]! + 2, `${node}: ssh handshakes in one apply`);
      // Over the master: the probe (taking the lock), the copy, the activation (lock check, switch, report), the
      // last call (record, lock released); on its own connection: the confirmation (verdict and boot step).
      assert.equal(await sessionsOn(lab, node), sessionsBefore[i]! + 4 + 1, `${node}: ssh sessions in one apply`);
      const activations = (await lab.exec(node, ['cat', '/nix/var/fleet-lab/activation.log'])).stdout.trim().split('\n');
      assert.deepEqual(activations, [`test ${out}`, `boot ${out}`], `${node}: live once, then the boot default after the confirmation`);
    }
    assert.deepEqual(Object.values(outcomesOf(run)), NODES.map(() => 'activated'));
  });

  test('a second apply of the same configuration: all unchanged, no copy, no activation', async () => {
    const logs = await Promise.all(NODES.map((n) => lab.exec(n, ['cat', '/nix/var/fleet-lab/activation.log'])));
    const handshakes = await Promise.all(NODES.map((n) => lab.handshakes(n)));
    const sessions = await Promise.all(NODES.map((n) => sessionsOn(lab, n)));
    const run = await runFleet(['-f', fleetFile, 'apply', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(Object.values(outcomesOf(run)), NODES.map(() => 'unchanged'));
    assert.ok(!run.events.some((e) => e.type === 'node-phase' && ['copy', 'activate', 'build'].includes(e.phase)), 'no build, copy or activation phase');
    for (const [i, node] of NODES.entries()) {
      assert.equal((await lab.exec(node, ['cat', '/nix/var/fleet-lab/activation.log'])).stdout, logs[i]!.stdout, `${node}: activation log unchanged`);
      assert.equal(await lab.handshakes(node), handshakes[i]! + 1, `${node}: one handshake for the probe`);
      // One round trip: the probe only reads the lock of a node already current, so nothing is released after.
      assert.equal(await sessionsOn(lab, node), sessions[i]! + 1, `${node}: one session, the probe`);
      assert.equal((await lab.exec(node, ['sh', '-c', 'ls /run/fleet/locks 2>/dev/null'])).stdout.trim(), '', `${node}: no lock left behind`);
      assert.equal((await readState(lab, node)).link, 'system-1-link');
    }
  });

  test('a configuration that fails half-way is rolled back to the exact previous generation; the others switch', async () => {
    const previous = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await readState(lab, n)] as const)));
    const ok = { name: `d-${nonce}` };
    await configure({ n1: ok, n2: ok, n3: { name: `bad-${nonce}`, variant: 'fail-halfway' }, n4: ok, n5: ok, n6: ok });
    const run = await runFleet(['-f', fleetFile, 'apply', '--json', '--keep-going']);
    assert.equal(run.code, 1, run.stderr);
    const outcomes = outcomesOf(run);
    assert.equal(outcomes.n3, 'rolled-back');
    assert.deepEqual(NODES.filter((n) => n !== 'n3').map((n) => outcomes[n]), NODES.slice(1).map(() => 'activated'));
    assert.deepEqual(await readState(lab, 'n3'), previous.n3, 'n3 runs and boots exactly what it did before');
    const newOut = await outPathOf(hive, 'n1');
    for (const node of NODES.filter((n) => n !== 'n3')) {
      const state = await readState(lab, node);
      assert.equal(state.current, newOut);
      assert.equal(state.link, 'system-2-link');
    }
    const done = run.events.find((e) => e.type === 'node-done' && e.node === 'n3');
    assert.ok(done && done.type === 'node-done' && /rolled back to system-1-link/.test(done.error ?? ''), JSON.stringify(done));
  });

  test('a lab host as build host: built there only, copied directly to targets, nothing copied to itself', async () => {
    const builderHost = lab.hosts.find((h) => h.name === 'n1')!;
    const hostKey = (await readFile(`${builderHost.dir}/ssh_host_ed25519_key.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    const file = await lab.writeFleet({
      nixFile: hive,
      path: `${lab.dir}/fleet-builder.yaml`,
      defaults: { buildHost: 'lab1' },
      nodes: { n1: { host: '127.0.0.1', port: builderHost.port, sshOptions: ['-i', lab.key, '-o', `UserKnownHostsFile=${lab.knownHosts}`] } },
      extra: {
        builders: {
          lab1: { host: 'root@127.0.0.1', port: builderHost.port, systems: ['x86_64-linux'], sshOptions: ['-i', lab.key, '-o', 'IdentitiesOnly=yes'], publicHostKey: Buffer.from(hostKey).toString('base64') },
        },
      },
    });
    const e = { name: `e-${nonce}` };
    await configure(Object.fromEntries(NODES.map((n) => [n, e])));
    const witnessBefore = (await witnessLines(lab)).length;
    const run = await runFleet(['-f', file, 'apply', '--json', '--on', 'n1,n2,n4']);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.deepEqual((await witnessLines(lab)).slice(witnessBefore), [`n1 ${e.name}`], 'built once, on n1');
    const out = await outPathOf(hive, 'n1');
    assert.equal(await hasLocally(out), false, 'the deployer never had the output');
    for (const node of ['n1', 'n2', 'n4']) assert.equal((await readState(lab, node)).current, out, node);
    const copies = run.events.filter((ev) => ev.type === 'node-phase' && ev.phase === 'copy').map((ev) => (ev as { node: string }).node);
    assert.deepEqual(copies.sort(), ['n2', 'n4'], 'n1 is its own build host: no copy');
  });

  test('buildHost: target builds on each target and never on the deployer', async () => {
    const f = { name: `f-${nonce}` };
    await configure(Object.fromEntries(NODES.map((n) => [n, f])));
    const file = await lab.writeFleet({ nixFile: hive, path: `${lab.dir}/fleet-target.yaml`, defaults: { buildHost: 'target' } });
    const witnessBefore = (await witnessLines(lab)).length;
    const run = await runFleet(['-f', file, 'apply', '--json', '--on', 'n5,n6']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await witnessLines(lab)).slice(witnessBefore).sort(), [`n5 ${f.name}`, `n6 ${f.name}`]);
    const out = await outPathOf(hive, 'n5');
    assert.equal(await hasLocally(out), false);
    assert.equal(await inStoreOf(lab, 'n4', out), false, 'an unselected node got nothing');
    for (const node of ['n5', 'n6']) assert.equal((await readState(lab, node)).current, out);
  });

  test('an unreachable node fails fast with a clear message; with --keep-going the others are deployed', async () => {
    const g = { name: `g-${nonce}` };
    await configure(Object.fromEntries(NODES.map((n) => [n, g])));
    const file = await lab.writeFleet({ nixFile: hive, path: `${lab.dir}/fleet-unreachable.yaml`, nodes: { n6: { host: '127.0.0.1', port: 9, connectTimeout: '3s' } } });
    const failFast = await runFleet(['-f', file, 'apply', '--json', '--on', 'n5,n6']);
    assert.equal(failFast.code, 1);
    assert.match(JSON.stringify(summaryNodes(failFast).n6), /cannot connect to n6 \(root@127\.0\.0\.1 port 9\).*(refused|timed out)/);
    assert.equal(outcomesOf(failFast).n5, 'skipped', 'fail-fast (the default) starts nothing after a failure');
    assert.match(JSON.stringify(summaryNodes(failFast).n5), /not started: an earlier node failed \(use --keep-going to continue past failures\)/);
    const keepGoing = await runFleet(['-f', file, 'apply', '--json', '--keep-going', '--on', 'n5,n6']);
    assert.equal(keepGoing.code, 1);
    assert.deepEqual(outcomesOf(keepGoing), { n5: 'activated', n6: 'failed' });
    assert.equal((await readState(lab, 'n5')).current, await outPathOf(hive, 'n5'));
  });

  test('SIGINT during activation: every node on its old or its new generation, no ssh left, exit 130', async () => {
    const previous = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await readState(lab, n)] as const)));
    const h = { name: `h-${nonce}`, variant: 'slow' as const };
    await configure(Object.fromEntries(NODES.map((n) => [n, h])));
    const { result: r, sent } = await interruptDuringActivation(['-f', fleetFile, 'apply', '--json', '--parallel', '2']);
    assert.ok(sent, `activation never started:\n${String(r.stdout)}\n${String(r.stderr)}`);
    assert.equal(r.exitCode, 130, String(r.stderr));
    const out = await outPathOf(hive, 'n1');
    const summary = parseEvents(String(r.stdout)).find((e) => e.type === 'summary') as { nodes: Record<string, { outcome: string; error?: string }> };
    const outcomes = Object.fromEntries(Object.entries(summary.nodes).map(([n, v]) => [n, v.outcome]));
    let activated = 0;
    for (const node of NODES) {
      const state = await readState(lab, node);
      if (state.current === out) {
        activated++;
        assert.equal(state.profile, out, `${node}: new running system and new profile`);
        assert.equal(outcomes[node], 'activated');
      } else {
        // current and profile link: a copy may create the profiles dir on a fresh host, changing readlink -f
        assert.deepEqual([state.current, state.link], [previous[node]!.current, previous[node]!.link], `${node}: untouched`);
        assert.equal(outcomes[node], 'skipped');
        assert.equal(summary.nodes[node]!.error, 'interrupted before it started');
      }
    }
    assert.ok(activated >= 1 && activated < NODES.length, `some but not all nodes activated (${activated})`);
    const ssh = await execa('pgrep', ['-f', `^ssh .*${lab.sshConfig}`], { reject: false });
    assert.equal(ssh.stdout.trim(), '', 'no ssh process of this run is left');
  });
});

function summaryNodes(run: Awaited<ReturnType<typeof runFleet>>): Record<string, unknown> {
  const summary = run.events.find((e) => e.type === 'summary') as { nodes: Record<string, unknown> } | undefined;
  if (!summary) throw new Error(`no summary: ${run.stderr}`);
  return summary.nodes;
}
