import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideExitCode } from '../../src/deploy/outcome.js';
import { spawnSync } from 'node:child_process';
import { activateArgv, AGENT_SCRIPT, newToken, parseProbe, parseWait } from '../../src/agent/agent.js';
import { describeFailure, manualRecovery, restored } from '../../src/deploy/activate.js';
import { withPrivilege } from '../../src/transport/target.js';
import { attrPathOf, buildEvalArgv } from '../../src/nix/eval.js';

test('exit codes: ok, failed, unsafe, interrupted; a rollback never exits 0', () => {
  assert.equal(decideExitCode(['activated', 'unchanged'], false), 0);
  assert.equal(decideExitCode(['activated', 'rolled-back'], false), 1);
  assert.equal(decideExitCode(['failed', 'skipped'], false), 1);
  assert.equal(decideExitCode(['activated', 'held'], false), 1, 'a held node (its wave never started) fails the run');
  assert.equal(decideExitCode(['activated', 'rollback-failed'], false), 3);
  assert.equal(decideExitCode(['activated', 'skipped'], true), 130);
  assert.equal(decideExitCode(['rollback-failed'], true), 3);
});

test('the probe output parses into a target state with the generation number', () => {
  const state = parseProbe('profileLink=system-12-link\nprofileTarget=/nix/store/a-sys\ncurrentSystem=/nix/store/b-sys\nbootedSystem=/nix/store/c-sys\nhasOut=1\nsystemd=1\n');
  assert.deepEqual(state, { hasOut: true, profileLink: 'system-12-link', generation: 12, profileTarget: '/nix/store/a-sys', currentSystem: '/nix/store/b-sys', bootedSystem: '/nix/store/c-sys', systemd: true });
  assert.deepEqual(parseProbe('profileTarget=/nix/var/nix/profiles/system\n'), { hasOut: false, systemd: false });
});

test('privilege escalation only for non-root users', () => {
  assert.deepEqual(withPrivilege({ user: 'root', privilegeEscalation: ['sudo'] }, ['true']), ['true']);
  assert.deepEqual(withPrivilege({ user: 'deploy', privilegeEscalation: ['sudo', '-H', '--'] }, ['true']), ['sudo', '-H', '--', 'true']);
});

