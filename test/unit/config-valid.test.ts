// The valid corpus (and fleet.example.yaml when present) loads, with exactly the warnings each file declares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from '../../src/errors.js';
import { loadFleet, parseFleet, type ResolvedFleet } from '../../src/config/index.js';

const dir = fileURLToPath(new URL('../../fixtures/valid/', import.meta.url));
const example = fileURLToPath(new URL('../../fleet.example.yaml', import.meta.url));
const files = [
  ...readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(dir, f)),
  ...(existsSync(example) ? [example] : []),
];

/** Resolved values each file is written to produce. */
const checks: Record<string, (fleet: ResolvedFleet) => void> = {
  'minimal.yaml': (f) => {
    assert.deepEqual(f.nix, { file: path.join(dir, 'hive.nix') });
    assert.equal(f.allowApplyAll, true);
    const n = f.nodes['web-1']!;
    assert.equal(n.host, '10.0.0.1');
    assert.equal(n.port, undefined);
    assert.equal(n.user, 'root');
    assert.deepEqual(n.buildHost, { kind: 'local' });
    assert.equal(n.profile, '/nix/var/nix/profiles/system');
    assert.deepEqual(n.privilegeEscalation, ['sudo', '-H', '--']);
    assert.equal(n.connectTimeoutMs, 10_000);
    assert.equal(n.activationTimeoutMs, 600_000);
  },
  'issue-example.yaml': (f) => {
    assert.deepEqual(f.builders.big!.host, { user: 'nix', host: 'build-1' });
    assert.equal(f.builders.big!.maxJobs, 8);
    assert.deepEqual(f.nodes['web-1']!.tags, ['web', 'eu']);
    assert.equal(f.nodes['web-1']!.attr, 'webServer');
    assert.deepEqual(f.nodes['web-2']!.buildHost, { kind: 'builder', name: 'big' });
  },
  'flake.yaml': (f) => {
    assert.deepEqual(f.nix, { flake: dir.replace(/\/$/, '') });
    assert.equal(f.allowApplyAll, false);
    const n = f.nodes['db-1']!;
    assert.equal(n.user, 'deploy');
    assert.deepEqual(n.privilegeEscalation, ['doas']);
    assert.equal(n.substituteOnDestination, true);
    assert.equal(n.checkSystem, false);
  },
  'flake-remote.yaml': (f) => {
    assert.equal(f.buildersUseSubstitutes, false);
    assert.deepEqual(f.nix, { flake: 'github:example/infra?dir=hosts' });
    assert.equal(f.nodes.edge!.host, 'edge.example.com');
  },
  'anchors-merge.yaml': (f) => {
    assert.deepEqual(f.nix, { file: path.join(dir, 'nix/hive.nix') });
    assert.deepEqual(Object.keys(f.nodes), ['web-1', 'web-2', 'db-1']);
    const [w1, w2, db] = [f.nodes['web-1']!, f.nodes['web-2']!, f.nodes['db-1']!];
    assert.deepEqual([w1.user, w1.tags, w1.buildHost, w1.connectTimeoutMs], ['deploy', ['web'], { kind: 'target' }, 3000]);
    assert.deepEqual(w1.sshOptions, ['-o', 'ServerAliveInterval=5']);
    assert.deepEqual([w2.user, w2.tags, w2.buildHost], ['admin', ['web', 'eu'], { kind: 'local' }]);
    assert.deepEqual([db.user, db.tags, db.sshOptions], ['root', [], []]);
  },
  'ipv6.yaml': (f) => {
    const at = (name: string) => {
      const n = f.nodes[name]!;
      return { user: n.user, host: n.host, port: n.port };
    };
    assert.deepEqual(at('plain'), { user: 'root', host: 'web.example.com', port: undefined });
    assert.deepEqual(at('with-user'), { user: 'deploy', host: 'web-2.example.com', port: undefined });
    assert.deepEqual(at('url'), { user: 'ops', host: '198.51.100.7', port: 2222 });
    assert.deepEqual(at('url-ng'), { user: 'root', host: '198.51.100.8', port: undefined });
    assert.deepEqual(at('bracketed'), { user: 'root', host: '2001:db8::1', port: 2201 });
    assert.deepEqual(at('user-bracketed'), { user: 'admin', host: '::1', port: 2202 });
    assert.deepEqual(at('url-v6'), { user: 'root', host: '2001:db8::2', port: 2203 });
    assert.deepEqual(at('bare-v6'), { user: 'root', host: '2001:db8::3', port: undefined });
    assert.deepEqual(at('same-port-twice'), { user: 'root', host: '2001:db8::4', port: 22 });
  },
  'builders.yaml': (f) => {
    const big = f.builders.big!;
    assert.deepEqual(big.host, { user: 'nix', host: 'build-1.example.com', port: 2200 });
    assert.deepEqual([big.speedFactor, big.mandatoryFeatures, big.sshOptions], [2, ['big-parallel'], ['-i', '/etc/nix/builder_key']]);
    assert.equal(big.sshConfig, path.join(dir, 'lab/ssh_config'));
    assert.deepEqual(f.builders.arm!.host, { user: 'builder', host: '2001:db8::42', port: 2201 });
    assert.deepEqual(f.builders.any!.systems, []);
    assert.deepEqual(f.builders.any!.maxJobs, 1);
    assert.deepEqual(f.nodes.pi!.buildHost, { kind: 'builder', name: 'arm' });
    assert.deepEqual(f.nodes.self!.buildHost, { kind: 'target' });
    assert.deepEqual(f.nodes.adhoc!.buildHost, { kind: 'host', spec: { user: 'nix', host: 'adhoc.example.com' } });
    assert.deepEqual(f.nodes.here!.buildHost, { kind: 'local' });
    assert.equal(f.nodes['web-1']!.system, 'x86_64-linux');
  },
  'builders-mode.yaml': (f) => {
    assert.equal(f.buildersUseSubstitutes, true);
    assert.deepEqual(f.nodes['web-1']!.buildHost, { kind: 'builders' });
    const [b1, b2, b3] = [f.builders['build-1']!, f.builders['build-2']!, f.builders['build-3']!];
    // Inherited from defaults: user, sshOptions, sshConfig; the user in a host spec wins over `user`, which wins over defaults.
    assert.deepEqual([b1.host, b1.sshOptions, b1.sshConfig], [{ user: 'deploy', host: 'build-1' }, ['-o', 'ServerAliveInterval=5', '-i', '/etc/fleet/key'], path.join(dir, 'lab/ssh_config')]);
    assert.deepEqual([b2.host, b2.sshOptions, b2.sshConfig], [{ user: 'nix', host: 'build-2.example.com', port: 2222 }, ['-4', '-C'], '/dev/null']);
    assert.deepEqual(b3.host, { user: 'builder', host: 'build-3' });
    assert.deepEqual([b1.maxJobs, b1.speedFactor, b1.supportedFeatures, b1.mandatoryFeatures], [4, 2, ['kvm', 'big-parallel'], ['benchmark']]);
    assert.deepEqual(Object.keys(f.builders), ['build-1', 'build-2', 'build-3']);
  },
  'defaults.yaml': (f) => {
    assert.deepEqual(f.nix, { file: path.resolve(dir, '../nix/system.nix') });
    const a = f.nodes.a!;
    assert.deepEqual(
      [a.user, a.tags, a.buildHost, a.sshOptions, a.sshConfig, a.system, a.profile],
      ['ops', ['all'], { kind: 'target' }, ['-v'], path.join(dir, 'ssh/config'), 'x86_64-linux', '/nix/var/nix/profiles/fleet'],
    );
    assert.deepEqual([a.privilegeEscalation, a.substituteOnDestination, a.checkSystem], [['sudo', '-n', '--'], true, false]);
    assert.deepEqual([a.connectTimeoutMs, a.activationTimeoutMs], [1500, 3_600_000]);
    const b = f.nodes.b!;
    assert.deepEqual(
      [b.user, b.tags, b.buildHost, b.sshOptions, b.sshConfig, b.profile],
      ['root', ['special'], { kind: 'local' }, [], '/dev/null', '/nix/var/nix/profiles/system'],
    );
    assert.deepEqual([b.privilegeEscalation, b.substituteOnDestination, b.checkSystem], [[], false, true]);
    assert.deepEqual([b.connectTimeoutMs, b.activationTimeoutMs], [120_000, 90_000]);
  },
  'warnings.yaml': (f) => {
    assert.equal(f.nodes['web-2']!.user, 'root');
    assert.equal(f.nodes['web-2']!.port, 2201);
  },
  'fleet.example.yaml': (f) => {
    assert.ok(Object.keys(f.nodes).length > 0);
    for (const n of Object.values(f.nodes)) assert.ok(n.host.length > 0);
  },
};

