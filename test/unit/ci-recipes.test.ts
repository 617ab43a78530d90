// examples/ci/: the GitHub Actions and GitLab CI recipes call the scripts, keep their files, and run one deploy at a
// time; comment.sh posts or updates the comment on stand-ins for GitHub's and GitLab's APIs. (The scripts against
// real hosts: test/lab/gitops.test.ts.)
import assert from 'node:assert/strict';
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { execa } from 'execa';
import { parse } from 'yaml';

const CI_DIR = fileURLToPath(new URL('../../examples/ci/', import.meta.url));
const SCRIPTS = ['plan-comment.sh', 'comment.sh', 'deploy.sh', 'drift.sh'];

interface Step { run?: string; uses?: string; env?: Record<string, string>; with?: { path?: string } }
interface GitHubJob { if: string; concurrency?: { group: string; 'cancel-in-progress': boolean }; steps: Step[]; permissions?: Record<string, string> }
interface GitLabJob { script: string[]; rules: { if: string }[]; resource_group?: string; artifacts: { when: string; paths: string[] } }

void test('every script parses (bash -n) and is executable; fleet.sh is only sourced', async () => {
  for (const name of [...SCRIPTS, 'fleet.sh']) {
    const r = await execa('bash', ['-n', join(CI_DIR, name)], { reject: false });
    assert.equal(r.exitCode, 0, `${name}: ${String(r.stderr)}`);
  }
  for (const name of SCRIPTS) accessSync(join(CI_DIR, name), constants.X_OK);
  const usage = await execa(join(CI_DIR, 'plan-comment.sh'), ['apply'], { reject: false });
  assert.deepEqual([usage.exitCode, String(usage.stderr)], [2, `usage: ${join(CI_DIR, 'plan-comment.sh')} [plan|diff]`]);
});

void test('GitHub Actions: plan on pull requests (comment permission), deploy on main one at a time and never cancelled, drift on a schedule; artifacts as the scripts write them', () => {
  const wf = parse(readFileSync(join(CI_DIR, 'github-actions.yml'), 'utf8')) as { on: Record<string, unknown>; jobs: Record<string, GitHubJob> };
  assert.deepEqual(Object.keys(wf.on).sort(), ['pull_request', 'push', 'schedule', 'workflow_dispatch']);
  const runs = (job: GitHubJob) => job.steps.filter((s) => s.run).map((s) => s.run);
  assert.deepEqual(runs(wf.jobs.plan!), ['examples/ci/plan-comment.sh plan']);
  assert.equal(wf.jobs.plan!.permissions?.['pull-requests'], 'write');
  assert.deepEqual(runs(wf.jobs.deploy!), ['examples/ci/deploy.sh']);
  assert.deepEqual(wf.jobs.deploy!.concurrency, { group: 'fleet-deploy', 'cancel-in-progress': false });
  assert.match(wf.jobs.deploy!.if, /github\.ref == 'refs\/heads\/main'/);
  assert.deepEqual(runs(wf.jobs.drift!), ['examples/ci/drift.sh']);
  const artifacts = (job: GitHubJob) => job.steps.filter((s) => s.uses?.startsWith('actions/upload-artifact')).map((s) => s.with?.path?.trim());
  assert.deepEqual(artifacts(wf.jobs.plan!), ['fleet-out/fleet-plan.md']);
  assert.deepEqual(artifacts(wf.jobs.deploy!), ['fleet-out/fleet-apply.ndjson\nfleet-out/fleet-apply.prom']);
  assert.deepEqual(artifacts(wf.jobs.drift!), ['fleet-out/fleet-status.ndjson']);
  for (const job of Object.values(wf.jobs)) assert.equal(job.steps.find((s) => s.run)!.env?.FLEET_OUT, 'fleet-out');
});

void test('GitLab CI: the same three jobs; the deploy in one resource group (one at a time), artifacts kept when it fails', () => {
  const ci = parse(readFileSync(join(CI_DIR, 'gitlab-ci.yml'), 'utf8')) as Record<string, GitLabJob> & { variables: Record<string, string> };
  assert.equal(ci.variables.FLEET_OUT, 'fleet-out');
  assert.deepEqual(ci['fleet-plan']!.script, ['examples/ci/plan-comment.sh plan']);
  assert.match(ci['fleet-plan']!.rules[0]!.if, /merge_request_event/);
  assert.deepEqual(ci['fleet-deploy']!.script, ['examples/ci/deploy.sh']);
  assert.equal(ci['fleet-deploy']!.resource_group, 'fleet-deploy');
  assert.deepEqual(ci['fleet-deploy']!.artifacts, { when: 'always', paths: ['fleet-out/fleet-apply.ndjson', 'fleet-out/fleet-apply.prom'] });
  assert.deepEqual(ci['fleet-drift']!.script, ['examples/ci/drift.sh']);
  assert.match(ci['fleet-drift']!.rules[0]!.if, /schedule/);
});

