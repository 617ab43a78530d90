// Activation on systemd hosts under stress: a sudo that asks for a password, and an SSH connection that
// drops while the switch runs. Every assertion reads the hosts themselves (links, journal).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { readSystemState, type StandInSpec } from '../../lab/index.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { execa } from 'execa';
import { quoteArgv } from '../../src/transport/quote.js';
import { FLEET_BIN, NIX_ENV, outcomesOf, parseEvents, runFleet, spawnFleet } from './run-fleet.js';

const NODES = ['p1', 'p2'];

/** Every process's command line on this machine right now. */
function processArgs(): string[] {
  const args: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      args.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch { /* gone */ }
  }
  return args;
}

describe('activation on systemd hosts: sudo password, dropped connections', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const nonce = randomBytes(4).toString('hex');
  let hive: string;
  const configure = (specs: Record<string, StandInSpec>) => configureHive(ctx.lab, hive, specs);

  before(async () => {
    hive = `${ctx.lab.dir}/hive.nix`;
    await configure({ p1: { name: `base-${nonce}` }, p2: { name: `base-${nonce}` } });
    const base = await runFleet(['-f', await ctx.lab.writeFleet({ nixFile: hive }), 'apply', '--json']);
    assert.equal(base.code, 0, base.stderr);
  });

  test('deploy-pw: the sudo password given once in a file; it never shows in argv, output, events or journals', async () => {
    const password = ctx.lab.sudoPassword;
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-pw.yaml`, defaults: { user: ctx.lab.users.deployPw } });
    const outs = await configure({ p1: { name: `pw-${nonce}` }, p2: { name: `base-${nonce}` } });
    const before = await readSystemState(ctx.lab, 'p1');

    const without = await runFleet(['-f', file, 'apply', '--on', 'p1', '--json']);
    assert.equal(without.code, 1, without.stderr);
    assert.deepEqual(outcomesOf(without), { p1: 'failed' });
    assert.match(JSON.stringify(parseEvents(without.stdout)), /password is required|a terminal is required/);
    assert.deepEqual(await readSystemState(ctx.lab, 'p1'), before, 'no password: nothing changed');

    const pwFile = `${ctx.lab.dir}/sudo-password`;
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    const child = spawnFleet(['-f', file, 'apply', '--on', 'p1', '--json'], { FLEET_SUDO_PASSWORD_FILE: pwFile });
    const seen: string[] = [];
    const sampler = setInterval(() => seen.push(...processArgs().filter((a) => a.includes(password))), 20);
    const r = await child;
    clearInterval(sampler);
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.deepEqual(outcomesOf({ code: 0, stdout: String(r.stdout), stderr: '', events: parseEvents(String(r.stdout)) }), { p1: 'activated' });
    assert.equal((await readSystemState(ctx.lab, 'p1')).current, outs.p1);
    assert.deepEqual(seen, [], 'not in any process list on the deployer');
    assert.ok(!String(r.stdout).includes(password) && !String(r.stderr).includes(password), 'not in output or events');
    const targetJournal = (await ctx.lab.exec('p1', ['journalctl', '-o', 'cat', '--no-pager'])).stdout;
    assert.match(targetJournal, new RegExp(`${ctx.lab.users.deployPw} : .*USER=root`), 'sudo ran');
    assert.ok(!targetJournal.includes(password), 'not in the target\'s journal (sudo logs every command line)');
    assert.ok(!(await readFile(pwFile, 'utf8')).includes('\n\n'));
  });

  test('--ask-sudo-password on a real terminal: asked once, not echoed, and deploy-pw is deployed', async () => {
    const password = ctx.lab.sudoPassword;
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-ask.yaml`, defaults: { user: ctx.lab.users.deployPw } });
    const outs = await configure({ p1: { name: `ask-${nonce}` }, p2: { name: `base-${nonce}` } });
    // script(1) gives fleet a pseudo-terminal as stdin and stdout, as a person's shell would.
    const fleet = quoteArgv([process.execPath, '--import', 'tsx', FLEET_BIN, '-f', file, 'apply', '--on', 'p1', '--ask-sudo-password']);
    const child = execa('script', ['-qfec', fleet, '/dev/null'], { reject: false, env: { ...NIX_ENV, CI: 'true' }, stdin: 'pipe', timeout: 120_000 });
    let screen = '';
    let prompts = 0;
    child.stdout!.on('data', (chunk: Buffer) => {
      screen += chunk.toString();
      const asked = screen.split('sudo password for the targets:').length - 1;
      if (asked > prompts) {
        prompts = asked;
        child.stdin!.write(`${password}\r`);
      }
    });
    const r = await child;
    assert.equal(r.exitCode, 0, screen);
    assert.equal(prompts, 1, 'asked exactly once');
    assert.ok(!screen.includes(password), 'the typed password is not echoed');
    assert.equal((await readSystemState(ctx.lab, 'p1')).current, outs.p1);
  });

  test('the connection drops while the switch runs: the switch finishes, fleet reconnects and reports what the target runs', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-cut.yaml`, defaults: { connectTimeout: '3s' } });
    const outs = await configure({ p1: { name: `base-${nonce}` }, p2: { name: `cut-${nonce}`, variant: 'slow' } });
    const child = spawnFleet(['-f', file, 'apply', '--on', 'p2', '--json']);
    let cut: Promise<void> | undefined;
    child.stdout!.on('data', (chunk: Buffer) => {
      // Longer than ssh's keepalive gives up (3 x 5 s): the master dies, the agent goes on alone.
      if (!cut && /"node":"p2","phase":"activate"/.test(chunk.toString())) cut = ctx.lab.cut('p2', 20);
    });
    const r = await child;
    await cut;
    const events = parseEvents(String(r.stdout));
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.ok(cut, 'the link was cut during the activation');
    assert.deepEqual(outcomesOf({ code: 0, stdout: '', stderr: '', events }), { p2: 'activated' });
    const state = await readSystemState(ctx.lab, 'p2');
    assert.equal(state.current, outs.p2, '/run/current-system is the new system');
    assert.equal(state.profile, outs.p2, 'the profile agrees with it');
    assert.ok(!events.some((e) => e.type === 'node-phase' && e.phase === 'rollback'), 'no rollback raced the running switch');
  });
});
