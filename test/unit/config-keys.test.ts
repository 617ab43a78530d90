// `keys:` in the fleet file: schema and semantic errors at line:col, and how a node's keys are merged and resolved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyseFleet, parseFleet } from '../../src/config/index.js';
import { KEY_DEFAULTS, parsePermissions } from '../../src/config/keys.js';
import { getSchema, type SchemaObject } from '../../src/config/schema.js';

const head = 'version: 1\nnix:\n  file: ./hive.nix\n';

function diagnose(yaml: string): string[] {
  return analyseFleet(yaml, '/srv/fleet.yaml').diagnostics.map((d) => `${d.line}:${d.col} ${d.severity}: ${d.message}`);
}

/** A node `a` with these lines under `keys:` (indented by the caller). */
const withKeys = (lines: string) => diagnose(`${head}nodes:\n  a:\n    host: h\n    keys:\n${lines}`);

test('key defaults equal the schema `default` annotations', () => {
  const key = ((getSchema().$defs as Record<string, SchemaObject>).key!.properties ?? {}) as Record<string, SchemaObject>;
  for (const [name, value] of Object.entries(KEY_DEFAULTS)) assert.deepEqual(key[name]!.default, value, name);
});

test('a key with `text` is refused at its line: the fleet file sits in git', () => {
  const out = withKeys('      wg:\n        env: WG\n        text: hunter2\n');
  assert.deepEqual(out, [
    '10:9 error: `text` in `keys.wg` of node `a` would put the secret itself in the fleet file, which sits in git (and in every clone, fork and CI log of it): ' +
      'give its source instead: `file` (read on the deployer), `command` (its output, e.g. [pass, show, wg/web-1]) or `env` (a variable of the deployer)',
  ]);
  for (const word of ['keyText', 'content', 'secret']) assert.match(withKeys(`      wg:\n        ${word}: x\n`).join('\n'), /would put the secret itself in the fleet file, which sits in git/, word);
});

test('colmena\'s keyFile and keyCommand are pointed to file and command', () => {
  assert.deepEqual(withKeys('      wg:\n        keyFile: ./wg\n'), ["9:9 error: unknown key `keyFile` in `keys.wg` of node `a`; fleet calls colmena's `keyFile` `file`"]);
  assert.deepEqual(withKeys('      wg:\n        keyCommand: [pass, show, wg]\n'), ["9:9 error: unknown key `keyCommand` in `keys.wg` of node `a`; fleet calls colmena's `keyCommand` `command`"]);
});

test('a key needs exactly one source', () => {
  assert.deepEqual(withKeys('      wg: {}\n'), ['8:11 error: `keys.wg` of node `a` must set its source: `file` (read on the deployer), `command` (its output) or `env` (a variable of the deployer)']);
  assert.deepEqual(withKeys('      wg:\n        env: WG\n        file: ./wg\n'), ['10:9 error: `keys.wg` of node `a` must set only one of `file` or `env`']);
  assert.deepEqual(withKeys('      wg:\n        command: []\n'), ['9:18 error: `keys.wg.command` of node `a` must list at least 1 entry']);
});

test('key names are file names: no /, not . or .., no control characters, not fleet\'s own .fleet- files', () => {
  for (const name of ['"a/b"', '".."', '"."', '".fleet-tmp"', '"-rf"', '"a\\tb"', '" x"']) {
    const out = withKeys(`      ${name}:\n        env: X\n`);
    assert.equal(out.length, 1, `${name}: ${out.join('\n')}`);
    assert.match(out[0]!, /^8:7 error: key name `.*` must be a file name: not `\.` or `\.\.`, no `\/` or control characters/, name);
  }
  assert.deepEqual(withKeys(`      ${'k'.repeat(256)}:\n        env: X\n`), [`8:7 error: key name \`${'k'.repeat(256)}\` must be at most 255 characters long`]);
  assert.deepEqual(withKeys('      tls.key:\n        env: X\n      .env:\n        env: X\n      "wg key@1":\n        env: X\n'), []);
});

test('permissions: an octal string, or what YAML made of an unquoted 0640; 0o600 is refused; world-readable warns', () => {
  assert.deepEqual(withKeys('      a1: { env: X, permissions: "0640" }\n      a2: { env: X, permissions: 0640 }\n      a3: { env: X, permissions: "400" }\n'), []);
  assert.deepEqual(withKeys('      a1: { env: X, permissions: 0o600 }\n'), ['8:34 error: `keys.a1.permissions` of node `a` must be an octal mode such as `"0600"` (quoted), got the number 384']);
  assert.deepEqual(withKeys('      a1: { env: X, permissions: "0800" }\n'), ['8:34 error: `keys.a1.permissions` of node `a` must be an octal mode such as `"0600"` or `"0640"`, got `0800`']);
  assert.deepEqual(withKeys('      a1: { env: X, permissions: "0604" }\n'), ['8:34 warning: `keys.a1.permissions` of node `a` is `0604`: every user on the node can read the key; use `0600`, or `0640` with a `group`']);
  assert.equal(parsePermissions(640), 0o640);
  assert.equal(parsePermissions('0600'), 0o600);
  assert.equal(parsePermissions(384), undefined);
});

