// fleet exec without a lab: the wrapper each target runs (under a real sh and coreutils timeout, here), how an end
// is read, the grouping, the run over local "targets" (waves, held, unreachable, Ctrl+C), the text output, the CLI.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import { execCommand, EXEC_BOTH_COMMANDS, EXEC_GROUP_JSON, EXEC_NEEDS_COMMAND, EXEC_PASSWORD_WITHOUT_SUDO } from '../../src/cli/commands/exec.js';
import { execFleet } from '../../src/exec/run.js';
import { execResult, killArgv, limitSeconds, markerPid, newMarker, remoteArgv, type Ending } from '../../src/exec/remote.js';
import { execExitCode, groupResults } from '../../src/exec/summary.js';
import { createEventStream, readEventLines, type EventBody, type ExecResult, type FleetEvent } from '../../src/events.js';
import type { Host } from '../../src/transport/host.js';
import { runLocal, type RunOptions } from '../../src/transport/run.js';
import { createExecTextRenderer } from '../../src/ui/exec-text.js';
import { assertValidEvents } from '../events-validate.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';
import { recordedExecRun } from './ui-fixture.js';

/** Runs the wrapper here, as a target would: its lines with their stream. */
async function runWrapped(command: string[], timeoutMs?: number, signal?: AbortSignal) {
  const marker = newMarker();
  const lines: string[] = [];
  const r = await runLocal(remoteArgv(command, marker, timeoutMs), { onOutput: (line, stream) => lines.push(`${stream}:${line}`), ...(signal ? { signal } : {}) });
  return { r, marker, lines };
}

test('the wrapper: its first line names the process group leader by a per-run marker, then the command runs as an argv', async () => {
  const { r, marker, lines } = await runWrapped(['sh', '-c', 'echo "out $1"; echo "err" >&2; exit 3', 'sh', "it's; $(not run)"]);
  assert.equal(r.exitCode, 3);
  const pid = markerPid(lines[0]!.replace(/^stdout:/, ''), marker);
  assert.ok(pid !== undefined && pid > 1, lines[0]);
  assert.deepEqual(lines.slice(1).sort(), ["stderr:err", "stdout:out it's; $(not run)"]);
  assert.equal(markerPid(`${newMarker()} 123`, marker), undefined, 'another run\'s marker');
  assert.equal(markerPid(`${marker} 12x`, marker), undefined);
});

test('the wrapper: the limit holds on the target itself (timeout 124), SIGKILL for a command that ignores SIGTERM', async () => {
  const { r } = await runWrapped(['sleep', '30'], 200);
  assert.equal(r.exitCode, 124);
  const stubborn = await runWrapped(['sh', '-c', 'trap "" TERM; sleep 30'], 200);
  // timeout -k: SIGKILL to the whole group, timeout itself included (no exit code; ssh then exits 255).
  assert.deepEqual([stubborn.r.exitCode, stubborn.r.failed], [undefined, true]);
  assert.deepEqual([limitSeconds(undefined), limitSeconds(1500), limitSeconds(0.2)], ['0', '1.5', '0.001']);
});

test('the wrapper: kill of the printed pid ends the whole process group (children included)', async () => {
  const marker = newMarker();
  let leader: number | undefined;
  let child: number | undefined;
  let killed: Promise<unknown> | undefined;
  const ended = runLocal(remoteArgv(['sh', '-c', 'sleep 30 & echo "child $!"; wait'], marker), {
    onOutput: (line) => {
      leader ??= markerPid(line, marker);
      const m = /^child (\d+)$/.exec(line);
      if (m) {
        child = Number(m[1]);
        killed = runLocal(killArgv(leader!));
      }
    },
  });
  const r = await ended;
  assert.ok(child !== undefined, 'the child said its pid');
  assert.equal(((await killed) as { exitCode?: number }).exitCode, 0, 'kill found the leader');
  assert.notEqual(r.exitCode, 0);
  // A zombie may linger for a moment until init reaps it: it must be dead, not running.
  const state = existsSync(`/proc/${child}`) ? /State:\s+(\w)/.exec(await import('node:fs').then((fs) => fs.readFileSync(`/proc/${child}/status`, 'utf8')))?.[1] : 'gone';
  assert.ok(state === 'gone' || state === 'Z', `the background child is ${state}`);
});