test('the valid corpus is big enough', () => {
  assert.ok(files.length >= 6);
});

for (const file of files) {
  const name = path.basename(file);
  test(`valid: ${path.relative(path.join(dir, '../..'), file)}`, async () => {
    // The example names the lab's ssh_config, which exists only while a lab runs: its paths are not checked here.
    const fleet = name === 'fleet.example.yaml' ? parseFleet(readFileSync(file, 'utf8'), file) : await loadFleet(file);
    assert.equal(fleet.file, file);
    assert.equal(fleet.dir, path.dirname(file));
    const declared = [...readFileSync(file, 'utf8').matchAll(/^# warn: (\d+):(\d+): (.+)$/gm)];
    assert.equal(fleet.warnings.length, declared.length, fleet.warnings.map(formatDiagnostic).join('\n'));
    for (const [, line, col, text] of declared) {
      const hit = fleet.warnings.some((w) => w.severity === 'warning' && w.line === Number(line) && w.col === Number(col) && w.message.includes(text!));
      assert.ok(hit, `no warning ${line}:${col}: ${text}; got:\n${fleet.warnings.map(formatDiagnostic).join('\n')}`);
    }
    const check = checks[name];
    assert.ok(check, `no resolved-value checks written for ${name}`);
    check(fleet);
  });
}