test('destDir: absolute, no . or .., not in /nix, not fleet\'s own list of keys (stateDir/keys)', () => {
  assert.match(withKeys('      a1: { env: X, destDir: run/keys }\n')[0]!, /^8:30 error: `keys\.a1\.destDir` of node `a` must be an absolute path/);
  assert.deepEqual(withKeys('      a1: { env: X, destDir: /run/../etc }\n'), ['8:30 error: `keys.a1.destDir` of node `a` `/run/../etc` must not hold `.` or `..`: write the directory itself']);
  assert.deepEqual(withKeys('      a1: { env: X, destDir: /nix/store/k }\n'), ['8:30 error: `keys.a1.destDir` of node `a` `/nix/store/k` is in /nix, where every user can read what the store holds: keys go elsewhere (default `/run/keys`)']);
  assert.deepEqual(withKeys('      a1: { env: X, destDir: /var/lib/fleet/keys/ }\n'), ['8:30 error: `keys.a1.destDir` of node `a` `/var/lib/fleet/keys/` is where fleet keeps its list of the keys it wrote (`stateDir` `/var/lib/fleet`): choose another directory']);
});

test('tagDefaults: two tags giving one key differently is an error unless the node chooses; an unused tag warns', () => {
  const fleet = (own: string) => diagnose(`${head}tagDefaults:\n  web:\n    keys:\n      tls: { file: ./web.key }\n  eu:\n    keys:\n      tls: { file: ./eu.key }\n  db:\n    keys: {}\nnodes:\n  a:\n    host: h\n    tags: [web, eu]\n${own}`);
  assert.deepEqual(fleet(''), [
    '11:3 warning: `tagDefaults.db` is never used: no node has the tag `db`',
    '16:11 error: node `a` gets key `tls` from both `tagDefaults.web` and `tagDefaults.eu`, which differ: set `keys.tls` on the node to choose',
  ]);
  assert.deepEqual(fleet('    keys:\n      tls: { file: ./mine.key }\n'), ['11:3 warning: `tagDefaults.db` is never used: no node has the tag `db`']);
  assert.match(diagnose(`${head}tagDefaults:\n  "a b": {}\nnodes:\n  a:\n    host: h\n`)[0]!, /^5:3 error: tag name `a b` must start with a letter or digit/);
});

test('a node\'s keys: its own over its tags\' over defaults\', by name; defaults applied, sorted by name', () => {
  const fleet = parseFleet(
    `${head}defaults:\n  keys:\n    common: { env: COMMON }\n    tls: { file: ./default.key }\ntagDefaults:\n  web:\n    keys:\n      tls: { file: keys/web.key, user: nginx, group: nginx, permissions: 0440 }\n      api: { command: [pass, show, api], uploadAt: post-activation, destDir: /etc/secrets/ }\n` +
      'nodes:\n  a:\n    host: h\n    tags: [web]\n    keys:\n      api: { env: API }\n  b:\n    host: h2\n',
    '/srv/fleet.yaml',
  );
  const a = fleet.nodes.a!.keys;
  assert.deepEqual(a.map((k) => k.name), ['api', 'common', 'tls']);
  assert.deepEqual(a[0], { name: 'api', source: { kind: 'env', name: 'API' }, destDir: '/run/keys', path: '/run/keys/api', user: 'root', group: 'root', permissions: 0o600, uploadAt: 'pre-activation' });
  assert.deepEqual(a[2], { name: 'tls', source: { kind: 'file', path: '/srv/keys/web.key' }, destDir: '/run/keys', path: '/run/keys/tls', user: 'nginx', group: 'nginx', permissions: 0o440, uploadAt: 'pre-activation' });
  assert.deepEqual(fleet.nodes.b!.keys.map((k) => [k.name, k.source]), [['common', { kind: 'env', name: 'COMMON' }], ['tls', { kind: 'file', path: '/srv/default.key' }]]);
  assert.deepEqual(fleet.warnings, [], 'defaults.keys overridden by a node is not "never used": keys merge by name');
  const post = parseFleet(`${head}nodes:\n  a:\n    host: h\n    keys:\n      api: { command: [pass, show, api], uploadAt: post-activation, destDir: /etc/secrets/ }\n`, '/srv/fleet.yaml').nodes.a!.keys[0]!;
  assert.deepEqual([post.source, post.destDir, post.path, post.uploadAt], [{ kind: 'command', argv: ['pass', 'show', 'api'] }, '/etc/secrets', '/etc/secrets/api', 'post-activation']);
});
