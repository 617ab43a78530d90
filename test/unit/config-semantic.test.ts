// Semantic rules the schema cannot express: one test per rule, each with a passing counterpart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyseFleet } from '../../src/config/index.js';

/** `LINE:COL severity: message` for each diagnostic of a fleet written inline. */
function diagnose(yaml: string): string[] {
  return analyseFleet(yaml, '/srv/fleet.yaml').diagnostics.map((d) => `${d.line}:${d.col} ${d.severity}: ${d.message}`);
}

const head = 'version: 1\nnix:\n  file: ./hive.nix\n';

test('buildHost: a bare word naming no builder is an error listing builders, a close match and the host-spec form', () => {
  const out = diagnose(`${head}builders:\n  big:\n    host: b1\n  small:\n    host: b2\nnodes:\n  a:\n    host: h\n    buildHost: bigg\n`);
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^12:16 error: invalid `buildHost` of node `a`: `bigg` is not `local`, `target`, `builders` or a builder name; did you mean `big`\?/);
  assert.match(out[0]!, /\(builders: `big` and `small`\)/);
  assert.match(out[0]!, /write a host spec such as `root@bigg` or `ssh:\/\/bigg`/);
});

test('buildHost: local, target, a builder name and host specs with @ . : or brackets are accepted', () => {
  for (const value of ['local', 'target', 'big', 'nix@b', 'b.example.com', 'ssh://b', '10.0.0.9', '"[::1]"']) {
    const out = diagnose(`${head}builders:\n  big:\n    host: b1\nnodes:\n  a:\n    host: h\n    buildHost: ${value}\n`);
    assert.deepEqual(out, [], value);
  }
});

test('buildHost: a host spec that fails the host-spec rules is an error at the value', () => {
  const out = diagnose(`${head}nodes:\n  a:\n    host: h\n    buildHost: "nix@b;reboot"\n`);
  assert.deepEqual(out, ['7:16 error: invalid `buildHost` of node `a`: host `b;reboot` holds `;`; a host name may hold only letters, digits, `.`, `_` and `-`']);
});

test('buildHost in defaults is checked once, where it is written', () => {
  const out = diagnose(`${head}defaults:\n  buildHost: nope\nnodes:\n  a:\n    host: h1\n  b:\n    host: h2\n`);
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^5:14 error: invalid `defaults.buildHost`: `nope` is not/);
});

test('a node system its builder does not list is an error; a listed one, or a builder without systems, is fine', () => {
  const fleet = (system: string, systems: string) =>
    diagnose(`${head}builders:\n  big:\n    host: b1\n${systems}nodes:\n  a:\n    host: h\n    system: ${system}\n    buildHost: big\n`);
  const out = fleet('aarch64-linux', '    systems: [x86_64-linux]\n');
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^11:13 error: node `a` has system `aarch64-linux`, but its build host, builder `big`, builds only `x86_64-linux`/);
  assert.deepEqual(fleet('x86_64-linux', '    systems: [x86_64-linux]\n'), []);
  assert.deepEqual(fleet('aarch64-linux', ''), []);
});

test('a builder cannot be named local or target', () => {
  const out = diagnose(`${head}builders:\n  local:\n    host: b1\nnodes:\n  a:\n    host: h\n`);
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^5:3 error: builder name `local` is reserved/);
});

test('a port in the host spec and a different port key is an error; the same port is fine', () => {
  const out = diagnose(`${head}nodes:\n  a:\n    host: ssh://h:2222\n    port: 22\n`);
  assert.deepEqual(out, ['7:11 error: `port` of node `a` is 22 but its `host` gives port 2222; keep one of them']);
  assert.deepEqual(diagnose(`${head}nodes:\n  a:\n    host: ssh://h:2222\n    port: 2222\n`), []);
});

