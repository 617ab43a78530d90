// Resolution: node value > defaults > built-in default; paths relative to the fleet file, wherever fleet runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseDuration, parseFleet } from '../../src/config/index.js';
import { resolveFlakeRef } from '../../src/config/resolve.js';
import { getSchema } from '../../src/config/schema.js';
import { ConfigError, formatDiagnostic } from '../../src/errors.js';
import { resolvedNode } from '../resolved-node.js';

const head = 'version: 1\nnix:\n  file: ./hive.nix\n';

test('the tests\' resolvedNode is what a fleet file with only `host` resolves to (so node fixtures stay honest)', () => {
  const fleet = parseFleet(`${head}nodes:\n  web-1:\n    host: web-1.example\n`, '/srv/fleet/fleet.yaml');
  assert.deepEqual(resolvedNode('web-1'), fleet.nodes['web-1']);
});

test('a node value wins over defaults, which win over built-in defaults', () => {
  const fleet = parseFleet(
    `${head}defaults:\n  user: ops\n  profile: /p/default\n  connectTimeout: 2s\nnodes:\n  a:\n    host: h\n    user: me\n  b:\n    host: h2\n`,
    '/srv/fleet/fleet.yaml',
  );
  const [a, b] = [fleet.nodes.a!, fleet.nodes.b!];
  assert.deepEqual([a.user, a.profile, a.connectTimeoutMs], ['me', '/p/default', 2000]);
  assert.deepEqual([b.user, b.profile, b.connectTimeoutMs, b.activationTimeoutMs], ['ops', '/p/default', 2000, 600_000]);
  assert.deepEqual(b.buildHost, { kind: 'local' });
  assert.deepEqual([b.tags, b.sshOptions, b.substituteOnDestination, b.checkSystem], [[], [], false, true]);
  assert.equal(b.sshConfig, undefined);
  assert.equal(b.system, undefined);
});

test('the user in a host spec wins over `user` keys; its port fills `port`', () => {
  const fleet = parseFleet(`${head}defaults:\n  user: ops\nnodes:\n  a:\n    host: ssh://admin@h:2200\n  b:\n    host: h\n`, '/srv/f.yaml');
  assert.deepEqual([fleet.nodes.a!.user, fleet.nodes.a!.port], ['admin', 2200]);
  assert.deepEqual([fleet.nodes.b!.user, fleet.nodes.b!.port], ['ops', undefined]);
});

test('nix.file, sshConfig (nodes, defaults, builders) resolve against the fleet file directory, not the cwd', () => {
  const fleet = parseFleet(
    'version: 1\nnix:\n  file: ../nix/hive.nix\ndefaults:\n  sshConfig: lab/ssh_config\nbuilders:\n  b:\n    host: b1\n    sshConfig: ./b_config\nnodes:\n  a:\n    host: h\n  c:\n    host: h2\n    sshConfig: /etc/ssh/abs\n',
    '/srv/fleet/conf/fleet.yaml',
  );
  assert.equal(fleet.file, '/srv/fleet/conf/fleet.yaml');
  assert.equal(fleet.dir, '/srv/fleet/conf');
  assert.deepEqual(fleet.nix, { file: '/srv/fleet/nix/hive.nix' });
  assert.equal(fleet.nodes.a!.sshConfig, '/srv/fleet/conf/lab/ssh_config');
  assert.equal(fleet.nodes.c!.sshConfig, '/etc/ssh/abs');
  assert.equal(fleet.builders.b!.sshConfig, '/srv/fleet/conf/b_config');
});

test('a relative fleet file name is made absolute against the cwd', () => {
  const fleet = parseFleet(`${head}nodes:\n  a:\n    host: h\n`, 'sub/fleet.yaml');
  assert.equal(fleet.file, path.resolve('sub/fleet.yaml'));
  assert.deepEqual(fleet.nix, { file: path.resolve('sub/hive.nix') });
});

test('local flake references become absolute; others are kept as written', () => {
  const dir = '/srv/fleet';
  assert.equal(resolveFlakeRef('.', dir), '/srv/fleet');
  assert.equal(resolveFlakeRef('./infra', dir), '/srv/fleet/infra');
  assert.equal(resolveFlakeRef('../infra', dir), '/srv/infra');
  assert.equal(resolveFlakeRef('path:./infra', dir), 'path:/srv/fleet/infra');
  assert.equal(resolveFlakeRef('git+file:..', dir), 'git+file:/srv');
  assert.equal(resolveFlakeRef('/abs/flake', dir), '/abs/flake');
  assert.equal(resolveFlakeRef('github:o/r', dir), 'github:o/r');
  assert.equal(resolveFlakeRef('git+https://example.com/r.git?ref=main', dir), 'git+https://example.com/r.git?ref=main');
  const fleet = parseFleet('version: 1\nnix:\n  flake: .\nnodes:\n  a:\n    host: h\n', '/srv/fleet/fleet.yaml');
  assert.deepEqual(fleet.nix, { flake: '/srv/fleet' });
});

