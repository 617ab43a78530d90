// fleet from CI (GitOps) on a 4-node lab: the Markdown plan and diff (a change, an unchanged fleet, a locked and an
// unreachable node, package names carrying Markdown), the scripts of examples/ci/ run as a CI job would (the plan
// comment posted to a stand-in GitHub API and updated, the deploy, the drift check failing after a hand switch),
// and both Prometheus outputs checked by promtool and against the hosts themselves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { evalOutPaths, readSystemState, snapshotHost, stateDirOf, writeHive, type Lab, type StandInSpec } from '../../lab/index.js';
import { lockPath } from '../../src/agent/lock.js';
import { commentId } from '../../src/cli/output-format.js';
import { formatDelta } from '../../src/diff/format.js';
import { readEventLines, type EventOf } from '../../src/events.js';
import { parseRecord } from '../../src/records/record.js';
import { assertValidEvents } from '../events-validate.js';
import { promtoolCheck, renderGfm, requireTool, tagsOf } from '../tools.js';
import { FLEET_BIN, NIX_ENV, runFleet } from './run-fleet.js';
import { labAgent, requireLabCapable, startDeployedLab } from './support.js';

const NODES = ['g1', 'g2', 'g3', 'g4'];
const CI_DIR = fileURLToPath(new URL('../../examples/ci/', import.meta.url));
const PROFILE = '/nix/var/nix/profiles/system';
/** Tags fleet writes in rendered Markdown; anything else came from a target or from Nix. */
const FLEET_TAGS = new Set(['code', 'details', 'h4', 'li', 'p', 'pre', 'strong', 'summary', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul']);

/** The sample's value in Prometheus text, found by its name and labels as written. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

/** A stand-in for GitHub's issue-comment API: list, create, update; every request kept. */
interface FakeGitHub {
  url: string;
  comments: { id: number; body: string }[];
  requests: { method: string; path: string; auth: string | undefined }[];
  close(): Promise<void>;
}
async function fakeGitHub(repo: string, pr: number): Promise<FakeGitHub> {
  const comments: FakeGitHub['comments'] = [{ id: 1, body: '<!-- fleet-plan: other/fleet.yaml switch -->\nanother fleet\'s plan' }];
  const requests: FakeGitHub['requests'] = [];
  const body = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    return JSON.parse(text) as { body: string };
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '';
      requests.push({ method: req.method ?? '', path, auth: req.headers.authorization });
      const send = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.method === 'GET' && path === `/repos/${repo}/issues/${pr}/comments?per_page=100`) return send(200, comments);
      if (req.method === 'POST' && path === `/repos/${repo}/issues/${pr}/comments`) {
        const created = { id: comments.length + 1, body: (await body(req)).body };
        comments.push(created);
        return send(201, created);
      }
      const edit = new RegExp(`^/repos/${repo}/issues/comments/(\\d+)$`).exec(path);
      const found = edit ? comments.find((c) => c.id === Number(edit[1])) : undefined;
      if (req.method === 'PATCH' && found) {
        found.body = (await body(req)).body;
        return send(200, found);
      }
      send(404, { message: 'Not Found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, comments, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('fleet from CI (GitOps) on a 4-node lab', { skip: requireLabCapable() }, () => {
  let lab: Lab;
  let hive: string;
  let repo: string;
  let fleetFile: string;
  const tag = randomBytes(4).toString('hex');
  const base: StandInSpec = { name: `gitops-${tag}`, packages: [{ name: 'hello-2.10', bytes: 1000 }, { name: 'libfoo-1.0', bytes: 5000 }, { name: 'glibc-2.37', bytes: 300 }] };
  // g1 and g2 change: hello 2.10 → 2.12, libfoo gone, two packages whose names are Markdown (`__strong__` is bold,
  // `_` and `+` are syntax): Nix allows no `<`, `|` or backtick in a store path, so these are what a target can send.
  const next: StandInSpec = { ...base, packages: [{ name: 'hello-2.12', bytes: 3000 }, { name: 'glibc-2.37', bytes: 300 }, { name: '__strong__-1.0', bytes: 700 }, { name: '_a_b_+c-2.0', bytes: 10 }] };
  const fleet = (...args: string[]) => runFleet(['-f', fleetFile, ...args]);
  const snapshots = () => Promise.all(NODES.map((n) => snapshotHost(lab, n)));
  /** A script of examples/ci/ run as the CI job runs it: in the repository, the fleet file from FLEET_FILE. */
  const script = (name: string, args: string[] = [], env: Record<string, string> = {}) => execa(`${CI_DIR}${name}`, args, {
    cwd: repo, reject: false,
    env: { ...NIX_ENV, CI: 'true', FLEET: `${process.execPath} --import ${import.meta.resolve('tsx')} ${FLEET_BIN}`, FLEET_FILE: 'fleet.yaml', FLEET_OUT: 'out', ...env },
  });
  const html = async (md: string) => {
    const rendered = await renderGfm(md);
    assert.deepEqual(tagsOf(rendered).filter((t) => !FLEET_TAGS.has(t)), [], rendered);
    return rendered;
  };

  before(async () => {
    ({ lab, hive } = await startDeployedLab(NODES, base.name, { packages: base.packages }));
    repo = `${lab.dir}/repo`;
    await mkdir(repo);
    fleetFile = await lab.writeFleet({ nixFile: hive, path: `${repo}/fleet.yaml`, tags: { g1: ['web', 'eu'], g2: ['web'], g3: ['db'], g4: [] }, defaults: { connectTimeout: '3s' } });
  });
  after(async () => lab?.down());

  test('an unchanged fleet: the Markdown plan says no change, --exit-code exits 0, the hosts are untouched', { skip: requireTool('cmark-gfm') }, async () => {
    const before = await snapshots();
    const run = await fleet('plan', '--format', 'markdown', '--exit-code');
    assert.equal(run.code, 0, run.stderr);
    const parts = run.stdout.split('\n\n');
    assert.equal(parts[0], `<!-- fleet-plan: ${commentId(fleetFile, process.cwd(), 'switch')} -->`);
    assert.deepEqual(parts.slice(1, 4), ['#### fleet plan (switch): no change', '0 builds, 0 copies, 0 of 4 nodes to activate', '**No change** (4): `g1`, `g2`, `g3`, `g4` · up to date']);
    await html(run.stdout);
    assert.deepEqual(await snapshots(), before);
  });

  test('a change: diff Markdown has the package table of the changing group, sizes as the stores say; package names stay text; plan --exit-code exits 1', { skip: requireTool('cmark-gfm') }, async () => {
    await writeHive(hive, { g1: next, g2: next, g3: base, g4: base }, lab.witness);
    const before = await snapshots();
    const diff = await fleet('diff', '--format', 'markdown');
    assert.equal(diff.code, 0, diff.stderr);
    // Every size from the stores themselves: the new paths on the deployer (diff built them), the old on g1.
    const to = (await evalOutPaths(hive)).g1!;
    const newPaths = (await execa('nix-store', ['--query', '--requisites', to], { env: NIX_ENV })).stdout.split('\n');
    const oldPaths = (await lab.exec('g1', ['nix-store', '--query', '--requisites', before[0]!.current!])).stdout.trim().split('\n');
    const size = async (paths: string[], name: string, exec: (argv: string[]) => Promise<{ stdout: string }>) => Number((await exec(['nix-store', '--query', '--size', paths.find((p) => p.endsWith(`-${name}`))!])).stdout.trim());
    const here = async (argv: string[]) => ({ stdout: String((await execa(argv[0]!, argv.slice(1), { env: NIX_ENV })).stdout) });
    const there = (argv: string[]) => lab.exec('g1', argv);
    const hello = (await size(newPaths, 'hello-2.12', here)) - (await size(oldPaths, 'hello-2.10', there));
    const rows = [
      `| changed | \`hello\` | 2.10 → 2.12 | ${formatDelta(hello)} |`,
      `| added | \`__strong__\` | 1.0 | ${formatDelta(await size(newPaths, '__strong__-1.0', here))} |`,
      `| added | \`_a_b_+c\` | 2.0 | ${formatDelta(await size(newPaths, '_a_b_+c-2.0', here))} |`,
      `| removed | \`libfoo\` | 1.0 | ${formatDelta(-(await size(oldPaths, 'libfoo-1.0', there)))} |`,
    ];
    const table = ['|  | package | version | size |', '| --- | --- | --- | --- |', ...rows].join('\n');
    const parts = diff.stdout.split('\n\n');
    assert.deepEqual(parts.slice(1, 3), ['#### fleet diff (switch): 2 of 4 nodes change', '1 distinct change set']);
    assert.match(parts[3]!, /^\*\*`g1`, `g2`\*\* \(2 nodes\): 1 changed, 2 added, 1 removed, -\d\.\d KiB$/);
    assert.equal(parts[4], table);
    assert.equal(parts[5], '**No change** (2): `g3`, `g4`');
    const rendered = await html(diff.stdout);
    assert.ok(rendered.includes('<td><code>__strong__</code></td>') && rendered.includes('<td><code>_a_b_+c</code></td>'), rendered);

    // The plan now finds the systems built: the same table under its group; apply would change g1 and g2.
    const plan = await fleet('plan', '--format', 'markdown', '--exit-code');
    assert.equal(plan.code, 1, plan.stderr);
    assert.ok(plan.stdout.includes(`: 1 changed, 2 added, 1 removed, ${/(-\d\.\d KiB)$/.exec(parts[3]!)![1]} · switch needed\n\n${table}\n\n**No change** (2): \`g3\`, \`g4\` · up to date`), plan.stdout);
    assert.equal(plan.stdout.split('\n\n')[1], '#### fleet plan (switch): 2 of 4 nodes change');
    await html(plan.stdout);
    assert.deepEqual(await snapshots(), before, 'plan and diff only read the targets');
  });

  test('a locked and an unreachable node are called out by the plan (diff: the unreachable one); the lock is left as it was', async () => {
    const holder = { run: `other-${tag}`, by: 'bob@elsewhere', pid: 4242 };
    const taken = await labAgent(lab, 'g3', { lock: holder }, { profile: PROFILE, lockTimeoutMs: 600_000 }).probe({ outPath: '/nonexistent', lock: 'take' });
    assert.equal(taken.ok && taken.lock?.state, 'taken');
    const link = (await lab.exec('g3', ['readlink', lockPath(PROFILE)])).stdout;
    const g4 = lab.hosts.find((h) => h.name === 'g4')!;
    process.kill(g4.sshdPid, 'SIGSTOP'); // accepts TCP, never answers: connectTimeout (3s) decides
    try {
      const plan = await fleet('plan', '--format', 'markdown');
      assert.equal(plan.code, 1, 'g4 could not be planned');
      assert.match(plan.stdout, /\n\n#### fleet plan \(switch\): 2 of 4 nodes change\n\n1 build, 2 copies, 2 of 3 nodes to activate · 1 locked · 1 could not be planned\n\n\*\*Could not be planned\*\* \(1\)\n\n\| node \| why \|\n\| --- \| --- \|\n\| `g4` \| g4: connect: .+ \|\n\n\*\*Locked\*\* \(1\): another run is deploying them; apply leaves them alone\n\n\| node \| lock \|\n\| --- \| --- \|\n\| `g3` \| locked by run other-[0-9a-f]+ \(bob@elsewhere, pid 4242\) since /);
      assert.match(plan.stderr, /^error: g4: connect: /m);
      const diff = await fleet('diff', '--format', 'markdown');
      assert.equal(diff.code, 1);
      assert.match(diff.stdout, /\n\n#### fleet diff \(switch\): 2 of 3 nodes change\n\n1 distinct change set · 1 could not be compared\n\n\*\*Could not be compared\*\* \(1\)\n\n\| node \| why \|\n\| --- \| --- \|\n\| `g4` \| g4: connect: /);
      assert.equal((await lab.exec('g3', ['readlink', lockPath(PROFILE)])).stdout, link, 'neither taken nor renewed');
    } finally {
      process.kill(g4.sshdPid, 'SIGCONT');
      await lab.exec('g3', ['rm', '-f', lockPath(PROFILE)]);
    }
  });

  test('examples/ci/plan-comment.sh: the Markdown plan in a file, posted as a comment, and on the next push that comment updated', async () => {
    const github = await fakeGitHub('acme/infra', 7);
    try {
      const env = { GITHUB_TOKEN: 'token-123', GITHUB_REPOSITORY: 'acme/infra', PR_NUMBER: '7', GITHUB_API_URL: github.url };
      const first = await script('plan-comment.sh', ['plan'], env);
      assert.equal(first.exitCode, 0, `${first.stdout}\n${first.stderr}`);
      const file = await readFile(`${repo}/out/fleet-plan.md`, 'utf8');
      assert.ok(file.startsWith('<!-- fleet-plan: fleet.yaml switch -->\n\n#### fleet plan (switch): 2 of 4 nodes change\n'), file);
      assert.match(String(first.stdout), /^comment\.sh: commented on acme\/infra#7$/m);
      assert.deepEqual(github.comments.map((c) => c.id), [1, 2]);
      assert.equal(github.comments[1]!.body, file);

      // The next push: the same comment updated (found by its marker line), the other fleet's comment left alone.
      await writeHive(hive, { g1: next, g2: next, g3: { ...base, nonce: 'g3-v2' }, g4: base }, lab.witness);
      const second = await script('plan-comment.sh', ['plan'], env);
      assert.equal(second.exitCode, 0, `${second.stdout}\n${second.stderr}`);
      assert.match(String(second.stdout), /^comment\.sh: updated comment 2 on acme\/infra#7$/m);
      assert.deepEqual(github.comments.map((c) => c.id), [1, 2]);
      assert.match(github.comments[1]!.body, /^<!-- fleet-plan: fleet\.yaml switch -->\n\n#### fleet plan \(switch\): 3 of 4 nodes change\n/);
      assert.equal(github.comments[0]!.body, '<!-- fleet-plan: other/fleet.yaml switch -->\nanother fleet\'s plan');
      assert.deepEqual(github.requests.map((r) => `${r.method} ${r.path}`), [
        'GET /repos/acme/infra/issues/7/comments?per_page=100', 'POST /repos/acme/infra/issues/7/comments',
        'GET /repos/acme/infra/issues/7/comments?per_page=100', 'PATCH /repos/acme/infra/issues/comments/2',
      ]);
      assert.ok(github.requests.every((r) => r.auth === 'Bearer token-123'));

      // Without a token: the file, and a line saying nothing was posted.
      const local = await script('plan-comment.sh', ['diff']);
      assert.equal(local.exitCode, 0, String(local.stderr));
      assert.match(String(local.stdout), /^comment\.sh: no GITHUB_TOKEN \+ PR_NUMBER nor GITLAB_TOKEN \+ CI_MERGE_REQUEST_IID: not posted \(out\/fleet-plan\.md is the comment\)$/m);
      assert.ok((await readFile(`${repo}/out/fleet-plan.md`, 'utf8')).startsWith('<!-- fleet-diff: fleet.yaml switch -->\n'));
      assert.equal(github.requests.length, 4);
    } finally {
      await github.close();
    }
  });

  test('examples/ci/deploy.sh: the nodes switched, the NDJSON kept, the metrics file right about the hosts (bytes copied, outcomes) and valid for promtool', { skip: requireTool('promtool') }, async () => {
    const outs = await evalOutPaths(hive);
    // What each target misses of its new closure, and those paths' bytes: what the copies must send.
    let missing = 0;
    let bytes = 0;
    for (const node of ['g1', 'g2', 'g3']) {
      await execa('nix-store', ['--realise', (await execa('nix-instantiate', [hive, '-A', node], { env: NIX_ENV })).stdout.trim()], { env: NIX_ENV });
      const closure = (await execa('nix-store', ['--query', '--requisites', outs[node]!], { env: NIX_ENV })).stdout.split('\n');
      const absent = (await lab.exec(node, ['sh', '-c', 'for p; do nix-store --check-validity "$p" 2>/dev/null || echo "$p"; done', 'sh', ...closure])).stdout.trim().split('\n').filter(Boolean);
      missing += absent.length;
      if (absent.length > 0) bytes += (await execa('nix-store', ['--query', '--size', ...absent], { env: NIX_ENV })).stdout.split('\n').reduce((sum, n) => sum + Number(n), 0);
    }
    assert.ok(missing >= 4 && bytes > 0, `${missing} paths, ${bytes} bytes`);

    const run = await script('deploy.sh', [], { FLEET_MESSAGE: 'ci: deploy from the lab' });
    assert.equal(run.exitCode, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(String(run.stdout), /^g1: activated\ng2: activated\ng3: activated\ng4: unchanged\nfleet: exit 0 after \d+\.\d s; events in out\/fleet-apply\.ndjson$/m);
    for (const node of NODES) {
      const state = await readSystemState(lab, node);
      assert.deepEqual([state.current, state.profile], [outs[node], outs[node]], node);
    }
    const events = readEventLines(await readFile(`${repo}/out/fleet-apply.ndjson`, 'utf8'));
    assertValidEvents(events);
    assert.deepEqual([events[0]!.type, events.at(-1)!.type], ['run-start', 'summary']);
    const copies = events.filter((e): e is EventOf<'copy-done'> => e.type === 'copy-done');
    assert.deepEqual(copies.map((c) => c.node).sort(), ['g1', 'g2', 'g3']);
    assert.equal(copies.reduce((sum, c) => sum + c.paths, 0), missing, 'the paths each target was missing, no more');
    const records = (await lab.exec('g1', ['cat', `${stateDirOf(lab.hosts[0]!)}/records`])).stdout.trim().split('\n');
    assert.equal(parseRecord(records.at(-1)!)?.message, 'ci: deploy from the lab');

    const metrics = await readFile(`${repo}/out/fleet-apply.prom`, 'utf8');
    assert.deepEqual(await promtoolCheck(metrics), { code: 0, problems: '' });
    assert.equal(sample(metrics, 'fleet_apply_copied_bytes{goal="switch"}'), bytes);
    assert.equal(sample(metrics, 'fleet_apply_nodes{goal="switch",outcome="activated"}'), 3);
    assert.equal(sample(metrics, 'fleet_apply_nodes{goal="switch",outcome="unchanged"}'), 1);
    assert.equal(sample(metrics, 'fleet_apply_exit_code{goal="switch"}'), 0);
    assert.ok(sample(metrics, 'fleet_apply_phase_seconds{goal="switch",phase="activate"}') > 0);
    assert.ok(sample(metrics, 'fleet_apply_phase_seconds{goal="switch",phase="copy"}') > 0);
    const summary = events.at(-1) as EventOf<'summary'>;
    assert.equal(sample(metrics, 'fleet_apply_duration_seconds{goal="switch"}'), summary.durationMs / 1000);
  });

  test('fleet status --format prometheus: valid for promtool, and each number as the host says it (generation, last deploy)', { skip: requireTool('promtool') }, async () => {
    const run = await fleet('status', '--format', 'prometheus');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await promtoolCheck(`${run.stdout}\n`), { code: 0, problems: '' });
    const labels: Record<string, string> = { g1: 'node="g1",tags=",web,eu,",build_host="local"', g2: 'node="g2",tags=",web,",build_host="local"', g3: 'node="g3",tags=",db,",build_host="local"', g4: 'node="g4",tags="",build_host="local"' };
    for (const [index, node] of NODES.entries()) {
      const link = (await lab.exec(node, ['readlink', PROFILE])).stdout.trim();
      assert.equal(sample(run.stdout, `fleet_node_generation{${labels[node]!}}`), Number(/^system-(\d+)-link$/.exec(link)![1]), node);
      const newest = parseRecord((await lab.exec(node, ['cat', `${stateDirOf(lab.hosts[index]!)}/records`])).stdout.trim().split('\n').at(-1)!)!;
      assert.equal(sample(run.stdout, `fleet_node_last_deploy_timestamp_seconds{${labels[node]!}}`), Date.parse(newest.time) / 1000, node);
      assert.equal(sample(run.stdout, `fleet_node_in_sync{${labels[node]!}}`), 1, node);
      assert.equal(sample(run.stdout, `fleet_node_state{${labels[node]!},state="in-sync"}`), 1, node);
      assert.equal(sample(run.stdout, `fleet_node_lock_held{${labels[node]!}}`), 0, node);
    }
  });

  test('examples/ci/drift.sh: passes on a fleet in sync, fails once a node is switched by hand (and the metrics say which)', { skip: requireTool('promtool') }, async () => {
    const clean = await script('drift.sh');
    assert.equal(clean.exitCode, 0, `${clean.stdout}\n${clean.stderr}`);
    assert.equal(String(clean.stdout), 'g1: in-sync\ng2: in-sync\ng3: in-sync\ng4: in-sync');

    // Someone switches g2 to another system by hand.
    const other = `${lab.dir}/by-hand.nix`;
    await writeHive(other, { g2: { name: `by-hand-${tag}` } });
    const built = await lab.exec('g2', ['nix-build', '--no-out-link', other, '-A', 'g2']);
    assert.equal(built.exitCode, 0, built.stderr);
    const byHand = built.stdout.trim().split('\n').at(-1)!;
    assert.equal((await lab.exec('g2', [`${byHand}/bin/switch-to-configuration`, 'switch'])).exitCode, 0);
    const state = await readSystemState(lab, 'g2');
    assert.equal(state.current, byHand, 'the host runs the hand-switched system');
    assert.equal(state.profile, (await evalOutPaths(hive)).g2, 'its profile still boots the deployed one');

    const drift = await script('drift.sh');
    assert.equal(drift.exitCode, 1, `${drift.stdout}\n${drift.stderr}`);
    assert.match(String(drift.stdout), /^g1: in-sync\ng2: drifted: runs [0-9a-z]{7}-fleet-lab-system-by-hand-[0-9a-f]+, which no fleet record names: changed by hand or by another tool\ng3: in-sync\ng4: in-sync$/);
    assert.equal(String(drift.stderr), 'fleet: drift: not every node runs what the fleet file wants');
    const events = readEventLines(await readFile(`${repo}/out/fleet-status.ndjson`, 'utf8'));
    assertValidEvents(events);
    assert.equal((events.find((e) => e.type === 'status' && e.node === 'g2') as EventOf<'status'>).system?.currentSystem, byHand);

    const metrics = (await fleet('status', '--format', 'prometheus')).stdout;
    const g2 = 'node="g2",tags=",web,",build_host="local"';
    assert.equal(sample(metrics, `fleet_node_in_sync{${g2}}`), 0);
    assert.equal(sample(metrics, `fleet_node_state{${g2},state="drifted"}`), 1);
    assert.equal(sample(metrics, `fleet_node_state{${g2},state="in-sync"}`), 0);
  });
});
