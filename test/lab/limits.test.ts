// Limits that must hold on real hosts (issue 17, section 3): a hanging health command ends at its timeout on the
// host too, a records file cut short or grown huge still gives the right status and rollback, and a closed terminal
// (SIGHUP) still releases every target's lock. Every assertion reads the hosts themselves.
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { labNixEnv, readLocks, readSystemState, snapshotHost, stateDirOf, writeHive, type StandInSpec } from '../../lab/index.js';
import type { EventOf } from '../../src/events.js';
import { parseRecord, type DeployRecord } from '../../src/records/record.js';
import { eventually } from '../poll.js';
import { startTmux } from '../tmux.js';
import { QUIT_WHILE_ACTIVATING } from '../../src/ui/quit.js';
import { assertValidEvents } from '../events-validate.js';
import { FLEET_BIN, finishedRun, interruptDuringActivation, nodeDoneText, outcomesOf, parseEvents, runFleet, spawnFleet } from './run-fleet.js';
import { requireLabCapable, useDeployedLab } from './support.js';

const NAMES = ['b1', 'b2'];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Generous bounds for a shared machine: waits on host state, never measurements.
const WAIT_MS = 60_000;

/** Processes on this machine (light hosts share its pid namespace) whose argv is exactly `argv`. */
function processesRunning(argv: string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === wanted;
    } catch {
      return false; // gone meanwhile
    }
  }).map(Number);
}