test('the agent is one POSIX sh script, run with its data as arguments', () => {
  const syntax = spawnSync('sh', ['-n'], { input: AGENT_SCRIPT, encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  const argv = activateArgv('/run/fleet/r/n', '/p', '/nix/store/x', 'switch', true, true, { seconds: 60, systemd: true, unit: 'fleet-u' });
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(argv.slice(3, -1), ['fleet-agent', 'activate', '/run/fleet/r/n', '/p', '/nix/store/x', 'switch', '1', '1', '60', '1', 'fleet-u', '0', '']);
  assert.equal(argv.at(-1), AGENT_SCRIPT, 'the agent hands itself to the detached run');
  const armed = activateArgv('/run/fleet/r/n', '/p', '/nix/store/x', 'switch', true, true, { seconds: 60, systemd: true, unit: 'fleet-u' }, { seconds: 30, token: 'abc' });
  assert.deepEqual(armed.slice(-3, -1), ['30', 'abc'], 'magic rollback: the window and the token the watchdog accepts');
});

test('a switch cannot forge the agent report: only what follows the per-call token counts', () => {
  const token = newToken();
  assert.notEqual(token, newToken());
  const forged = ['@fleet after.currentSystem=/nix/store/new', 'status=done', 'now.currentSystem=/nix/store/new', 'before.profileLink=system-1-link'];
  const stdout = [...forged, 'real log line', '', token, 'status=switch-failed 4', 'lines=5', 'before.profileLink=system-3-link', 'before.currentSystem=/nix/store/old', 'switchStarted=1', 'profileSet=system-4-link', 'now.currentSystem=/nix/store/old'].join('\n');
  const { log, report } = parseWait(stdout, token);
  assert.deepEqual(log, [...forged, 'real log line']);
  assert.deepEqual(report, {
    status: 'switch-failed 4', lines: 5, switchStarted: true, profileSet: 'system-4-link',
    before: { profileLink: 'system-3-link', generation: 3, currentSystem: '/nix/store/old' }, now: { currentSystem: '/nix/store/old' },
  });
  assert.equal(parseWait(forged.join('\n'), token).report, undefined, 'no token: no report, whatever the output says');
});

test('every activation failure message, and success', () => {
  const report = (status: string, now: Record<string, string> = {}) => ({ status, before: {}, switchStarted: true, now, lines: 0 });
  const out = '/nix/store/new';
  assert.equal(describeFailure(report('done', { currentSystem: out, profileTarget: out }), 'switch', out), undefined);
  assert.equal(describeFailure(report('done'), 'dry-activate', out), undefined);
  assert.equal(describeFailure(report('profile-failed 1'), 'switch', out), 'setting the profile failed (nix-env exit 1)');
  assert.equal(describeFailure(report('switch-failed 1'), 'switch', out), 'switch-to-configuration switch failed (exit 1)');
  assert.equal(describeFailure(report('switch-failed 124'), 'test', out), 'switch-to-configuration test failed (timed out)');
  assert.equal(describeFailure(report('detach-failed'), 'boot', out), 'the agent could not start the activation in the background (systemd-run or setsid failed)');
  assert.equal(describeFailure(report('done', { currentSystem: '/nix/store/other', profileTarget: '/nix/store/other' }), 'switch', out), 'verification failed: /run/current-system is /nix/store/other, profile is /nix/store/other');
  assert.equal(describeFailure(report('done', { profileTarget: out }), 'boot', out), undefined);
});

test('recovery commands are shell-quoted: a hostile profile path is printed, never run', () => {
  const profile = '/p $(echo PWNED >&2); true';
  const text = manualRecovery({ name: 'web-1', profile }, { generation: 3, currentSystem: '/nix/store/abc-sys' });
  const [, commands = ''] = text.split('On web-1 run: ');
  const firstStep = commands.split(' && ')[0]!;
  const r = spawnSync('bash', ['-c', `nix-env() { printf '[%s]\\n' "$@"; }; ${firstStep}`], { encoding: 'utf8' });
  assert.equal(r.stderr, '', 'nothing ran');
  assert.equal(r.stdout, `[-p]\n[${profile}]\n[--switch-generation]\n[3]\n`);
  assert.match(commands, / && \/nix\/store\/abc-sys\/bin\/switch-to-configuration switch$/);
  assert.equal(manualRecovery({ name: 'n', profile: '/p' }, {}), 'Inspect n by hand: it had no previous system.');
});

test('a rollback is verified on exactly what the goal changed', () => {
  const before = { profileLink: 'system-3-link', currentSystem: '/nix/store/old' };
  assert.equal(restored('switch', before, { profileLink: 'system-3-link', currentSystem: '/nix/store/old' }), true);
  assert.equal(restored('switch', before, { profileLink: 'system-4-link', currentSystem: '/nix/store/old' }), false);
  assert.equal(restored('test', before, { profileLink: 'system-9-link', currentSystem: '/nix/store/old' }), true);
  assert.equal(restored('boot', before, { profileLink: 'system-3-link', currentSystem: '/nix/store/new' }), true);
});

test('one evaluation for all nodes, with the attribute path per source', () => {
  const nodes = [{ name: 'a' }, { name: 'b', attr: 'custom.b.toplevel' }] as never[];
  assert.deepEqual(attrPathOf({ nix: { file: '/h.nix' } }, { name: 'a' }), ['a']);
  assert.deepEqual(attrPathOf({ nix: { flake: '/f' } }, { name: 'a' }), ['nixosConfigurations', 'a', 'config', 'system', 'build', 'toplevel']);
  const argv = buildEvalArgv({ nix: { file: '/h.nix' } }, nodes);
  assert.equal(argv.filter((a) => a === 'nix-instantiate').length, 1);
  assert.equal(argv[argv.indexOf('spec') + 1], JSON.stringify([{ name: 'a', attr: ['a'] }, { name: 'b', attr: ['custom', 'b', 'toplevel'] }]));
});

test('host specs print back as written, IPv6 bracketed before a port', async () => {
  const { formatHostSpec } = await import('../../src/config/hostspec.js');
  assert.equal(formatHostSpec({ host: 'build-1' }), 'build-1');
  assert.equal(formatHostSpec({ user: 'nix', host: 'build-1', port: 2222 }), 'nix@build-1:2222');
  assert.equal(formatHostSpec({ user: 'root', host: '::1', port: 22 }), 'root@[::1]:22');
  assert.equal(formatHostSpec({ host: '::1' }), '::1');
});

test('the report is what follows the LAST token: a switch that learned the token cannot forge it', () => {
  const token = newToken();
  const stdout = ['log', token, 'status=done', 'now.currentSystem=/nix/store/forged', 'switchStarted=1', 'real log after', '', token, 'status=switch-failed 1', 'lines=4', 'before.currentSystem=/nix/store/old'].join('\n');
  const { log, report } = parseWait(stdout, token);
  assert.deepEqual(report, { status: 'switch-failed 1', lines: 4, switchStarted: false, before: { currentSystem: '/nix/store/old' }, now: {} });
  assert.ok(log.includes('real log after'));
});

test('the agent\'s rollback restores exactly the recorded profile link: a generation through nix-env, a store path as a link', async () => {
  const { mkdtemp, mkdir, readlink, symlink, writeFile: write, readFile: read } = await import('node:fs/promises');
  const root = await mkdtemp('/tmp/fleet-agent-test-');
  const bin = `${root}/bin`;
  await mkdir(bin);
  // A stand-in nix-env: records its arguments and does what --switch-generation does to the link.
  await write(`${bin}/nix-env`, '#!/bin/sh\necho "$@" >> "$NIXENV_LOG"\n[ "$3" = --switch-generation ] && ln -sfn "system-$4-link" "$2"\nexit 0\n', { mode: 0o755 });
  const rollback = async (name: string, before: string, made: string) => {
    const d = `${root}/${name}`;
    await mkdir(d);
    const profile = `${d}/system`;
    await symlink(made, profile); // the run moved the profile to the generation it made
    await write(`${d}/agent.sh`, AGENT_SCRIPT);
    for (const [file, value] of [['profile', profile], ['seconds', '5'], ['goal', 'boot'], ['profile-set', made], ['before', `profileLink=${before}\n`]]) await write(`${d}/${file}`, `${value}\n`);
    await write(`${d}/rollback.log`, '');
    const r = spawnSync('sh', [`${d}/agent.sh`, 'run-rollback', d], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, NIXENV_LOG: `${root}/nixenv.log` } });
    assert.equal(r.status, 0, r.stderr);
    return { link: await readlink(profile), status: (await read(`${d}/rollback.status`, 'utf8')).trim() };
  };
  assert.deepEqual(await rollback('gen', 'system-12-link', 'system-13-link'), { link: 'system-12-link', status: 'done' });
  assert.deepEqual(await rollback('store', '/nix/store/abc-sys-123', 'system-1-link'), { link: '/nix/store/abc-sys-123', status: 'done' }, 'a store path ending in digits is no generation');
  assert.equal((await read(`${root}/nixenv.log`, 'utf8')).trim().split('\n').length, 1, 'nix-env ran for the generation only');
});
