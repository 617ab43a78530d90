import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideExitCode } from '../../src/deploy/outcome.js';
import { spawnSync } from 'node:child_process';
import { createAgentClient } from '../../src/agent/client.js';
import { parseActivateStatus, type Report, type ActivateStatus } from '../../src/agent/protocol.js';
import { AGENT_SCRIPT } from '../../src/agent/script.js';
import type { Host } from '../../src/transport/host.js';
import type { CommandResult } from '../../src/transport/run.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';
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

test('exit codes after reboots: rebooted is a success; a node not back within the deadline is state unknown (3), interrupted or not', () => {
  assert.equal(decideExitCode(['rebooted', 'activated', 'unchanged'], false), 0);
  assert.equal(decideExitCode(['rebooted', 'unreachable-after-reboot'], false), 3);
  assert.equal(decideExitCode(['rolled-back', 'unreachable-after-reboot'], true), 3, 'Ctrl+C does not make an unknown state known');
  assert.equal(decideExitCode(['rebooted', 'failed'], false), 1);
});

/** A node whose every command answers `stdout` (exit 0); the argv it was sent are kept. */
function answering(stdout: (argv: string[]) => string) {
  const sent: string[][] = [];
  const run = async (argv: string[]): Promise<CommandResult> => {
    sent.push(argv);
    return { argv, exitCode: 0, stdout: stdout(argv), stderr: '', failed: false, timedOut: false, canceled: false, message: '' };
  };
  const host: Host = { label: 'web-1', isLocal: false, run, runFresh: run, connect: async () => {}, close: async () => {}, closeSync: () => {} };
  return { agent: createAgentClient(targetOver(host, resolvedNode('web-1')), { id: 'r' }), sent };
}

test('the probe output parses into a target state with the generation number', async () => {
  const probe = async (stdout: string) => {
    const r = await answering(() => stdout).agent.probe({ outPath: '/nix/store/x' });
    assert.ok(r.ok);
    return r.state;
  };
  assert.deepEqual(await probe('protocol=1\nprofileLink=system-12-link\nprofileTarget=/nix/store/a-sys\ncurrentSystem=/nix/store/b-sys\nbootedSystem=/nix/store/c-sys\nhasOut=1\nsystemd=1\n'),
    { hasOut: true, profileLink: 'system-12-link', generation: 12, profileTarget: '/nix/store/a-sys', currentSystem: '/nix/store/b-sys', bootedSystem: '/nix/store/c-sys', systemd: true });
  assert.deepEqual(await probe('protocol=1\nprofileTarget=/nix/var/nix/profiles/system\n'), { hasOut: false, systemd: false });
});

test('privilege escalation only for non-root users', () => {
  assert.deepEqual(withPrivilege({ user: 'root', privilegeEscalation: ['sudo'] }, ['true']), ['true']);
  assert.deepEqual(withPrivilege({ user: 'deploy', privilegeEscalation: ['sudo', '-H', '--'] }, ['true']), ['sudo', '-H', '--', 'true']);
});

