// The cache route (copy: cache) on a light lab: fleet uploads to a file:// cache that Debian's nginx serves over
// HTTP, and the hosts fetch from it. Every check reads the hosts: their running system, the signatures in their
// stores, and a witness of every SSH session's command (a forced command in the lab's authorized_keys).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { execa } from 'execa';
import { evalOutPaths, readSystemState, startCacheServer, startLab, writeHive, type CacheServer, type Lab } from '../../lab/index.js';
import type { EventOf } from '../../src/events.js';
import { requireLabCapable } from './support.js';
import { NIX_ENV, nodeDoneText, outcomesOf, runFleet, type FleetRun } from './run-fleet.js';

const NODES = ['n1', 'n2', 'n3'];
const KEY_NAME = 'fleet-lab-cache-1';

const eventsOf = <T extends 'cache-upload' | 'cache-fallback' | 'copy-done'>(run: FleetRun, type: T) =>
  run.events.filter((e): e is EventOf<T> => e.type === type);

describe('the cache route on a light lab with nginx', { skip: requireLabCapable() }, () => {
  let lab: Lab;
  let server: CacheServer;
  let hive: string;
  let publicKey: string;
  let sessions: string; // one line per SSH session: `<host> <its command>`
  const nonce = randomBytes(4).toString('hex');

  /** A fleet file whose nodes take `copy` (and whose cache is served at `substituter`). */
  const fleetFile = (copy: string, substituter = server.url) => lab.writeFleet({
    nixFile: hive,
    defaults: { copy },
    extra: { cache: { url: `file://${server.dir}`, substituter, publicKey, signingKey: `${lab.dir}/cache.sec` } },
  });

  /** Every node gets the system named `tag` (a new derivation per tag): returns its out path. */
  const configure = async (tag: string): Promise<string> => {
    await writeHive(hive, Object.fromEntries(NODES.map((n) => [n, { name: `cache-${tag}`, nonce: `${nonce}-${tag}`, packages: [{ name: `payload-${tag}`, bytes: 4096 }] }])), lab.witness);
    return (await evalOutPaths(hive)).n1!;
  };

  const closureOf = async (path: string) => (await execa('nix-store', ['--query', '--requisites', path], { env: NIX_ENV })).stdout.split('\n').filter(Boolean);
  const pushSessions = async (host: string) => (await readFile(sessions, 'utf8')).split('\n').filter((l) => l.startsWith(`${host} `) && l.includes('nix-store --serve --write'));

  /** The signatures each path of `path`'s closure carries in `host`'s own store. */
  async function sigsOn(host: string, path: string): Promise<string[][]> {
    const r = await lab.exec(host, ['nix', '--extra-experimental-features', 'nix-command', 'path-info', '--sigs', '--recursive', path]);
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).slice(1));
  }

  before(async () => {
    lab = await startLab({ names: NODES });
    hive = `${lab.dir}/hive.nix`;
    await execa('nix-store', ['--generate-binary-cache-key', KEY_NAME, `${lab.dir}/cache.sec`, `${lab.dir}/cache.pub`]);
    publicKey = (await readFile(`${lab.dir}/cache.pub`, 'utf8')).trim();
    server = await startCacheServer(`${lab.dir}/cache-server`);
    // The witness: sshd runs this for every session (over a master too) with the command asked for.
    sessions = `${lab.dir}/sessions.log`;
    await writeFile(sessions, '');
    const wrapper = `${lab.dir}/session-witness.sh`;
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s %s\\n' "$(hostname)" "$SSH_ORIGINAL_COMMAND" >> ${sessions}\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`);
    await chmod(wrapper, 0o755);
    const authorized = `${lab.dir}/authorized_keys`;
    const keys = (await readFile(authorized, 'utf8')).split('\n').filter(Boolean);
    await writeFile(authorized, keys.map((k) => `command="${wrapper}" ${k}`).join('\n') + '\n');
  });

  // Each test reads only its own sessions (a build host's drv copy in one must not count in another).
  beforeEach(async () => {
    await writeFile(sessions, '');
  });

  after(async () => {
    await server?.stop();
    await lab?.down();
  });

  test('every node fetches its system from the cache, signed by its key; one upload, no push session', async () => {
    const out = await configure('a');
    // fleet plan: the route per node and what goes up; --copy push overrides the file's copy: cache.
    const planned = await runFleet(['plan', '-f', await fleetFile('cache')]);
    assert.equal(planned.code, 0, planned.stderr);
    assert.match(planned.stdout, new RegExp(`^  n1 +activate  fetch from cache ${server.url.replaceAll('.', '\\.')} \\(push if it cannot\\)  switch needed$`, 'm'));
    assert.match(planned.stdout, new RegExp(`^upload: 1 closure\\(s\\) to file://${server.dir}, once, before any node fetches \\(paths it has are skipped\\)\n  ${out}$`, 'm'));
    const pushed = await runFleet(['plan', '-f', await fleetFile('cache'), '--copy', 'push']);
    assert.match(pushed.stdout, /^ {2}n1 +activate {2}copy from local {2}switch needed$/m);
    assert.doesNotMatch(pushed.stdout, /^upload:/m);
    const run = await runFleet(['apply', '-f', await fleetFile('cache'), '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), Object.fromEntries(NODES.map((n) => [n, 'activated'])));
    const closure = await closureOf(out);
    const uploads = eventsOf(run, 'cache-upload');
    assert.equal(uploads.length, 1, 'one upload for three nodes of one system');
    assert.equal(uploads[0]!.ok, true);
    assert.equal(uploads[0]!.paths + uploads[0]!.skipped, closure.length);
    assert.ok(!JSON.stringify(run.events).includes('cache.sec'), 'the signing key is never in an event');
    // Each path went to the cache once: one NAR file per path.
    assert.equal((await readdir(`${server.dir}/nar`)).length, closure.length);
    assert.deepEqual(eventsOf(run, 'copy-done').map((e) => [e.node, e.route]).sort(), NODES.map((n) => [n, 'cache']));
    for (const node of NODES) {
      assert.equal((await readSystemState(lab, node)).current, out, node);
      const sigs = await sigsOn(node, out);
      assert.equal(sigs.length, closure.length, node);
      for (const s of sigs) assert.ok(s.some((sig) => sig.startsWith(`${KEY_NAME}:`)), `${node}: every path carries the cache's signature: ${s.join(' ')}`);
      assert.deepEqual(await pushSessions(node), [], `${node} received no push (nix-store --serve --write)`);
    }
    // They fetched over HTTP, from nginx.
    assert.match(await readFile(server.accessLog, 'utf8'), /GET \/[0-9a-z]{32}\.narinfo HTTP\/1\.1" 200/);
  });

  test('a staged rollout uploads once, before the first activation; later waves only fetch', async () => {
    const out = await configure('w');
    const run = await runFleet(['apply', '-f', await fleetFile('cache'), '--json', '--waves', '1,100%']);
    assert.equal(run.code, 0, run.stderr);
    const uploads = run.events.filter((e) => e.type === 'cache-upload');
    const firstActivation = run.events.findIndex((e) => e.type === 'node-phase' && e.phase === 'activate');
    assert.equal(uploads.length, 1);
    assert.ok(run.events.indexOf(uploads[0]!) < firstActivation, 'uploaded before wave 1 activates');
    assert.deepEqual(run.events.filter((e) => e.type === 'wave-start').map((e) => e.type === 'wave-start' && e.nodes.length), [1, 2]);
    assert.deepEqual(eventsOf(run, 'copy-done').map((e) => e.route), ['cache', 'cache', 'cache']);
    for (const node of NODES) {
      assert.equal((await readSystemState(lab, node)).current, out, node);
      assert.deepEqual(await pushSessions(node), [], node);
    }
  });

  test('a node built on a build host: the build host uploads, the deployer never holds the closure', async () => {
    const out = await configure('h');
    // No signingKey: the deployer's key file is not the build host's; the url names a key file there (the light
    // lab's hosts share this file system), as a builder's own nix.conf (secret-key-files) would.
    const file = await lab.writeFleet({
      nixFile: hive,
      path: `${lab.dir}/fleet-builder.yaml`,
      defaults: { copy: 'cache!' },
      nodes: { n1: { buildHost: 'root@n3' } },
      extra: { cache: { url: `file://${server.dir}?secret-key=${lab.dir}/cache.sec`, substituter: server.url, publicKey } },
    });
    const run = await runFleet(['apply', '-f', file, '--json', '--on', 'n1']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(eventsOf(run, 'cache-upload').length, 1);
    assert.equal((await execa('nix-store', ['--check-validity', out], { env: NIX_ENV, reject: false })).exitCode, 1, 'the deployer never held it');
    assert.equal((await readSystemState(lab, 'n1')).current, out);
    for (const s of await sigsOn('n1', out)) assert.ok(s.some((sig) => sig.startsWith(`${KEY_NAME}:`)), s.join(' '));
    assert.deepEqual(await pushSessions('n1'), []);
  });

  test('a cache nobody can reach: nodes are pushed to and say so; strict, they fail and are left as they were', async () => {
    const down = 'http://127.0.0.1:9'; // discard port: nothing listens
    const out = await configure('b');
    const strict = await runFleet(['apply', '-f', await fleetFile('cache!', down), '--json', '--keep-going']);
    assert.notEqual(strict.code, 0);
    for (const node of NODES) {
      assert.equal(outcomesOf(strict)[node], 'failed');
      assert.match(nodeDoneText(strict, node), /copy: cache! \(strict\), not pushed: cannot reach the cache at http:\/\/127\.0\.0\.1:9/);
      assert.notEqual((await readSystemState(lab, node)).current, out, `${node} still runs its old system`);
      assert.deepEqual(await pushSessions(node), [], `${node}: strict, never pushed`);
    }
    const run = await runFleet(['apply', '-f', await fleetFile('cache', down), '--json']);
    assert.equal(run.code, 0, run.stderr);
    const fallbacks = eventsOf(run, 'cache-fallback');
    assert.deepEqual(fallbacks.map((e) => e.node).sort(), NODES);
    for (const e of fallbacks) assert.match(e.reason, /^cannot reach the cache at http:\/\/127\.0\.0\.1:9 /);
    assert.match(run.stderr, /n1: pushed instead of fetched from the cache: cannot reach the cache at http:\/\/127\.0\.0\.1:9/);
    for (const node of NODES) {
      assert.equal((await readSystemState(lab, node)).current, out, node);
      assert.equal((await pushSessions(node)).length, 1, `${node}: pushed once`);
    }
  });

  test('a path tampered with in the cache, or unsigned there, is refused by the target and reported on its node', async () => {
    // The cache gets the closure before fleet runs (fleet then skips what it has): once signed and then
    // tampered with, once unsigned.
    for (const [tag, how] of [['c', 'tampered'], ['d', 'unsigned']] as const) {
      const out = await configure(tag);
      await execa('nix-build', [hive, '-A', 'n1', '--no-out-link'], { env: NIX_ENV });
      const payload = (await closureOf(out)).find((p) => p.endsWith(`-payload-${tag}`))!;
      const url = how === 'tampered' ? `file://${server.dir}?secret-key=${lab.dir}/cache.sec&compression=none` : `file://${server.dir}?compression=none`;
      const copied = await execa('nix', ['--extra-experimental-features', 'nix-command', 'copy', '--to', url, out], { env: NIX_ENV, reject: false });
      assert.equal(copied.exitCode, 0, copied.stderr);
      if (how === 'tampered') {
        // The payload is 4096 zero bytes: one flipped in its middle keeps the NAR well-formed, with other content.
        const narinfo = await readFile(`${server.dir}/${payload.slice('/nix/store/'.length, '/nix/store/'.length + 32)}.narinfo`, 'utf8');
        const nar = /^URL: (.+)$/m.exec(narinfo)![1]!;
        const bytes = await readFile(`${server.dir}/${nar}`);
        const at = Math.floor(bytes.length / 2);
        bytes[at] = bytes[at]! ^ 0xff;
        await writeFile(`${server.dir}/${nar}`, bytes);
      }
      const strict = await runFleet(['apply', '-f', await fleetFile('cache!'), '--json', '--on', 'n1']);
      assert.notEqual(strict.code, 0);
      const reason = how === 'tampered' ? /does not match its signed hash: the target refused it/ : new RegExp(`is not signed by the cache's key \`${KEY_NAME}\`: the target refused it`);
      assert.match(nodeDoneText(strict, 'n1'), reason);
      assert.notEqual((await readSystemState(lab, 'n1')).current, out);
      assert.equal((await lab.exec('n1', ['nix-store', '--check-validity', out])).exitCode, 1, `n1 did not take the ${how} path`);
      // Not strict: the same refusal, then a push from the deployer's store.
      const run = await runFleet(['apply', '-f', await fleetFile('cache'), '--json', '--on', 'n2']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(eventsOf(run, 'cache-fallback')[0]!.reason, reason);
      assert.equal((await readSystemState(lab, 'n2')).current, out);
    }
  });
});