describe('limits on a 2-node lab', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NAMES, `base-${nonce}`);
  const configure = (specs: Record<string, StandInSpec>) => writeHive(ctx.hive, specs, ctx.lab.witness);
  const recordsFile = (node: string) => `${stateDirOf(ctx.lab.hosts.find((h) => h.name === node)!)}/records`;
  const recordsOn = async (node: string): Promise<{ lines: string[]; records: DeployRecord[] }> => {
    const lines = readFileSync(recordsFile(node), 'utf8').split('\n').filter(Boolean);
    return { lines, records: lines.map((l) => parseRecord(l)).filter((r): r is DeployRecord => !!r) };
  };
  const statusOf = async (node: string) => {
    const run = await runFleet(['-f', ctx.fleetFile, 'status', '--on', node, '--json']);
    const status = run.events.find((e): e is EventOf<'status'> => e.type === 'status' && e.node === node);
    assert.ok(status, `no status event for ${node}: exit ${run.code}\n${run.stderr}`);
    return status;
  };
  /** A fleet file whose b1 runs `argv` as its health check, with this timeout and no retry. */
  const hangingCheck = (argv: string[], timeout: string) => ctx.lab.writeFleet({
    nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-hang.yaml`, nodes: { b1: { healthChecks: [{ name: 'hang', command: argv, timeout, retries: 0 }] } },
  });

  test('a health command that hangs fails its check at its timeout: the node is rolled back and the command no longer runs on the host', { timeout: 180_000 }, async () => {
    const sleep = ['sleep', `600.${randomInt(1000, 9999)}`]; // one no other process runs
    await configure({ b1: { name: `hang-${nonce}` }, b2: { name: `base-${nonce}` } });
    const before = await readSystemState(ctx.lab, 'b1');
    const run = await runFleet(['-f', await hangingCheck(sleep, '2s'), 'apply', '--on', 'b1', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { b1: 'rolled-back' });
    assert.match(nodeDoneText(run, 'b1'), /health check `hang` failed: timed out after 2s; rolled back to system-\d+-link/);
    assert.deepEqual(await readSystemState(ctx.lab, 'b1'), before, 'back on the system it ran');
    // The target's own bound ends it a grace after the deadline fleet keeps (it may still be on its way).
    assert.ok(await eventually(() => processesRunning(sleep).length === 0, { timeoutMs: WAIT_MS }), `${sleep.join(' ')} still runs: ${processesRunning(sleep).join(', ')}`);
  });

  test('Ctrl+C during a hanging health command: the run ends (exit 130) at the check\'s timeout, the node rolled back, the command gone from the host', { timeout: 180_000 }, async () => {
    const sleep = ['sleep', `600.${randomInt(1000, 9999)}`];
    await configure({ b1: { name: `hang-${nonce}` }, b2: { name: `base-${nonce}` } });
    const before = await readSystemState(ctx.lab, 'b1');
    const child = spawnFleet(['-f', await hangingCheck(sleep, '4s'), 'apply', '--on', 'b1', '--json']);
    const started = await eventually(() => processesRunning(sleep).length > 0 || child.exitCode !== null, { timeoutMs: WAIT_MS });
    assert.ok(started && child.exitCode === null, 'the health command runs on b1 while fleet waits for it');
    child.kill('SIGINT');
    const run = await finishedRun(child);
    assert.equal(run.code, 130, run.stderr);
    assert.deepEqual(outcomesOf(run), { b1: 'rolled-back' });
    assert.match(nodeDoneText(run, 'b1'), /health check `hang` failed: timed out after 4s/);
    assert.deepEqual(await readSystemState(ctx.lab, 'b1'), before);
    assert.ok(await eventually(() => processesRunning(sleep).length === 0, { timeoutMs: WAIT_MS }), `${sleep.join(' ')} still runs`);
    assert.equal(await readLocks(ctx.lab, 'b1'), '', 'its lock released');
  });

  test('a records file whose last line was cut: the next record starts a line of its own; status names it, rollback goes back one generation', { timeout: 180_000 }, async () => {
    await configure({ b1: { name: `base-${nonce}` }, b2: { name: `cut-1-${nonce}` } });
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'b2', '--json'])).code, 0);
    const middle = await readSystemState(ctx.lab, 'b2');
    // The last record loses its end and its newline: a full disk, a crash.
    assert.equal((await ctx.lab.exec('b2', ['sh', '-c', 'head -c -25 "$1" > "$1.cut" && mv "$1.cut" "$1"', 'sh', recordsFile('b2')])).exitCode, 0);
    const cut = (await recordsOn('b2')).lines.at(-1)!;
    assert.equal(parseRecord(cut), undefined, 'the last line is cut');
    await configure({ b1: { name: `base-${nonce}` }, b2: { name: `cut-2-${nonce}` } });
    const applied = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'b2', '--json']);
    assert.equal(applied.code, 0, applied.stderr);
    const { lines, records } = await recordsOn('b2');
    assert.deepEqual(lines.slice(-2, -1), [cut], 'the cut line stays, on its own');
    assert.equal(records.at(-1)?.run, applied.events[0]!.run, 'the new record is whole, on the last line');
    const status = await statusOf('b2');
    assert.equal(status.state, 'in-sync');
    assert.equal(status.lastDeploy?.run, applied.events[0]!.run, 'status names the newest deploy');
    assert.match(status.reason, /\(1 line of its records could not be read\)$/);
    const back = await runFleet(['-f', ctx.fleetFile, 'rollback', '--on', 'b2', '--json']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((await readSystemState(ctx.lab, 'b2')).current, middle.current, 'one generation back: the system before the newest deploy');
  });

  test('a records file of ~96 MB: status reads only its newest records and says the same as with a small one', { timeout: 180_000 }, async () => {
    const small = await statusOf('b1');
    assert.notEqual(small.state, 'unreachable', small.reason);
    const file = recordsFile('b1');
    const oldest = (await recordsOn('b1')).lines[0]!;
    // 96 MB of old records before the real ones, generated on the host.
    const copies = Math.ceil((96 * 1024 * 1024) / (oldest.length + 1));
    const grow = 'yes "$2" | head -n "$3" > "$1.big" && cat "$1" >> "$1.big" && mv "$1.big" "$1" && stat -c %s "$1"';
    const grown = await ctx.lab.exec('b1', ['sh', '-c', grow, 'sh', file, oldest, String(copies)]);
    assert.equal(grown.exitCode, 0, grown.stderr);
    assert.ok(Number(grown.stdout) > 64 * 1024 * 1024, `${grown.stdout} bytes: more than the 64 MB a reply may hold`);
    const big = await statusOf('b1');
    const answer = (e: EventOf<'status'>) => ({ state: e.state, reason: e.reason, system: e.system, lastDeploy: e.lastDeploy });
    assert.deepEqual(answer(big), answer(small), 'the same state, reason, system and last deploy');
  });

  test('SIGHUP: the terminal of fleet apply -i closed during the review: fleet ends and releases every target\'s lock', { timeout: 180_000 }, async () => {
    await configure({ b1: { name: `hup-${nonce}` }, b2: { name: `hup-${nonce}` } });
    const before = await Promise.all(NAMES.map((n) => snapshotHost(ctx.lab, n)));
    const tmux = await startTmux({ command: [process.execPath, '--import', 'tsx', FLEET_BIN, '-f', ctx.fleetFile, 'apply', '-i'], cwd: ROOT, env: labNixEnv });
    try {
      await tmux.waitForScreen(/^2 diffs of 2 ready/m, WAIT_MS);
      for (const n of NAMES) assert.notEqual(await readLocks(ctx.lab, n), '', `${n}: locked by the run under review`);
    } finally {
      await tmux.close(); // the window goes: its processes get SIGHUP
    }
    const fleetGone = () => processesRunning([process.execPath, '--import', 'tsx', FLEET_BIN, '-f', ctx.fleetFile, 'apply', '-i']).length === 0;
    assert.ok(await eventually(fleetGone, { timeoutMs: WAIT_MS }), 'fleet ended');
    for (const n of NAMES) assert.equal(await readLocks(ctx.lab, n), '', `${n}: its lock released`);
    assert.deepEqual(await Promise.all(NAMES.map((n) => snapshotHost(ctx.lab, n))), before, 'nothing changed on the hosts');
  });

  test('SIGHUP during an activation (the ssh session to the deploy machine dropped): the activation finishes, exit 130, locks released', { timeout: 180_000 }, async () => {
    await configure({ b1: { name: `hup-slow-${nonce}`, variant: 'slow' }, b2: { name: `hup-slow-${nonce}`, variant: 'slow' } });
    const child = spawnFleet(['-f', ctx.fleetFile, 'apply', '--json']);
    let sent = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (sent || !/"phase":"activate","detail":"switch-to-configuration/.test(chunk.toString())) return;
      sent = true;
      child.kill('SIGHUP');
    });
    const run = await finishedRun(child);
    assert.ok(sent, run.stderr);
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /fleet: SIGHUP: starting nothing new; running activations finish or roll back/);
    assert.ok(run.events.at(-1)?.type === 'summary', 'the summary, last');
    for (const n of NAMES) assert.equal(await readLocks(ctx.lab, n), '', `${n}: its lock released`);
  });

  // Last: the forced quit leaves b2's lock to expire.
  test('a second Ctrl+C (forced quit) mid-activation: the --json stream still ends with a summary (exit 3, the node\'s state unknown)', { timeout: 180_000 }, async () => {
    await configure({ b1: { name: `hup-slow-${nonce}`, variant: 'slow' }, b2: { name: `quit-${nonce}`, variant: 'hang' } });
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-quit.yaml`, nodes: { b2: { activationTimeout: '3s' } } });
    const { result, sent } = await interruptDuringActivation(['-f', file, 'apply', '--on', 'b2', '--json'], 2);
    assert.ok(sent, String(result.stderr));
    assert.equal(result.exitCode, 3, String(result.stderr));
    const events = parseEvents(String(result.stdout));
    assertValidEvents(events);
    const last = events.at(-1);
    assert.equal(last?.type, 'summary', `the last event: ${JSON.stringify(last)}`);
    assert.deepEqual(last?.type === 'summary' && [last.exitCode, last.interrupted, last.nodes], [3, true, { b2: { outcome: 'rollback-failed', error: QUIT_WHILE_ACTIVATING } }]);
  });
});
