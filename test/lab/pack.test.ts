// The package as a user gets it: `npm pack`, install the tarball in an empty directory, run its `fleet plan`
// against a lab host. Catches files missing from `files` (nix/eval.nix) and test infrastructure shipped (lab/).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { evalOutPaths, labNixEnv, writeHive } from '../../lab/index.js';
import { requireLabCapable, useLab } from './support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The environment without npm's own variables: a parent `npm test` must not steer the inner npm. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^npm_/i.test(e[0])));
  return { ...env, ...extra };
}

describe('the packed tarball, installed in an empty directory', { skip: requireLabCapable() }, () => {
  const ctx = useLab({ before, after }, ['p1']);
  let dir = '';
  before(async () => {
    dir = await mkdtemp('/tmp/fleet-pack-');
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('ships nix/eval.nix and not the lab; its `fleet plan` works against a lab host', { timeout: 300_000 }, async (t) => {
    assert.ok(existsSync(`${ROOT}/dist/cli/bin.js`), 'dist/ is missing: run `npm run build` first (npm test does)');
    const packed = await execa('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, env: cleanEnv(), extendEnv: false });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info);
    const files = info.files.map((f) => f.path);
    assert.ok(files.includes('nix/eval.nix'), 'nix/eval.nix is in the tarball');
    assert.ok(files.includes('dist/cli/bin.js') && files.includes('bin/fleet.js'));
    assert.deepEqual(files.filter((f) => /^(lab|dist\/lab|test|fixtures|src|scripts|bench)\//.test(f)), [], 'no lab, tests or sources shipped');

    const app = `${dir}/app`;
    await execa('mkdir', [app]);
    await writeFile(`${app}/package.json`, '{ "name": "pack-test", "private": true }\n');
    // --prefer-offline: the cache `npm ci` filled serves what it has; the registry only what it lacks.
    const installed = await execa('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', `${dir}/${info.filename}`], { cwd: app, env: cleanEnv(), extendEnv: false, reject: false });
    assert.equal(installed.exitCode, 0, installed.stderr);
    t.diagnostic(`installed ${info.filename} (${files.length} files)`);

    const { lab } = ctx;
    const hive = await writeHive(`${lab.dir}/hive.nix`, { p1: { name: 'packed' } }, lab.witness);
    const fleetFile = await lab.writeFleet({ nixFile: hive });
    const fleet = `${app}/node_modules/.bin/fleet`;
    const r = await execa(fleet, ['-f', fleetFile, 'plan', '--json'], { cwd: app, env: cleanEnv({ ...labNixEnv, CI: 'true' }), extendEnv: false, reject: false, stdin: 'ignore' });
    assert.equal(r.exitCode, 0, `${r.stderr}\n${r.stdout}`);
    const out = (await evalOutPaths(hive)).p1!;
    const docs = r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.stringify(JSON.parse(l)));
    assert.ok(docs.some((d) => d.includes('"p1"') && d.includes(out)), `the plan names p1 and its system ${out}:\n${r.stdout}`);
  });
});
