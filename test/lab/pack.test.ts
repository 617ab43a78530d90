// The package as a user gets it, from a fresh `git clone` (no dist/): `npm pack` must build it, and so must
// `npm install` of the git repository. Each result is installed in an empty directory and its `fleet` run:
// --version, check, and a plan against a lab host. Also catches files missing from `files` (nix/eval.nix) and
// test infrastructure shipped (lab/). The clone holds the repository's committed HEAD.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { evalOutPaths, labNixEnv, writeHive } from '../../lab/index.js';
import { requireLabCapable, useLab } from './support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string }).version;

/** The environment without npm's own variables: a parent `npm test` must not steer the inner npm. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^npm_/i.test(e[0])));
  return { ...env, ...extra };
}

// --prefer-offline: the cache `npm ci` filled serves what it has; the registry only what it lacks.
const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

describe('the package from a fresh clone: packed, and installed from git', { skip: requireLabCapable() }, () => {
  const ctx = useLab({ before, after }, ['p1']);
  let dir = '';
  let clone = '';
  before(async () => {
    dir = await mkdtemp('/tmp/fleet-pack-');
    clone = `${dir}/clone`;
    await execa('git', ['clone', '--quiet', ROOT, clone]);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** An empty project that installs `spec` (a tarball or a git URL) and returns the path of its `fleet`. */
  const install = async (name: string, spec: string): Promise<string> => {
    const app = `${dir}/${name}`;
    await mkdir(app);
    await writeFile(`${app}/package.json`, `{ "name": "${name}", "private": true }\n`);
    const installed = await execa('npm', ['install', ...NPM_QUIET, spec], { cwd: app, env: cleanEnv(), extendEnv: false, reject: false });
    assert.equal(installed.exitCode, 0, installed.stderr);
    return `${app}/node_modules/.bin/fleet`;
  };

  /** What a user does first: --version, check, and a plan against a lab host that names its system. */
  const works = async (fleet: string, tag: string) => {
    const run = (args: string[]) => execa(fleet, args, { cwd: dir, env: cleanEnv({ ...labNixEnv, CI: 'true' }), extendEnv: false, reject: false, stdin: 'ignore' });
    const version = await run(['--version']);
    assert.equal(version.exitCode, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
    const { lab } = ctx;
    const hive = await writeHive(`${lab.dir}/hive-${tag}.nix`, { p1: { name: `packed-${tag}` } }, lab.witness);
    const fleetFile = await lab.writeFleet({ nixFile: hive, path: `${lab.dir}/fleet-${tag}.yaml` });
    const check = await run(['-f', fleetFile, 'check']);
    assert.equal(check.exitCode, 0, `${check.stderr}\n${check.stdout}`);
    const plan = await run(['-f', fleetFile, 'plan', '--json']);
    assert.equal(plan.exitCode, 0, `${plan.stderr}\n${plan.stdout}`);
    const out = (await evalOutPaths(hive)).p1!;
    const docs = plan.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.stringify(JSON.parse(l)));
    assert.ok(docs.some((d) => d.includes('"p1"') && d.includes(out)), `the plan names p1 and its system ${out}:\n${plan.stdout}`);
  };

  test('npm pack builds dist/ itself: ships it and nix/eval.nix, not the lab; the installed fleet works', { timeout: 300_000 }, async (t) => {
    assert.equal(existsSync(`${clone}/dist`), false, 'a fresh clone has no dist/');
    // The developer's tools without an install (whose `prepare` would build first): what `npm pack` alone does.
    await symlink(realpathSync(`${ROOT}/node_modules`), `${clone}/node_modules`);
    const packed = await execa('npm', ['pack', '--json', '--loglevel=error', '--pack-destination', dir], { cwd: clone, env: cleanEnv(), extendEnv: false });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info);
    const files = info.files.map((f) => f.path);
    assert.ok(files.includes('dist/cli/bin.js') && files.includes('bin/fleet.js'), 'the compiled CLI is in the tarball');
    assert.ok(files.includes('nix/eval.nix'), 'nix/eval.nix is in the tarball');
    assert.deepEqual(files.filter((f) => /^(lab|dist\/lab|test|fixtures|src|scripts|bench)\//.test(f)), [], 'no lab, tests or sources shipped');
    t.diagnostic(`packed ${info.filename} (${files.length} files)`);
    await works(await install('from-tarball', `${dir}/${info.filename}`), 'tarball');
  });

  test('npm install of the git repository (git+file://) builds and installs a working fleet', { timeout: 600_000 }, async () => {
    await works(await install('from-git', `git+file://${clone}`), 'git');
  });
});