const end = (e: Partial<Ending>): Ending => ({ exitCode: 0, started: true, timedOut: false, interrupted: false, durationMs: 100, stderr: [], ...e });

test('execResult: exit codes, the limit, no connection, a start refused, Ctrl+C', () => {
  assert.deepEqual(execResult(end({})), { outcome: 'ok', exitCode: 0, durationMs: 100 });
  assert.deepEqual(execResult(end({ exitCode: 3 })), { outcome: 'failed', exitCode: 3, durationMs: 100, error: 'exit 3' });
  assert.deepEqual(execResult(end({ exitCode: 124, timeoutMs: 50 })), { outcome: 'timed-out', exitCode: 124, durationMs: 100, error: 'timed out after 0.05s: ended on the node' });
  assert.equal(execResult(end({ exitCode: 255, timeoutMs: 50 })).error, 'timed out after 0.05s: ended on the node (SIGKILL: it ignored SIGTERM)');
  assert.equal(execResult(end({ exitCode: 124, timeoutMs: 5000 })).outcome, 'failed', 'the command\'s own 124, before the limit');
  assert.equal(execResult(end({ exitCode: undefined, timedOut: true, timeoutMs: 50 })).outcome, 'timed-out', 'the local backstop fired');
  assert.deepEqual(execResult(end({ exitCode: 255, started: false, stderr: ['ssh: connect to host x port 22: Connection refused'] })), { outcome: 'unreachable', error: 'ssh: connect to host x port 22: Connection refused' });
  assert.deepEqual(execResult(end({ exitCode: 1, started: false, stderr: ['sudo: a password is required'] })), { outcome: 'failed', exitCode: 1, error: 'did not start (exit 1): sudo: a password is required' });
  assert.deepEqual(execResult(end({ exitCode: 143, interrupted: true })), { outcome: 'interrupted', exitCode: 143, durationMs: 100, error: 'interrupted (Ctrl+C): the command was ended on the node' });
});

test('groups: ok first, then failed by exit code, then the rest; fleet-file order inside; the exit code', () => {
  const results = new Map<string, ExecResult>([
    ['a', { outcome: 'failed', exitCode: 2 }], ['b', { outcome: 'ok', exitCode: 0 }], ['c', { outcome: 'unreachable', error: 'x' }],
    ['d', { outcome: 'failed', exitCode: 1 }], ['e', { outcome: 'ok', exitCode: 0 }], ['f', { outcome: 'timed-out', exitCode: 124 }], ['g', { outcome: 'failed', exitCode: 2 }],
  ]);
  assert.deepEqual(groupResults(['a', 'b', 'c', 'd', 'e', 'f', 'g'], results), [
    { outcome: 'ok', exitCode: 0, nodes: ['b', 'e'] },
    { outcome: 'failed', exitCode: 1, nodes: ['d'] },
    { outcome: 'failed', exitCode: 2, nodes: ['a', 'g'] },
    { outcome: 'timed-out', exitCode: 124, nodes: ['f'] },
    { outcome: 'unreachable', nodes: ['c'] },
  ]);
  assert.equal(execExitCode([...results.values()], false), 1);
  assert.equal(execExitCode([{ outcome: 'ok', exitCode: 0 }], false), 0);
  assert.equal(execExitCode([{ outcome: 'ok', exitCode: 0 }], true), 130);
});

/** Nodes that run commands here, each with NODE=<its name> in the environment; `down` ones cannot be connected to. */
function localPool(down: string[] = []) {
  const targets = new Map<string, ReturnType<typeof targetOver>>();
  return {
    targetOf(node: { name: string }) {
      let t = targets.get(node.name);
      if (!t) {
        const run = (argv: string[], options: RunOptions = {}) => runLocal(argv, { ...options, env: { ...process.env, NODE: node.name } as Record<string, string> });
        const host: Host = {
          label: node.name, isLocal: false, run, runFresh: run, close: async () => {}, closeSync: () => {},
          connect: async () => {
            if (down.includes(node.name)) throw new Error(`cannot connect to ${node.name}: Connection refused`);
          },
        };
        t = targetOver(host, resolvedNode(node.name));
        targets.set(node.name, t);
      }
      return t;
    },
  };
}

