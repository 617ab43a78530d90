// fleet exec on light lab hosts (issue 22 §1): output prefixed by node or grouped, the summary by exit code, a hung
// command bounded by --timeout and Ctrl+C, both checked on the hosts themselves (no process of the command left),
// the waves of a staged exec. What ran where is told by each host's own name (its UTS namespace) and files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { EventOf, FleetEvent } from '../../src/events.js';
import { requireLabCapable, useLab } from './support.js';
import { finishedRun, interruptAfterLines, runFleet, spawnFleet } from './run-fleet.js';

const NAMES = ['web-1', 'web-2', 'db-10'];

const eventsOf = <T extends FleetEvent['type']>(events: FleetEvent[], type: T) => events.filter((e): e is EventOf<T> => e.type === type);

describe('fleet exec on light hosts', { skip: requireLabCapable() }, () => {
  const ctx = useLab({ before, after }, NAMES);
  const nonce = randomBytes(3).toString('hex');
  let file: string;

  before(async () => {
    const hive = `${ctx.lab.dir}/hive.nix`;
    await writeFile(hive, '{ }\n'); // exec evaluates nothing
    file = await ctx.lab.writeFleet({ nixFile: hive, tags: { 'web-1': ['web'], 'web-2': ['web'] } });
  });

  /** Processes on the host whose command line matches `pattern` (a regex that does not match itself: `slee[p] 1`). */
  const processes = async (host: string, pattern: string) => (await ctx.lab.exec(host, ['sh', '-c', `pgrep -af '${pattern}' || true`])).stdout.trim();

  test('each line prefixed by its node, stdout and stderr apart; the summary groups the nodes by exit code', async () => {
    // Each host answers with its own name (UTS namespace) and exits with its name's length: 5, 5, 5+... db-10 → 5.
    const r = await runFleet(['-f', file, 'exec', '--', 'sh', '-c', 'hostname; echo "to stderr $(hostname)" >&2; case $(hostname) in web-1) exit 0;; web-2) exit 3;; *) exit 4;; esac']);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.split('\n').sort(), ['db-10 | db-10', 'web-1 | web-1', 'web-2 | web-2']);
    const stderr = r.stderr.split('\n');
    for (const name of NAMES) assert.ok(stderr.includes(`${name.padEnd(5)} | to stderr ${name}`), `${name}'s stderr line on stderr:\n${r.stderr}`);
    const summary = stderr.slice(stderr.indexOf('') + 1);
    assert.deepEqual(summary.slice(0, 3), ['exit 0  web-1', 'exit 3  web-2', 'exit 4  db-10']);
    assert.match(summary[3]!, /^3 nodes: 1 exited 0; exit code 1 after \d+\.\d s$/);
  });

  test('--group: a node\'s output as one block when it ends; --json: the same as events (valid), escape sequences kept there only', async () => {
    const command = ['sh', '-c', 'echo one; echo two; printf "\\033]0;title\\007three\\n"'];
    const grouped = await runFleet(['-f', file, 'exec', '--group', '--on', 'tag:web', '--', ...command]);
    assert.equal(grouped.code, 0, grouped.stderr);
    const blocks = grouped.stdout.split(/^(?=== )/m).sort();
    assert.equal(blocks.length, 2, grouped.stdout);
    for (const [i, name] of ['web-1', 'web-2'].entries()) assert.match(blocks[i]!, new RegExp(`^== ${name}: exit 0 in \\d+\\.\\d s\\none\\ntwo\\nthree\\n?$`));
    const json = await runFleet(['-f', file, 'exec', '--json', '--on', 'web-1', '--', ...command]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(eventsOf(json.events, 'exec-output').map((e) => [e.node, e.stream, e.line]), [['web-1', 'stdout', 'one'], ['web-1', 'stdout', 'two'], ['web-1', 'stdout', '\x1b]0;title\x07three']]);
    const [done] = eventsOf(json.events, 'exec-done');
    assert.deepEqual([done!.outcome, done!.exitCode], ['ok', 0]);
    assert.deepEqual(eventsOf(json.events, 'exec-summary')[0]!.groups, [{ outcome: 'ok', exitCode: 0, nodes: ['web-1'] }]);
  });

  test('the command is an argv (no shell parses it); --shell runs one shell line', async () => {
    const argv = await runFleet(['-f', file, 'exec', '--on', 'web-1', '--', 'printf', '%s|', 'a b', '$(hostname)', "it's", '*']);
    assert.equal(argv.code, 0, argv.stderr);
    assert.equal(argv.stdout, "web-1 | a b|$(hostname)|it's|*|");
    const shell = await runFleet(['-f', file, 'exec', '--on', 'web-1', '--shell', 'hostname | tr a-z A-Z']);
    assert.equal(shell.stdout, 'web-1 | WEB-1');
  });

  test('--timeout: a hung command ends on the host itself (SIGKILL for one that ignores SIGTERM); nothing of it is left there', async () => {
    const seconds = 86000 + Math.floor(Math.random() * 400);
    const run = await runFleet(['-f', file, 'exec', '--json', '--on', 'web-1,web-2', '--timeout', '1s', '--', 'sh', '-c',
      `echo started; if [ "$(hostname)" = web-2 ]; then trap "" TERM; fi; sleep ${seconds}`]);
    assert.equal(run.code, 1, run.stderr);
    const done = Object.fromEntries(eventsOf(run.events, 'exec-done').map((e) => [e.node, e]));
    assert.equal(done['web-1']!.outcome, 'timed-out');
    assert.equal(done['web-1']!.exitCode, 124);
    assert.equal(done['web-1']!.error, 'timed out after 1s: ended on the node');
    assert.equal(done['web-2']!.outcome, 'timed-out');
    assert.match(done['web-2']!.error!, /\(SIGKILL: it ignored SIGTERM\)$/);
    for (const host of ['web-1', 'web-2']) assert.equal(await processes(host, `slee[p] ${seconds}`), '', `${host}: the command is gone`);
    assert.deepEqual(eventsOf(run.events, 'exec-summary')[0]!.groups.map((g) => [g.outcome, g.nodes]), [['timed-out', ['web-1']], ['timed-out', ['web-2']]]);
  });

  test('Ctrl+C ends the remote commands (gone from the hosts), exit 130; a node not started yet is skipped', async () => {
    const seconds = 87000 + Math.floor(Math.random() * 400);
    // --parallel 2: db-10 waits for a free slot, which Ctrl+C never gives it.
    const child = spawnFleet(['-f', file, 'exec', '--json', '--parallel', '2', '--', 'sh', '-c', `echo "up ${nonce}"; sleep ${seconds}`]);
    interruptAfterLines(child, ['"type":"exec-output"', `up ${nonce}`], 2);
    const run = await finishedRun(child);
    assert.equal(run.code, 130, run.stderr);
    const done = Object.fromEntries(eventsOf(run.events, 'exec-done').map((e) => [e.node, e.outcome]));
    assert.deepEqual(done, { 'web-1': 'interrupted', 'web-2': 'interrupted', 'db-10': 'skipped' }, run.stdout);
    for (const host of NAMES) assert.equal(await processes(host, `slee[p] ${seconds}`), '', `${host}: nothing left running`);
    assert.equal(eventsOf(run.events, 'exec-summary')[0]!.interrupted, true);
  });

  test('--waves 1,1 --max-failures 0: the first wave\'s failure holds the rest; nothing ran there (its file is absent)', async () => {
    const mark = `/run/fleet-exec-${nonce}`; // /run is each host's own
    const run = await runFleet(['-f', file, 'exec', '--json', '--waves', '1,1', '--max-failures', '0', '--', 'sh', '-c', `touch ${mark}; [ "$(hostname)" != web-2 ]`]);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(eventsOf(run.events, 'wave-start').map((e) => e.nodes), [['web-1'], ['web-2']]);
    assert.deepEqual(eventsOf(run.events, 'wave-done').map((e) => [e.wave, e.failures, e.verdict]), [[1, 0, 'passed'], [2, 1, 'failed']]);
    const done = Object.fromEntries(eventsOf(run.events, 'exec-done').map((e) => [e.node, e.outcome]));
    assert.deepEqual(done, { 'web-1': 'ok', 'web-2': 'failed', 'db-10': 'held' });
    const marked = async (host: string) => (await ctx.lab.exec(host, ['sh', '-c', `[ -e ${mark} ] && echo yes || echo no`])).stdout.trim();
    assert.deepEqual([await marked('web-1'), await marked('web-2'), await marked('db-10')], ['yes', 'yes', 'no']);
  });
});
