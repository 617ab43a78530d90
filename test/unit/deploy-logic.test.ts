import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideExitCode } from '../../src/deploy/outcome.js';
import { parseProbe, switchArgv, withPrivilege } from '../../src/deploy/remote.js';
import { attrPathOf, buildEvalArgv } from '../../src/nix/eval.js';

test('exit codes: ok, failed, unsafe, interrupted; a rollback never exits 0', () => {
  assert.equal(decideExitCode(['activated', 'unchanged'], false), 0);
  assert.equal(decideExitCode(['activated', 'rolled-back'], false), 1);
  assert.equal(decideExitCode(['failed', 'skipped'], false), 1);
  assert.equal(decideExitCode(['activated', 'rollback-failed'], false), 3);
  assert.equal(decideExitCode(['activated', 'skipped'], true), 130);
  assert.equal(decideExitCode(['rollback-failed'], true), 3);
});

test('the probe output parses into a target state with the generation number', () => {
  const state = parseProbe('profileLink=system-12-link\nprofileTarget=/nix/store/a-sys\ncurrentSystem=/nix/store/b-sys\nhasOut=1\nsystemd=1\n');
  assert.deepEqual(state, { hasOut: true, profileLink: 'system-12-link', generation: 12, profileTarget: '/nix/store/a-sys', currentSystem: '/nix/store/b-sys', systemd: true });
  assert.deepEqual(parseProbe('profileTarget=/nix/var/nix/profiles/system\n'), { hasOut: false, systemd: false });
});

test('privilege escalation only for non-root users', () => {
  assert.deepEqual(withPrivilege({ user: 'root', privilegeEscalation: ['sudo'] }, ['true']), ['true']);
  assert.deepEqual(withPrivilege({ user: 'deploy', privilegeEscalation: ['sudo', '-H', '--'] }, ['true']), ['sudo', '-H', '--', 'true']);
});

test('activation runs under systemd-run where there is systemd, else bounded by timeout', () => {
  assert.deepEqual(switchArgv('/nix/store/x', 'switch', { systemd: false }, 60, 'u'), ['timeout', '-k', '5', '60', '/nix/store/x/bin/switch-to-configuration', 'switch']);
  const sd = switchArgv('/nix/store/x', 'boot', { systemd: true }, 60, 'fleet-u');
  assert.equal(sd[0], 'systemd-run');
  assert.ok(sd.includes('--unit=fleet-u') && sd.includes('--wait'));
  assert.deepEqual(sd.slice(-2), ['/nix/store/x/bin/switch-to-configuration', 'boot']);
});

test('one evaluation for all nodes, with the attribute path per source', () => {
  const nodes = [{ name: 'a' }, { name: 'b', attr: 'custom.b.toplevel' }] as never[];
  assert.deepEqual(attrPathOf({ nix: { file: '/h.nix' } }, { name: 'a' }), ['a']);
  assert.deepEqual(attrPathOf({ nix: { flake: '/f' } }, { name: 'a' }), ['nixosConfigurations', 'a', 'config', 'system', 'build', 'toplevel']);
  const argv = buildEvalArgv({ nix: { file: '/h.nix' } }, nodes);
  assert.equal(argv.filter((a) => a === 'nix-instantiate').length, 1);
  assert.equal(argv[argv.indexOf('spec') + 1], JSON.stringify([{ name: 'a', attr: ['a'] }, { name: 'b', attr: ['custom', 'b', 'toplevel'] }]));
});

test('the activation report: before and after states, steps, the switch exit code, other output ignored', async () => {
  const { parseActivation } = await import('../../src/deploy/remote.js');
  const report = parseActivation([
    '@fleet before.profileLink=system-3-link', '@fleet before.profileTarget=/nix/store/a-old', '@fleet before.currentSystem=/nix/store/a-old',
    '@fleet recorded', '@fleet step=profile', '@fleet step=switch', 'stopping the following units: x=y', '@fleet switch-exit=4',
  ].join('\n'));
  assert.deepEqual(report, {
    recorded: true, refused: false, done: false, switchExit: 4,
    before: { profileLink: 'system-3-link', profileTarget: '/nix/store/a-old', generation: 3, currentSystem: '/nix/store/a-old' },
    after: {},
  });
  assert.deepEqual(parseActivation('').before, {});
  assert.equal(parseActivation('@fleet recorded\n@fleet refused\n').refused, true);
});

test('every activation failure message, and success', async () => {
  const { describeFailure } = await import('../../src/deploy/activate.js');
  const { parseActivation } = await import('../../src/deploy/remote.js');
  const ok = { failed: false, timedOut: false, exitCode: 0, message: '' } as never;
  const failedWith = (exitCode: number | undefined, extra = {}) => ({ failed: true, timedOut: false, exitCode, message: `exit ${exitCode}`, ...extra }) as never;
  const started = '@fleet recorded\n@fleet step=switch\n';
  const after = (out: string) => `${started}@fleet step=verify\n@fleet after.profileLink=system-2-link\n@fleet after.profileTarget=${out}\n@fleet after.currentSystem=${out}\n@fleet done\n`;
  assert.equal(describeFailure(ok, parseActivation(after('/nix/store/new')), 'switch', '/nix/store/new'), undefined);
  assert.equal(describeFailure(failedWith(91), parseActivation('@fleet recorded\n@fleet step=profile\n'), 'switch', '/n'), 'setting the profile failed: exit 91');
  assert.equal(describeFailure(failedWith(92), parseActivation(`${started}@fleet switch-exit=1\n`), 'switch', '/n'), 'switch-to-configuration switch failed (exit 1)');
  assert.equal(describeFailure(failedWith(92), parseActivation(`${started}@fleet switch-exit=124\n`), 'test', '/n'), 'switch-to-configuration test failed (timed out)');
  assert.equal(describeFailure(failedWith(255, { message: 'ssh: connection closed' }), parseActivation(started), 'switch', '/n'), 'activation failed: ssh: connection closed');
  assert.equal(describeFailure(failedWith(undefined, { timedOut: true, message: 'timed out after 615000 ms' }), parseActivation(started), 'boot', '/n'), 'activation failed (timed out): timed out after 615000 ms');
  assert.equal(describeFailure(ok, parseActivation(after('/nix/store/other')), 'switch', '/nix/store/new'), 'verification failed: /run/current-system is /nix/store/other, profile is /nix/store/other');
  assert.equal(describeFailure(ok, parseActivation(`${started}@fleet done\n`), 'dry-activate', '/n'), undefined);
});

test('host specs print back as written, IPv6 bracketed before a port', async () => {
  const { formatHostSpec } = await import('../../src/config/hostspec.js');
  assert.equal(formatHostSpec({ host: 'build-1' }), 'build-1');
  assert.equal(formatHostSpec({ user: 'nix', host: 'build-1', port: 2222 }), 'nix@build-1:2222');
  assert.equal(formatHostSpec({ user: 'root', host: '::1', port: 22 }), 'root@[::1]:22');
  assert.equal(formatHostSpec({ host: '::1' }), '::1');
});