/** A stand-in for GitHub's or GitLab's comment API: list, create, update; the requests kept. */
async function fakeApi(routes: { list: string; create: string; update: RegExp; updateMethod: string }) {
  const comments = [{ id: 10, body: '<!-- fleet-plan: other.yaml switch -->\nnot ours' }];
  const requests: string[] = [];
  const read = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    return (JSON.parse(text) as { body: string }).body;
  };
  const server = createServer((req, res) => {
    void (async () => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? req.headers['private-token']}`);
      const send = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.method === 'GET' && req.url === routes.list) return send(200, comments);
      if (req.method === 'POST' && req.url === routes.create) {
        comments.push({ id: comments.length + 10, body: await read(req) });
        return send(201, comments.at(-1));
      }
      const m = routes.update.exec(req.url ?? '');
      const found = m && comments.find((c) => c.id === Number(m[1]));
      if (req.method === routes.updateMethod && found) {
        found.body = await read(req);
        return send(200, found);
      }
      send(404, {});
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, comments, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const markdown = (headline: string) => `<!-- fleet-plan: fleet.yaml switch -->\n\n#### ${headline}\n\nit's "quoted" \\ and \`coded\`\n`;

async function postTwice(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-comment-'));
  const file = join(dir, 'fleet-plan.md');
  const run = async (text: string) => {
    writeFileSync(file, text);
    const r = await execa(join(CI_DIR, 'comment.sh'), [file], { env: { PATH: process.env.PATH ?? '', ...env }, extendEnv: false, reject: false });
    assert.equal(r.exitCode, 0, String(r.stderr));
    return String(r.stdout);
  };
  return [await run(markdown('first')), await run(markdown('second'))];
}

void test('comment.sh on GitHub: posts the file, then updates that comment (found by its marker line); others left alone', async () => {
  const api = await fakeApi({ list: '/repos/acme/infra/issues/7/comments?per_page=100', create: '/repos/acme/infra/issues/7/comments', update: /^\/repos\/acme\/infra\/issues\/comments\/(\d+)$/, updateMethod: 'PATCH' });
  try {
    const said = await postTwice({ GITHUB_TOKEN: 'gh-token', GITHUB_REPOSITORY: 'acme/infra', PR_NUMBER: '7', GITHUB_API_URL: api.url });
    assert.deepEqual(said, ['comment.sh: commented on acme/infra#7', 'comment.sh: updated comment 11 on acme/infra#7']);
    assert.deepEqual(api.comments, [{ id: 10, body: '<!-- fleet-plan: other.yaml switch -->\nnot ours' }, { id: 11, body: markdown('second') }]);
    assert.deepEqual(api.requests, [
      'GET /repos/acme/infra/issues/7/comments?per_page=100 Bearer gh-token', 'POST /repos/acme/infra/issues/7/comments Bearer gh-token',
      'GET /repos/acme/infra/issues/7/comments?per_page=100 Bearer gh-token', 'PATCH /repos/acme/infra/issues/comments/11 Bearer gh-token',
    ]);
  } finally {
    await api.close();
  }
});

void test('comment.sh on GitLab: a merge request note, posted then updated', async () => {
  const notes = '/api/v4/projects/42/merge_requests/3/notes';
  const api = await fakeApi({ list: `${notes}?per_page=100`, create: notes, update: /^\/api\/v4\/projects\/42\/merge_requests\/3\/notes\/(\d+)$/, updateMethod: 'PUT' });
  try {
    const said = await postTwice({ GITLAB_TOKEN: 'gl-token', CI_API_V4_URL: `${api.url}/api/v4`, CI_PROJECT_ID: '42', CI_MERGE_REQUEST_IID: '3' });
    assert.deepEqual(said, ['comment.sh: commented on !3', 'comment.sh: updated note 11 on !3']);
    assert.deepEqual(api.comments.map((c) => c.body), ['<!-- fleet-plan: other.yaml switch -->\nnot ours', markdown('second')]);
    assert.deepEqual(api.requests.map((r) => r.split(' ')[0]), ['GET', 'POST', 'GET', 'PUT']);
    assert.ok(api.requests.every((r) => r.endsWith(' gl-token')));
  } finally {
    await api.close();
  }
});

void test('comment.sh: without a token it posts nothing and says so; a file without fleet\'s marker is refused (exit 2)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-comment-'));
  const file = join(dir, 'plan.md');
  writeFileSync(file, markdown('x'));
  const none = await execa(join(CI_DIR, 'comment.sh'), [file], { env: { PATH: process.env.PATH ?? '' }, extendEnv: false });
  assert.equal(String(none.stdout), `comment.sh: no GITHUB_TOKEN + PR_NUMBER nor GITLAB_TOKEN + CI_MERGE_REQUEST_IID: not posted (${file} is the comment)`);
  writeFileSync(file, 'error: something else\n');
  const bad = await execa(join(CI_DIR, 'comment.sh'), [file], { env: { PATH: process.env.PATH ?? '', GITHUB_TOKEN: 't', PR_NUMBER: '1' }, extendEnv: false, reject: false });
  assert.equal(bad.exitCode, 2);
  assert.equal(String(bad.stderr), `comment.sh: ${file} does not start with fleet's marker line`);
});
