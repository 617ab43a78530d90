// `fleet status --watch` in a real terminal (tmux) against light lab hosts: every node in-sync, a host switched by
// hand shows drifted within a refresh or two, an edited system outdated, q exits 0 and Ctrl+C 130, the terminal given back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { labNixEnv, writeHive } from '../../lab/index.js';
import { startTmux, type TmuxSession } from '../tmux.js';
import { FLEET_BIN } from './run-fleet.js';
import { requireLabCapable, useDeployedLab } from './support.js';

const NODES = ['w1', 'w2', 'w3'];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Generous: a refresh evaluates with Nix and asks every host; the machine is shared.
const DEADLINE_MS = 60_000;

const row = (node: string, state: string) => new RegExp(`^${node} +${state} +`, 'm');

describe('fleet status --watch in tmux on a 3-node lab', { skip: requireLabCapable() }, () => {
  const base = `watch-${randomBytes(4).toString('hex')}`;
  const deployed = useDeployedLab({ before, after }, NODES, base);
  const sessions: TmuxSession[] = [];
  const watch = async () => {
    const tmux = await startTmux({
      command: [process.execPath, '--import', 'tsx', FLEET_BIN, '-f', deployed.fleetFile, 'status', '--watch', '--interval', '2s'],
      cwd: ROOT, env: labNixEnv, width: 160, height: 50,
    });
    sessions.push(tmux);
    return tmux;
  };
  after(async () => {
    for (const s of sessions) await s.close();
  });

  test('every node in-sync; a host switched by hand shows drifted in a later refresh, over the same SSH connections; an edited system shows outdated; q exits 0 and gives the terminal back', async () => {
    const handshakesBefore = await Promise.all(NODES.map((n) => deployed.lab.handshakes(n)));
    const tmux = await watch();
    const first = await tmux.waitForScreen((s) => NODES.every((n) => row(n, 'in-sync').test(s)) && /^3 nodes: 3 in-sync$/m.test(s), DEADLINE_MS);
    assert.match(first, /^fleet status --watch · every 2s · refreshed at \d\d:\d\d:\d\d, (next in \ds|refreshing…)$/m);
    assert.match(first, /^NODE +STATE +RUNNING +GEN +LAST DEPLOY$/m);

    // By hand on w2, as a person would: build another system there, set the profile to it, switch.
    const { lab } = deployed;
    const other = `${lab.dir}/by-hand.nix`;
    await writeHive(other, { w2: { name: `by-hand-${randomBytes(3).toString('hex')}` } });
    const built = await lab.exec('w2', ['nix-build', '--no-out-link', other, '-A', 'w2']);
    assert.equal(built.exitCode, 0, built.stderr);
    const out = built.stdout.trim().split('\n').at(-1)!;
    const switched = await lab.exec('w2', ['sh', '-c', `nix-env -p /nix/var/nix/profiles/system --set ${out} && ${out}/bin/switch-to-configuration switch`]);
    assert.equal(switched.exitCode, 0, switched.stderr);

    const drifted = await tmux.waitForScreen((s) => row('w2', 'drifted').test(s) && /^3 nodes: 2 in-sync, 1 drifted$/m.test(s), DEADLINE_MS);
    assert.match(drifted, row('w1', 'in-sync'));
    assert.match(drifted, row('w3', 'in-sync'));
    assert.match(drifted, /^w2: drifted: .*which no fleet record names: changed by hand or by another tool$/m);
    assert.match(drifted, new RegExp(`^w2 +drifted +${out.slice('/nix/store/'.length, '/nix/store/'.length + 7)}-`, 'm'), 'the by-hand system runs');

    // At least two refreshes so far (in-sync, then drifted), one SSH handshake per host: the masters were reused.
    assert.deepEqual(await Promise.all(NODES.map((n) => lab.handshakes(n))), handshakesBefore.map((h) => h + 1));

    // The fleet file was read once, but Nix evaluates each refresh: a new desired system for w3 shows.
    await writeHive(deployed.hive, { w1: { name: base }, w2: { name: base }, w3: { name: base, nonce: 'v2' } }, lab.witness);
    const outdated = await tmux.waitForScreen((s) => row('w3', 'outdated').test(s) && /^3 nodes: 1 in-sync, 1 outdated, 1 drifted$/m.test(s), DEADLINE_MS);
    assert.match(outdated, /^w3: outdated: runs \S+ from an earlier fleet deploy \(run [^)]*\), not the desired/m); // wraps at 160 columns

    await tmux.sendKeys('q');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 0);
    assert.deepEqual(await tmux.modesAfterExit(), { canonical: true, echo: true, cursorVisible: true });
    assert.match(await tmux.capture(), /^quitting…$/m, 'the last frame stays on the screen');
  });

  test('a host unreachable in one refresh is asked afresh in the next: it answers again once its sshd does', async () => {
    const { lab } = deployed;
    const host = lab.hosts.find((h) => h.name === 'w3')!;
    // SIGSTOP: the connection is accepted and never answered; the watch's connect times out.
    process.kill(host.sshdPid, 'SIGSTOP');
    let resumed = false;
    try {
      const tmux = await watch();
      await tmux.waitForScreen(row('w3', 'unreachable'), DEADLINE_MS);
      process.kill(host.sshdPid, 'SIGCONT');
      resumed = true;
      // Whatever the earlier tests left it running, it is asked again and answers.
      await tmux.waitForScreen(row('w3', '(in-sync|outdated|drifted|pending-reboot)'), DEADLINE_MS);
      await tmux.sendKeys('q');
      assert.equal(await tmux.waitForExit(DEADLINE_MS), 0);
    } finally {
      if (!resumed) process.kill(host.sshdPid, 'SIGCONT');
    }
  });

  test('Ctrl+C inside the watch: the Ctrl+C notice in the UI, exit 130, the terminal given back', async () => {
    const tmux = await watch();
    await tmux.waitForScreen(/^3 nodes: /m, DEADLINE_MS);
    await tmux.sendKeys('C-c');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 130);
    assert.deepEqual(await tmux.modesAfterExit(), { canonical: true, echo: true, cursorVisible: true });
    // A watch activates nothing: the notice does not speak of activations.
    assert.match(await tmux.capture(), /^fleet: Ctrl\+C: starting nothing new \(again to quit now\)$/m);
  });
});
