// The CLI in-process: exit codes, where output goes, and every user-facing CLI message.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { runCli } from '../../src/cli/main.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

async function cli(args: string[], env: Record<string, string> = {}, cwd = ROOT) {
  const out = capture();
  const err = capture();
  const code = await runCli(['node', 'fleet', ...args], { stdout: out.stream, stderr: err.stream, env, cwd }, new AbortController().signal);
  return { code, stdout: out.text(), stderr: err.text() };
}

function writeFleet(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-cli-'));
  writeFileSync(join(dir, 'hive.nix'), '{ }');
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, text);
  return file;
}

const SMALL = `version: 1
nix: { file: ./hive.nix }
allowApplyAll: false
nodes:
  web-1: { host: 10.0.0.1, tags: [web, eu] }
  web-2: { host: deploy@10.0.0.2, port: 2222, tags: [web, us] }
  db-1: { host: 10.0.0.3, tags: [db, eu], buildHost: target }
`;

test('check: a valid file prints ok on stdout and exits 0', async () => {
  const file = writeFleet(SMALL); // not fleet.example.yaml: its sshConfig exists only while a lab runs
  const r = await cli(['-f', file, 'check']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${file}: ok\n`);
  assert.equal(r.stderr, '');
});

test('check: an invalid file prints FILE:LINE:COL diagnostics on stderr and exits 2', async () => {
  const file = writeFleet('version: 1\nnix: { file: ./hive.nix }\nnodes:\n  web-1:\n    host: a\n    buidHost: local\n');
  const r = await cli(['-f', file, 'check']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`${file}:6:5: unknown key \`buidHost\` in node \`web-1\`; did you mean \`buildHost\`\\?`));
});

test('check --json: diagnostics as data on stdout', async () => {
  const file = writeFleet('version: 2\nnix: { file: ./hive.nix }\nnodes:\n  a: { host: a }\n');
  const r = await cli(['-f', file, 'check', '--json']);
  assert.equal(r.code, 2);
  const parsed = JSON.parse(r.stdout) as { ok: boolean; diagnostics: { line: number; col: number }[] };
  assert.equal(parsed.ok, false);
  assert.deepEqual([parsed.diagnostics[0]!.line, parsed.diagnostics[0]!.col], [1, 10]);
});

test('FLEET_FILE is used when -f is absent; a missing file is a config error', async () => {
  const file = writeFleet(SMALL);
  assert.equal((await cli(['check'], { FLEET_FILE: file })).code, 0);
  const missing = await cli(['check'], {}, mkdtempSync(join(tmpdir(), 'fleet-none-')));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /fleet\.yaml:1:1: the fleet file does not exist/);
});

test('nodes: a table of the selected nodes', async () => {
  const r = await cli(['-f', writeFleet(SMALL), 'nodes', '--on', 'tag:web']);
  assert.equal(r.code, 0);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^NODE +HOST +PORT +USER +TAGS +BUILD HOST$/);
  assert.match(lines[1]!, /^web-1 +10\.0\.0\.1 +- +root +web,eu +local$/);
  assert.match(lines[2]!, /^web-2 +10\.0\.0\.2 +2222 +deploy +web,us +local$/);
  assert.equal(lines.length, 3);
});

test('nodes --json: stable shape', async () => {
  const r = await cli(['-f', writeFleet(SMALL), 'nodes', '--on', '@eu,!web-1', '--json']);
  assert.deepEqual(JSON.parse(r.stdout), { nodes: [{ name: 'db-1', host: '10.0.0.3', port: null, user: 'root', tags: ['db', 'eu'], buildHost: 'target' }] });
});

test('a selector that matches nothing is a usage error with a suggestion', async () => {
  const r = await cli(['-f', writeFleet(SMALL), 'nodes', '--on', 'web-3']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^fleet: --on: no node named `web-3`; did you mean `web-1`\?/);
});

test('allowApplyAll: false makes apply without --on a usage error, before anything runs', async () => {
  const r = await cli(['-f', writeFleet(SMALL), 'apply']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /sets allowApplyAll: false: name the nodes with --on \(for example --on '\*' to mean all of them\)/);
});

test('unknown goal, bad --parallel and unknown options exit 2 with commander\'s message', async () => {
  const goal = await cli(['-f', writeFleet(SMALL), 'apply', 'reboot']);
  assert.equal(goal.code, 2);
  assert.match(goal.stderr, /unknown goal; expected one of switch, boot, test, dry-activate, build, push/);
  const parallel = await cli(['apply', '--parallel', '0']);
  assert.equal(parallel.code, 2);
  assert.match(parallel.stderr, /must be a whole number of at least 1/);
  const option = await cli(['apply', '--bogus']);
  assert.equal(option.code, 2);
  assert.match(option.stderr, /unknown option '--bogus'/);
  const both = await cli(['apply', '--keep-going', '--fail-fast']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /cannot be used with/);
});