test('two nodes on the same host:port and profile are an error (an absent port counts as 22); different ports or profiles are fine', () => {
  const same = (a: string, b: string, profile: string) =>
    `8:11 error: node \`${b}\` has the same address as node \`${a}\` (\`10.0.0.1:22\`) and the same profile \`${profile}\`: ` +
    'deploying both would make one revert the other; remove one, or give them different `profile`s';
  const out = diagnose(`${head}nodes:\n  a:\n    host: 10.0.0.1\n  b:\n    host: root@10.0.0.1\n    port: 22\n  c:\n    host: 10.0.0.1\n    port: 2201\n`);
  assert.deepEqual(out, [same('a', 'b', '/nix/var/nix/profiles/system')]);
  const v6 = diagnose(`${head}nodes:\n  a:\n    host: "[::1]"\n    port: 2201\n  b:\n    host: ssh://[::1]:2201\n`);
  assert.match(v6[0]!, /error: node `b` has the same address as node `a` \(`\[::1\]:2201`\)/);
  const profiles = `${head}defaults:\n  profile: /p/shared\nnodes:\n  a:\n    host: 10.0.0.1\n  b:\n    host: 10.0.0.1\n`;
  assert.deepEqual(diagnose(profiles).map((d) => d.replace(/^\d+:\d+/, '')), [same('a', 'b', '/p/shared').replace(/^\d+:\d+/, '')]);
  assert.deepEqual(diagnose(`${profiles}    profile: /p/other\n`), []);
});

test('a defaults key every node overrides gets a warning; one node using it is enough to stay quiet', () => {
  const out = diagnose(`${head}defaults:\n  user: ops\n  tags: [x]\nnodes:\n  a:\n    host: h1\n    user: root\n  b:\n    host: admin@h2\n`);
  assert.deepEqual(out, ['5:3 warning: `defaults.user` is never used: every node sets its own `user`']);
  assert.deepEqual(diagnose(`${head}defaults:\n  user: ops\nnodes:\n  a:\n    host: h1\n    user: root\n  b:\n    host: h2\n`), []);
});

test('nix: both file and flake, or neither, is one error', () => {
  assert.deepEqual(diagnose('version: 1\nnix:\n  file: ./a.nix\n  flake: .\nnodes:\n  a:\n    host: h\n'), [
    '4:3 error: `nix` must set only one of `file` or `flake`, not both',
  ]);
  assert.deepEqual(diagnose('version: 1\nnix: {}\nnodes:\n  a:\n    host: h\n'), ['2:1 error: `nix` must set `file` or `flake`']);
});

test('semantic checks stay quiet about a part the schema already refused', () => {
  // The node lacks `host`: its bad buildHost is not reported on top (fix the schema error first).
  const out = diagnose(`${head}nodes:\n  a:\n    buildHost: nowhere\n`);
  assert.deepEqual(out, ['5:3 error: missing required key `host` in node `a`']);
  // An empty host is the schema's to report, not the host-spec parser's.
  assert.deepEqual(diagnose(`${head}nodes:\n  a:\n    host: ""\n`), ['6:11 error: `host` of node `a` must not be empty']);
});

test('ssh options parse like ssh getopt: bundled flags, attached and separate arguments', async () => {
  const { parseSshOptions } = await import('../../src/config/ssh-options.js');
  const options = parseSshOptions(['-o', 'A=b', '-oC=d', '-vi', 'key', '-4', '-p2222', '-lroot', '-F', 'cfg', '-J', 'jump']);
  assert.deepEqual(
    options.map((o) => [o.flag, o.value, o.index]),
    [['o', 'A=b', 0], ['o', 'C=d', 2], ['v', undefined, 3], ['i', 'key', 3], ['4', undefined, 5], ['p', '2222', 6], ['l', 'root', 7], ['F', 'cfg', 8], ['J', 'jump', 10]],
  );
  // An argument may start with `-`: ssh takes the next element whatever it is.
  assert.deepEqual(parseSshOptions(['-i', '-key']).map((o) => o.value), ['-key']);
  assert.deepEqual(diagnose(`${head}nodes:\n  a:\n    host: h\n    sshOptions: [-o, BatchMode=yes, -C, -i, /k]\n`), []);
});

test('builders use defaults.user, sshOptions and sshConfig too, so those are unused only when builders override them as well', () => {
  const text = (builderUser: string) => `${head}defaults:\n  user: ops\nbuilders:\n  b:\n    host: ${builderUser}b1\nnodes:\n  a:\n    host: h\n    user: root\n`;
  assert.deepEqual(diagnose(text('')), []);
  assert.deepEqual(diagnose(text('nix@')), ['5:3 warning: `defaults.user` is never used: every node and builder sets its own `user`']);
});

test('buildHost: builders resolves, and `builders` is reserved as a builder name', () => {
  assert.deepEqual(diagnose(`${head}builders:\n  b:\n    host: b1\nnodes:\n  a:\n    host: h\n    buildHost: builders\n`), []);
  assert.match(diagnose(`${head}builders:\n  builders:\n    host: b1\nnodes:\n  a:\n    host: h\n`)[0]!, /^5:3 error: builder name `builders` is reserved/);
});
