// The cache route on systemd lab hosts, through their nix-daemon, as the unprivileged `deploy` user: a daemon that
// trusts it takes the substituter fleet names; one that does not ignores it, and fleet says what to change; one with
// the cache in its own nix.conf fetches from it all the same. Every check reads the hosts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { readSystemState, startCacheServer, type CacheServer } from '../../lab/index.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { nodeDoneText, outcomesOf, runFleet } from './run-fleet.js';

const NODES = ['n1', 'n2', 'n3'];
const KEY_NAME = 'fleet-lab-cache-1';

describe('the cache route on systemd lab hosts (nix-daemon, user deploy)', { skip: requireSystemdLabCapable() }, () => {
  // n2 and n3 do not trust deploy; n3 has the cache in its own nix.conf.
  const ctx = useSystemdLab({ before, after }, { hosts: NODES, trustedUsers: { n2: ['root'], n3: ['root'] } });
  const nonce = randomBytes(4).toString('hex');
  let server: CacheServer;
  let publicKey: string;

  before(async () => {
    const lab = ctx.lab;
    await execa('nix-store', ['--generate-binary-cache-key', KEY_NAME, `${lab.dir}/cache.sec`, `${lab.dir}/cache.pub`]);
    publicKey = (await readFile(`${lab.dir}/cache.pub`, 'utf8')).trim();
    // On this machine's side of the lab: the hosts reach it at the gateway address.
    server = await startCacheServer(`${lab.dir}/cache-server`, { address: lab.subnet.gateway4 });
    const conf = `substituters = ${server.url}\ntrusted-public-keys = ${publicKey}\n`;
    const r = await lab.exec('n3', ['sh', '-c', 'cat >> /etc/nix/nix.conf && systemctl restart nix-daemon.service'], { input: conf });
    assert.equal(r.exitCode, 0, r.stderr);
  });

  after(async () => {
    await server?.stop();
  });

  test('trusted: fetched; not trusted: refused with what to change; the cache in the target\'s nix.conf: fetched', async () => {
    const lab = ctx.lab;
    const hive = `${lab.dir}/hive.nix`;
    const outs = await configureHive(lab, hive, Object.fromEntries(NODES.map((n) => [n, { name: `cached-${nonce}`, nonce, packages: [{ name: `payload-${nonce}`, bytes: 4096 }] }])));
    const file = await lab.writeFleet({
      nixFile: hive,
      defaults: { user: 'deploy', copy: 'cache!' },
      extra: { cache: { url: `file://${server.dir}`, substituter: server.url, publicKey, signingKey: `${lab.dir}/cache.sec` } },
    });
    const before2 = await readSystemState(lab, 'n2');
    const run = await runFleet(['-f', file, 'apply', '--json', '--keep-going']);
    assert.deepEqual(outcomesOf(run), { n1: 'activated', n2: 'failed', n3: 'activated' }, run.stderr);
    assert.match(nodeDoneText(run, 'n2'), new RegExp(`\`deploy\` is not a trusted user of the target's Nix, so it may not name ${server.url.replaceAll('.', '\\.')}: add \`trusted-users = deploy\``));
    assert.deepEqual(await readSystemState(lab, 'n2'), before2, 'n2 is left as it was');
    for (const node of ['n1', 'n3']) {
      assert.equal((await readSystemState(lab, node)).current, outs[node], node);
      const sigs = await lab.exec(node, ['nix', '--extra-experimental-features', 'nix-command', 'path-info', '--sigs', '--recursive', outs[node]!]);
      assert.equal(sigs.exitCode, 0, sigs.stderr);
      for (const line of sigs.stdout.trim().split('\n')) assert.ok(line.includes(`${KEY_NAME}:`), `${node}: ${line}`);
    }
  });
});