test('--help documents exit codes and selectors; --version prints the version; both exit 0', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes:\n\s+0 .*\n\s+1 .*\n\s+2 .*\n\s+3 .*\n\s+130 /);
  const apply = await cli(['apply', '--help']);
  assert.match(apply.stdout, /Selectors \(--on\):/);
  assert.match(apply.stdout, /fleet apply --on tag:web/);
  const version = await cli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('an unexpected error is reported as fleet\'s own bug, with exit 3 (state may be unknown)', async () => {
  const { reportError } = await import('../../src/cli/main.js');
  const err = capture();
  const code = reportError(new Error('boom'), { stdout: capture().stream, stderr: err.stream, env: {}, cwd: ROOT });
  assert.equal(code, 3);
  assert.match(err.text(), /^fleet: internal error: Error: boom/);
});

test('--confirm-timeout takes a duration; rollback --to takes a generation and not with --to-run (exit 2)', async () => {
  const duration = await cli(['apply', '--confirm-timeout', '30']);
  assert.equal(duration.code, 2);
  assert.match(duration.stderr, /option '--confirm-timeout <duration>' argument '30' is invalid\. not a duration: `30` \(write e\.g\. `1500ms`, `10s`, `5m` or `1h`\)/);
  const tooLong = await cli(['apply', '--confirm-timeout', '25h']);
  assert.match(tooLong.stderr, /duration `25h` is not from `1s` to `24h`/);
  for (const to of ['last', '1e1', '0x10', '10.0', ' 10', '+10', '0']) {
    const generation = await cli(['rollback', '--to', to]);
    assert.equal(generation.code, 2, `--to ${to}`);
    assert.match(generation.stderr, /must be a whole number of at least 1/, `--to ${to}`);
  }
  // Plain digits are taken (the run then stops at -i without a terminal: the option parsed).
  const { INTERACTIVE_NEEDS_TERMINAL } = await import('../../src/cli/commands/apply.js');
  assert.equal((await cli(['-f', writeFleet(SMALL), 'rollback', '--to', '10', '-i', '--on', 'web-1'])).stderr, `fleet: ${INTERACTIVE_NEEDS_TERMINAL}\n`);
  const parallel = await cli(['apply', '--parallel', '1e1']);
  assert.equal(parallel.code, 2);
  assert.match(parallel.stderr, /option '-p, --parallel <n>' argument '1e1' is invalid\. must be a whole number of at least 1/);
  const both = await cli(['rollback', '--to', '3', '--to-run', 'r1']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /option '--to <generation>' cannot be used with option '--to-run <run-id>'/);
});

test('apply -i and rollback -i without a terminal on stdin and stdout: usage error, exit 2, nothing asked', async () => {
  const { INTERACTIVE_NEEDS_TERMINAL } = await import('../../src/cli/commands/apply.js');
  // The fleet file names a nix file that would fail to evaluate: exit 2 with this message proves nothing ran.
  const file = writeFleet(SMALL);
  for (const args of [['apply', '-i', '--on', 'web-1'], ['apply', '--interactive', '--on', 'web-1'], ['rollback', '-i', '--on', 'web-1']]) {
    const r = await cli(['-f', file, ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, `fleet: ${INTERACTIVE_NEEDS_TERMINAL}\n`);
    assert.equal(r.stdout, '');
  }
});

test('apply -i --json: usage error, exit 2 (the terminal UI and NDJSON on stdout exclude each other)', async () => {
  const r = await cli(['-f', writeFleet(SMALL), 'apply', '-i', '--json', '--on', 'web-1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /option '-i, --interactive' cannot be used with option '--json'/);
});

test('the first Ctrl+C notice names activations only once a deploy runs (status --watch, plan, diff have none)', async () => {
  const { interruptNotice } = await import('../../src/cli/main.js');
  const { createSession } = await import('../../src/cli/session.js');
  const session = createSession({ write: () => true });
  assert.equal(session.deploying(), false);
  assert.equal(interruptNotice('Ctrl+C', session.deploying()), 'fleet: Ctrl+C: starting nothing new (again to quit now)');
  session.track(new Set(['web-1']));
  assert.equal(session.deploying(), true);
  assert.deepEqual(session.activating(), ['web-1']);
  assert.equal(interruptNotice('SIGTERM', session.deploying()), 'fleet: SIGTERM: starting nothing new; running activations finish or roll back (again to quit now)');
  session.track(new Set());
  assert.equal(session.deploying(), true, 'between activations a deploy still runs');
});
