// Host specs: every accepted form, and every refusal (ssh option injection, shell syntax, bad ports).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostSpec } from '../../src/config/index.js';

const accepted: [string, ReturnType<typeof parseHostSpec>][] = [
  ['web-1', { host: 'web-1' }],
  ['web-1.example.com', { host: 'web-1.example.com' }],
  ['10.0.0.1', { host: '10.0.0.1' }],
  ['root@web-1', { user: 'root', host: 'web-1' }],
  ['deploy_user.x@web-1', { user: 'deploy_user.x', host: 'web-1' }],
  ['ssh://web-1', { host: 'web-1' }],
  ['ssh://root@web-1', { user: 'root', host: 'web-1' }],
  ['ssh://root@web-1:2222', { user: 'root', host: 'web-1', port: 2222 }],
  ['ssh://web-1:1', { host: 'web-1', port: 1 }],
  ['ssh://web-1:65535', { host: 'web-1', port: 65535 }],
  ['ssh-ng://web-1', { host: 'web-1' }],
  ['ssh-ng://nix@web-1:22', { user: 'nix', host: 'web-1', port: 22 }],
  ['[2001:db8::1]', { host: '2001:db8::1' }],
  ['user@[::1]', { user: 'user', host: '::1' }],
  ['ssh://user@[::1]:22', { user: 'user', host: '::1', port: 22 }],
  ['ssh://[2001:db8::1]', { host: '2001:db8::1' }],
  ['ssh-ng://[fe80::1%eth0]:2201', { host: 'fe80::1%eth0', port: 2201 }],
  ['2001:db8::1', { host: '2001:db8::1' }],
  ['root@::1', { user: 'root', host: '::1' }],
];

for (const [text, spec] of accepted) {
  test(`accepts ${text}`, () => assert.deepEqual(parseHostSpec(text), spec));
}

/** [input, a fragment the message must hold] */
const refused: [string, string][] = [
  ['', 'empty host spec'],
  // ssh option injection: a leading `-` in host or user
  ['-oProxyCommand=touch /tmp/x', 'host `-oProxyCommand=touch /tmp/x` starts with `-`, so ssh would read it as an option'],
  ['-p2222', 'starts with `-`'],
  ['-oProxyCommand=x@web-1', 'user `-oProxyCommand=x` starts with `-`'],
  ['ssh://-oProxyCommand=x', 'host `-oProxyCommand=x` starts with `-`'],
  ['ssh://-lroot@web-1', 'user `-lroot` starts with `-`'],
  // white space
  ['web 1', 'host `web 1` holds a space'],
  ['web\t1', 'holds a tab'],
  ['web\n1', 'holds a line break'],
  ['ro ot@web-1', 'user `ro ot` holds a space'],
  // missing parts
  ['root@', 'missing host in `root@`'],
  ['@web-1', 'missing user before `@` in `@web-1`'],
  ['ssh://', 'missing host in `ssh://`'],
  ['ssh://root@', 'missing host'],
  ['ssh://:22', 'missing host in `ssh://:22`'],
  ['ssh://root@:22', 'missing host in `ssh://root@:22`'],
  ['a@b@web-1', 'user `a@b` holds `@`'],
  // schemes, paths, ports
  ['http://web-1', 'unsupported scheme `http://`'],
  ['ssh+ng://web-1', 'unsupported scheme `ssh+ng://`'],
  ['ssh://web-1/', 'nothing may follow the host (found `/`)'],
  ['ssh://web-1?x=1', 'nothing may follow the host (found `?x=1`)'],
  ['ssh://web-1#frag', 'nothing may follow the host'],
  ['web-1:2222', 'a port goes in the `port` key or in a URL such as `ssh://web-1:2222`'],
  ['ssh://web-1:0', 'port `0` in `ssh://web-1:0` must be a number from 1 to 65535'],
  ['ssh://web-1:65536', 'port `65536`'],
  ['ssh://web-1:22a', 'port `22a`'],
  ['ssh://web-1:', 'port `` in'],
  ['ssh://web-1:-22', 'port `-22`'],
  ['ssh://user:secret@web-1', 'user `user:secret` holds `:`'],
  // brackets
  ['[2001:db8::1', 'missing `]`'],
  ['[web-1]', '`[web-1]` is not an IPv6 address'],
  ['[::1]:22', 'unexpected `:22` after `[::1]`'],
  ['ssh://[::1]x', 'unexpected `x` after `[::1]`'],
  ['root@[::zz]', '`[::zz]` in `root@[::zz]` is not an IPv6 address'],
];

for (const [text, fragment] of refused) {
  test(`refuses ${JSON.stringify(text)}`, () => {
    assert.throws(() => parseHostSpec(text), (e: Error) => {
      assert.ok(e.message.includes(fragment), `message: ${e.message}`);
      return true;
    });
  });
}

// Every shell metacharacter and quote, in the host and in the user.
for (const c of [...';&|$`<>(){}[]*?!~#\'"\\=,%^+/'] as const) {
  test(`refuses ${JSON.stringify(c)} in a host and in a user`, () => {
    assert.throws(() => parseHostSpec(`web${c}1`), /host .* holds|is not an IPv6|missing `]`|a port goes|unexpected/);
    assert.throws(() => parseHostSpec(`us${c}er@web-1`), /user .* holds/);
  });
}