function recorder() {
  const events: FleetEvent[] = [];
  return { events, emit: createEventStream('r', (e) => events.push(e)) };
}

test('execFleet: waves run in order; a wave over its budget holds the rest; an unreachable node counts as a failure', async () => {
  const nodes = ['a', 'b', 'c', 'd'].map((n) => resolvedNode(n));
  const { events, emit } = recorder();
  const r = await execFleet({
    nodes, command: ['sh', '-c', 'echo "on $NODE"; [ "$NODE" != b ]'], sudo: false, parallel: 10, pool: localPool(['c']), emit, signal: new AbortController().signal,
    waves: [{ nodes: ['a'], maxFailures: 0 }, { nodes: ['b', 'c'], maxFailures: 1 }, { nodes: ['d'], maxFailures: 0 }],
  });
  assertValidEvents(events);
  assert.equal(r.exitCode, 1);
  assert.deepEqual(Object.fromEntries(Object.entries(r.nodes).map(([n, x]) => [n, x.outcome])), { a: 'ok', b: 'failed', c: 'unreachable', d: 'held' });
  assert.equal(r.nodes.d!.error, 'not started: wave 2 failed (2 failures, 1 allowed)');
  assert.deepEqual(events.filter((e) => e.type === 'exec-output').map((e) => e.type === 'exec-output' && `${e.node}:${e.line}`).sort(), ['a:on a', 'b:on b']);
  assert.deepEqual(events.filter((e) => e.type === 'wave-done').map((e) => e.type === 'wave-done' && [e.wave, e.failures, e.verdict]), [[1, 0, 'passed'], [2, 2, 'failed']]);
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'exec-start');
  assert.equal(types.at(-1), 'exec-summary');
  assert.ok(types.indexOf('wave-done') < events.findIndex((e) => e.type === 'exec-output' && e.node === 'b'), 'wave 2 starts after wave 1 is done');
});

test('execFleet: Ctrl+C ends the running commands (the process is gone), starts no other, exit 130', async () => {
  const nodes = ['a', 'b'].map((n) => resolvedNode(n));
  const controller = new AbortController();
  const pids: number[] = [];
  const events: FleetEvent[] = [];
  const emit = createEventStream('r', (e) => {
    events.push(e);
    const m = e.type === 'exec-output' ? /^pid (\d+)$/.exec(e.line) : null;
    if (m) {
      pids.push(Number(m[1]));
      controller.abort();
    }
  });
  const r = await execFleet({ nodes, command: ['sh', '-c', 'echo "pid $$"; exec sleep 30'], sudo: false, parallel: 1, pool: localPool(), emit, signal: controller.signal });
  assertValidEvents(events);
  assert.equal(r.exitCode, 130);
  assert.deepEqual([r.nodes.a!.outcome, r.nodes.b!.outcome], ['interrupted', 'skipped']);
  assert.equal(pids.length, 1);
  assert.ok(!existsSync(`/proc/${pids[0]}`) || /State:\s+Z/.test((await import('node:fs')).readFileSync(`/proc/${pids[0]}/status`, 'utf8')), 'the command is gone');
});

function captured() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

async function render(events: FleetEvent[], group: boolean) {
  const out = captured();
  const err = captured();
  const r = createExecTextRenderer(out.stream, err.stream, { group });
  for (const e of events) r.onEvent(e);
  await r.finish();
  return { out: out.text(), err: err.text() };
}