test('nodes keep file order; builders resolve with their defaults', () => {
  const fleet = parseFleet(`${head}builders:\n  b:\n    host: nix@b1\n    port: 2200\nnodes:\n  z:\n    host: h1\n  a:\n    host: h2\n  m:\n    host: h3\n`, '/f.yaml');
  assert.deepEqual(Object.keys(fleet.nodes), ['z', 'a', 'm']);
  assert.deepEqual(fleet.builders.b, {
    name: 'b',
    host: { user: 'nix', host: 'b1', port: 2200 },
    systems: [],
    maxJobs: 1,
    speedFactor: 1,
    supportedFeatures: [],
    mandatoryFeatures: [],
    sshOptions: [],
    connectTimeoutMs: 10_000,
  });
  const slow = parseFleet(`${head}defaults:\n  connectTimeout: 45s\nbuilders:\n  b:\n    host: b1\nnodes:\n  a:\n    host: h\n`, '/f.yaml');
  assert.equal(slow.builders.b!.connectTimeoutMs, 45_000, 'builders inherit defaults.connectTimeout');
});

test('resolved nodes do not share arrays with defaults or each other', () => {
  const fleet = parseFleet(`${head}defaults:\n  tags: [x]\nnodes:\n  a:\n    host: h1\n  b:\n    host: h2\n`, '/f.yaml');
  fleet.nodes.a!.tags.push('y');
  assert.deepEqual(fleet.nodes.b!.tags, ['x']);
});

test('durations: ms, s, m, h, from 1s to 24h, never past a Node timer (2^31-1 ms)', () => {
  assert.deepEqual(['1000ms', '10s', '5m', '2h', '24h', '86400000ms'].map(parseDuration), [1000, 10_000, 300_000, 7_200_000, 86_400_000, 86_400_000]);
  assert.throws(() => parseDuration('10'), /not a duration/);
  for (const text of ['1000h', '25h', '86400001ms', '1441m', '999ms', '0s', `${'9'.repeat(30)}h`]) {
    assert.throws(() => parseDuration(text), /is not from `1s` to `24h`/, text);
  }
});

test("the schema's duration pattern accepts exactly the durations parseDuration accepts", () => {
  const pattern = new RegExp(String((getSchema().$defs as Record<string, Record<string, unknown>>).duration!.pattern), 'u');
  const accepts = (text: string) => {
    try {
      parseDuration(text);
      return true;
    } catch {
      return false;
    }
  };
  const values = [...Array.from({ length: 2000 }, (_, i) => i), 86_399, 86_400, 86_401, 999_999, 1_000_000, 9_999_999, 10_000_000];
  const extra = [85_999_999, 86_000_000, 86_399_999, 86_400_000, 86_400_001, 86_499_999, 89_999_999, 90_000_000, 99_999_999, 100_000_000];
  for (const n of [...values, ...extra, ...Array.from({ length: 2000 }, (_, i) => 86_390_000 + i * 10)]) {
    for (const unit of ['ms', 's', 'm', 'h']) {
      const text = `${n}${unit}`;
      assert.equal(pattern.test(text), accepts(text), text);
    }
  }
  for (const text of ['010s', '1.5h', '1e3ms', ' 1s', '1s ', '1S']) assert.equal(pattern.test(text), false, text);
});

test('a duration past 24h is a located check error, not a timer that fires at once', () => {
  assert.throws(
    () => parseFleet(`${head}nodes:\n  a:\n    host: h\n    activationTimeout: 1000h\n`, '/f.yaml'),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.diagnostics.map(formatDiagnostic).join('\n') ===
        '/f.yaml:7:24: `activationTimeout` of node `a` must be a duration from `1s` to `24h`, such as `1500ms`, `10s`, `5m` or `1h`, got `1000h`',
  );
});

test('warnings travel with a valid fleet', () => {
  const fleet = parseFleet(`${head}defaults:\n  user: u\nnodes:\n  a:\n    host: h\n    user: v\n`, '/f.yaml');
  assert.equal(fleet.warnings.length, 1);
  assert.equal(fleet.warnings[0]!.severity, 'warning');
  assert.equal(fleet.warnings[0]!.file, '/f.yaml');
});
