// Nix machines lines and the ssh_config for `buildHost: builders` (src/nix/machines.ts), checked against real ssh -G.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseFleet } from '../../src/config/index.js';
import { buildersOption, buildersSshConfig, machinesLine } from '../../src/nix/machines.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fleet-machines-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const fleet = parseFleet(
  `version: 1
nix: { file: ./hive.nix }
defaults:
  user: deploy
  sshOptions: [-o, ServerAliveInterval=5, -i, /etc/fleet/key]
  sshConfig: ./user config
builders:
  big:
    host: build-1
    systems: [x86_64-linux, i686-linux]
    maxJobs: 8
    speedFactor: 2
    supportedFeatures: [kvm, big-parallel]
    mandatoryFeatures: [big-parallel]
    publicHostKey: c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUE=
  small:
    host: ssh://nix@small.example.com:2222
    sshOptions: [-vv, "-4", -oConnectTimeout=3, -C]
    sshConfig: /dev/null
nodes:
  a: { host: h, buildHost: builders }
`,
  path.join(dir, 'fleet.yaml'),
);
const { big, small } = fleet.builders as Required<typeof fleet.builders>;

test('a machines line has the eight fields in Nix order, `-` for empty ones, and no port in the URI', () => {
  assert.equal(
    machinesLine(big!),
    'ssh://deploy@build-1 x86_64-linux,i686-linux - 8 2 kvm,big-parallel big-parallel c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUE=',
  );
  assert.equal(machinesLine(small!), 'ssh://nix@small.example.com - - 1 1 - - -');
  assert.equal(machinesLine(small!, { sshKey: '/k' }), 'ssh://nix@small.example.com - /k 1 1 - - -');
  const { user: _user, ...noUser } = small!.host;
  assert.equal(machinesLine({ ...small!, host: noUser }), 'ssh://small.example.com - - 1 1 - - -');
});

test('--builders joins the lines with `;`', () => {
  assert.equal(buildersOption([big!, small!]), `${machinesLine(big!)} ; ${machinesLine(small!)}`);
});

test('the ssh_config: a Host block per builder with its port, its ssh options as config lines, then its sshConfig', () => {
  assert.equal(
    buildersSshConfig([big!, small!], { defaultConfigs: ['/home/u/.ssh/config', '/etc/ssh/ssh_config'] }),
    [
      '# Written by fleet for `buildHost: builders`: Nix runs ssh with NIX_SSHOPTS="-F <this file>".',
      '',
      '# builder big (deploy@build-1)',
      'Host build-1',
      '  ServerAliveInterval=5',
      '  IdentityFile /etc/fleet/key',
      `  Include "${path.join(dir, 'user config')}"`,
      '',
      '# builder small (nix@small.example.com:2222)',
      'Host small.example.com',
      '  Port 2222',
      '  AddressFamily inet',
      '  ConnectTimeout=3',
      '  Compression yes',
      '  LogLevel DEBUG2',
      '',
    ].join('\n'),
  );
  const { sshConfig: _c, ...noConfig } = small!;
  assert.match(buildersSshConfig([noConfig], { defaultConfigs: ['/h/.ssh/config', '/etc/ssh/ssh_config'] }), /LogLevel DEBUG2\n {2}Include \/h\/\.ssh\/config\n {2}Include \/etc\/ssh\/ssh_config\n$/);
});

test('real ssh reads the file as meant: builder settings first, the user config still matches, Nix`s command-line options win', async () => {
  writeFileSync(path.join(dir, 'user config'), 'Host build-1\n  HostName 127.0.0.1\n  Port 2205\nHost other\n  Port 9999\nHost *\n  ServerAliveCountMax 7\n');
  const file = path.join(dir, 'builders_config');
  writeFileSync(file, buildersSshConfig([big!, small!], { defaultConfigs: [] }), { mode: 0o600 });
  const resolved = async (...args: string[]) => {
    const r = await execa('ssh', ['-G', '-F', file, ...args], { stdin: 'ignore' });
    return Object.fromEntries(r.stdout.split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
  };
  const b1 = await resolved('deploy@build-1');
  assert.deepEqual([b1.hostname, b1.port, b1.user, b1.serveraliveinterval, b1.serveralivecountmax], ['127.0.0.1', '2205', 'deploy', '5', '7']);
  assert.match(b1.identityfile!, /^\/etc\/fleet\/key/);
  const b2 = await resolved('nix@small.example.com');
  assert.deepEqual([b2.hostname, b2.port, b2.addressfamily, b2.connecttimeout, b2.compression, b2.loglevel], ['small.example.com', '2222', 'inet', '3', 'yes', 'DEBUG2']);
  assert.notEqual(b2.serveralivecountmax, '7', "another builder's included config leaked into this one");
  // Nix adds -i and -oUserKnownHostsFile (publicHostKey) after NIX_SSHOPTS: on the command line they win over the file.
  const pinned = await resolved('-oUserKnownHostsFile=/pinned', 'deploy@build-1');
  assert.equal(pinned.userknownhostsfile, '/pinned');
});