test('text: lines prefixed by their node (stdout to stdout, stderr to stderr), escape sequences made harmless, the summary by exit code', async () => {
  const withEscape: FleetEvent[] = recordedExecRun.map((e) => (e.type === 'exec-output' && e.node === 'web-1' ? { ...e, line: '6.6.52\x1b]0;owned\x07\x1b[2J' } : e));
  const { out, err } = await render(withEscape, false);
  assert.equal(out, 'web-1 | 6.6.52\n');
  assert.equal(err, [
    'fleet | wave 1: web-1',
    'fleet | wave 1 passed: 0 failures',
    'fleet | wave 2: web-2, web-3',
    'web-2 | uname: cannot get system name',
    'fleet | wave 2 failed: 2 failures',
    '',
    'exit 0       web-1',
    'exit 1       web-2',
    'unreachable  web-3',
    '             web-3: cannot connect to web-3 (root@10.0.0.3): Connection refused',
    '3 nodes: 1 exited 0; exit code 1 after 3.1 s',
    '',
  ].join('\n'));
});

test('text --group: a node\'s whole output as one block when it ends, headed by how it ended', async () => {
  const { out } = await render(recordedExecRun, true);
  assert.equal(out, [
    '== web-1: exit 0 in 0.3 s', '6.6.52',
    '== web-2: exit 1 in 0.3 s', 'uname: cannot get system name',
    '== web-3: unreachable: cannot connect to web-3 (root@10.0.0.3): Connection refused', '',
  ].join('\n'));
});

async function cli(args: string[]) {
  const out = captured();
  const err = captured();
  const code = await runCli(['node', 'fleet', ...args], { stdout: out.stream, stderr: err.stream, env: {}, cwd: tmpdir() }, new AbortController().signal);
  return { code, stdout: out.text(), stderr: err.text() };
}

test('CLI: the command after -- is an argv (its options are its own), --shell is sh -c TEXT; every misuse exits 2 with its message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-exec-'));
  writeFileSync(join(dir, 'hive.nix'), '{ }');
  const file = join(dir, 'fleet.yaml');
  // Port 1 on loopback refuses at once: the node is unreachable, the events still show what would have run.
  writeFileSync(file, 'version: 1\nnix: { file: ./hive.nix }\nnodes:\n  a: { host: 127.0.0.1, port: 1, connectTimeout: 2s }\n');
  const r = await cli(['-f', file, 'exec', '--json', '--', 'ls', '-la', '--on', 'x', '-f', "it's"]);
  assert.equal(r.code, 1, r.stderr);
  const events = readEventLines(r.stdout);
  assertValidEvents(events);
  const start = events[0] as Extract<EventBody, { type: 'exec-start' }>;
  assert.deepEqual(start.command, ['ls', '-la', '--on', 'x', '-f', "it's"]);
  assert.deepEqual(start.nodes, ['a']);
  const summary = events.at(-1)!;
  assert.ok(summary.type === 'exec-summary' && summary.nodes.a!.outcome === 'unreachable', JSON.stringify(summary));
  assert.deepEqual(execCommand([], 'a | b'), ['sh', '-c', 'a | b']);
  for (const [args, message] of [
    [['exec'], EXEC_NEEDS_COMMAND],
    [['exec', '--shell', ' '], EXEC_NEEDS_COMMAND],
    [['exec', '--shell', 'x', '--', 'y'], EXEC_BOTH_COMMANDS],
    [['exec', '--group', '--json', '--', 'y'], EXEC_GROUP_JSON],
    [['exec', '--ask-sudo-password', '--', 'y'], EXEC_PASSWORD_WITHOUT_SUDO],
  ] as const) {
    const bad = await cli(['-f', file, ...args]);
    assert.deepEqual([bad.code, bad.stderr], [2, `fleet: ${message}\n`], args.join(' '));
  }
  const timeout = await cli(['-f', file, 'exec', '--timeout', 'soon', '--', 'y']);
  assert.equal(timeout.code, 2);
  assert.match(timeout.stderr, /option '--timeout <duration>' argument 'soon' is invalid/);
});

test('CLI: exec --help names the options and shows examples', async () => {
  const r = await cli(['exec', '--help']);
  assert.equal(r.code, 0);
  for (const word of ['--shell <text>', '--sudo', '--timeout <duration>', '--group', '--waves <sizes>', '--max-failures', 'Examples:', 'fleet exec --on tag:web -- uname -r', 'Exit codes of exec']) {
    assert.ok(r.stdout.includes(word), word);
  }
});