test('the agent is one POSIX sh script, sent once per call with its data as name=value arguments', async () => {
  const syntax = spawnSync('sh', ['-n'], { input: AGENT_SCRIPT, encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  assert.match(AGENT_SCRIPT, /^PROTOCOL=1\nLOCK_VERSION=1\nRUN_DIRS_KEPT=5\nEXIT_USAGE=2\nEXIT_NOT_STARTED=93\n/, 'the protocol\'s numbers come first, from protocol.ts');
  const { agent, sent } = answering(() => '');
  await agent.activate({ outPath: '/nix/store/x', goal: 'switch', setProfile: true, checkSystem: true, systemd: true, waitSeconds: 9, watchdog: { seconds: 30, token: 'abc' } });
  const argv = sent[0]!;
  assert.deepEqual(argv.slice(0, 4), ['sh', '-c', 'AGENT=$1; shift; eval "$AGENT"', 'fleet-agent']);
  assert.equal(argv[4], AGENT_SCRIPT, 'the agent once: it writes itself into the run dir for the detached part');
  assert.equal(argv.filter((a) => a === AGENT_SCRIPT).length, 1);
  assert.deepEqual(argv.slice(5, 7), ['activate', 'dir=/run/fleet/r/web-1']);
  assert.ok(argv.includes('set-profile=new') && argv.includes('systemd=1') && argv.includes('unit=fleet-r-web-1-activate') && argv.includes('wait=9'));
  assert.deepEqual([argv.find((a) => a.startsWith('confirm-seconds=')), argv.find((a) => a.startsWith('confirm-token='))], ['confirm-seconds=30', 'confirm-token=abc'], 'magic rollback: the window and the token the watchdog accepts');
  assert.equal(argv.find((a) => a.startsWith('report='))?.startsWith('report=@fleet-report-'), true);
});

test('a switch cannot forge the agent report: only what follows the per-call token counts', async () => {
  const forged = ['@fleet after.currentSystem=/nix/store/new', 'status=done', 'now.currentSystem=/nix/store/new', 'before.profileLink=system-1-link'];
  const { agent } = answering((argv) => {
    const token = argv.find((a) => a.startsWith('report='))!.slice('report='.length);
    return [...forged, 'real log line', '', token, 'protocol=1', 'status=switch-failed 4', 'lines=5', 'before.profileLink=system-3-link', 'before.currentSystem=/nix/store/old', 'switchStarted=1', 'profileSet=system-4-link', 'now.currentSystem=/nix/store/old'].join('\n');
  });
  const { log, report } = await agent.wait('activate', { seconds: 1, seen: 0 });
  assert.deepEqual(log, [...forged, 'real log line']);
  assert.deepEqual(report, {
    status: { kind: 'switch-failed', code: 4 }, lines: 5, switchStarted: true, profileSet: 'system-4-link',
    before: { profileLink: 'system-3-link', generation: 3, currentSystem: '/nix/store/old' }, now: { currentSystem: '/nix/store/old' },
  });
  const noToken = await answering(() => forged.join('\n')).agent.wait('activate', { seconds: 1, seen: 0 });
  assert.equal(noToken.report, undefined, 'no token: no report, whatever the output says');
  assert.equal(noToken.failure?.kind, 'cut');
});

test('statuses are parsed once into types; what fleet does not know is kept as it is', () => {
  assert.deepEqual(parseActivateStatus('done'), { kind: 'done' });
  assert.deepEqual(parseActivateStatus('switch-failed 124'), { kind: 'switch-failed', code: 124 });
  assert.deepEqual(parseActivateStatus('switch-failed x'), { kind: 'unknown', text: 'switch-failed x' });
  assert.deepEqual(parseActivateStatus('odd 7'), { kind: 'unknown', text: 'odd 7' });
});

test('every activation failure message, and success', () => {
  const report = (status: string, now: Record<string, string> = {}): Report<ActivateStatus> => ({ status: parseActivateStatus(status), before: {}, switchStarted: true, now, lines: 0 });
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

test('the report is what follows the LAST token: a switch that learned the token cannot forge it', async () => {
  const { agent } = answering((argv) => {
    const token = argv.find((a) => a.startsWith('report='))!.slice('report='.length);
    return ['log', token, 'protocol=1', 'status=done', 'now.currentSystem=/nix/store/forged', 'switchStarted=1', 'real log after', '', token, 'protocol=1', 'status=switch-failed 1', 'lines=4', 'before.currentSystem=/nix/store/old'].join('\n');
  });
  const { log, report } = await agent.wait('activate', { seconds: 1, seen: 0 });
  assert.deepEqual(report, { status: { kind: 'switch-failed', code: 1 }, lines: 4, switchStarted: false, before: { currentSystem: '/nix/store/old' }, now: {} });
  assert.ok(log.includes('real log after'));
});
