// `rollout.pause` without -i on light lab hosts: `confirm` asks on the terminal (tmux) after wave 1 while wave 2's
// hosts stay untouched, y deploys the rest, n leaves them held; a duration waits at least that long between waves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { labNixEnv, readSystemState, snapshotHost } from '../../lab/index.js';
import { readEventLines, type EventOf } from '../../src/events.js';
import { assertValidEvents } from '../events-validate.js';
import { startTmux, type TmuxSession } from '../tmux.js';
import { FLEET_BIN, runFleet, summaryOf } from './run-fleet.js';
import { configureHive, requireLabCapable, useDeployedLab } from './support.js';

const NODES = ['p1', 'p2', 'p3'];
const WAVE_2 = ['p2', 'p3'];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Generous: evaluation, builds and SSH on a shared machine; never a measurement.
const DEADLINE_MS = 90_000;
const QUESTION = /^fleet: wave 1 of 2 passed; start wave 2\? \[y\/N\]/m;

describe('rollout.pause without -i on a 3-node lab (waves 1,100%)', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NODES, `base-${nonce}`);
  const sessions: TmuxSession[] = [];
  // A test that failed midway leaves its fleet asking: Ctrl+C lets it release the hosts' locks before the next test.
  afterEach(async () => {
    for (const s of sessions.splice(0)) {
      if (s.exitCode() === undefined) await s.sendKeys('C-c').then(() => s.waitForExit(DEADLINE_MS)).catch(() => {});
      await s.close();
    }
  });

  const fleetFile = (name: string, pause: string) => ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-${name}.yaml`, extra: { rollout: { pause } } });
  /** Every node gets a new system; the hosts as they were before. */
  const prepare = async (tag: string) => {
    const outs = await configureHive(ctx.lab, ctx.hive, Object.fromEntries(NODES.map((n) => [n, { name: `${tag}-${nonce}` }])));
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await snapshotHost(ctx.lab, n)] as const)));
    return { outs, before };
  };
  /** fleet in a real terminal; `shell` wraps its argv (`"$@"`): a redirection of stdout. */
  const inTerminal = async (file: string, args: string[], shell = '"$@"') => {
    const tmux = await startTmux({
      command: ['sh', '-c', `exec ${shell}`, 'sh', process.execPath, '--import', 'tsx', FLEET_BIN, '-f', file, 'apply', '--waves', '1,100%', ...args],
      cwd: ROOT, env: labNixEnv,
    });
    sessions.push(tmux);
    return tmux;
  };
  const runsNew = async (host: string, out: string) => {
    const s = await readSystemState(ctx.lab, host);
    return s.current === out && s.profile === out;
  };
  /** Once the question is asked: wave 1 is deployed, wave 2's hosts are exactly as they were. */
  const checkAsking = async (outs: Record<string, string>, before: Record<string, unknown>) => {
    assert.ok(await runsNew('p1', outs.p1!), 'p1 (wave 1) runs its new system when the question comes');
    for (const n of WAVE_2) assert.deepEqual(await snapshotHost(ctx.lab, n), before[n], `${n} (wave 2) untouched while fleet asks`);
  };

  test('pause: confirm asks on the terminal after wave 1, wave 2 untouched meanwhile; y deploys the rest, exit 0', async () => {
    const file = await fleetFile('confirm', 'confirm');
    const { outs, before } = await prepare('yes');
    const tmux = await inTerminal(file, []);
    const asking = await tmux.waitForScreen(QUESTION, DEADLINE_MS);
    // The question is the last thing on the screen, right after the line saying why the run waits.
    assert.match(asking, /fleet +paused +before wave 2 of 2 \(rollout\.pause: confirm\)\n+fleet: wave 1 of 2 passed; start wave 2\? \[y\/N\]\s*$/);
    await checkAsking(outs, before);
    await tmux.sendKeys('y', 'Enter');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 0, await tmux.capture());
    assert.match(await tmux.capture(), /fleet +resumed +wave 2 of 2 starts/);
    for (const n of NODES) assert.ok(await runsNew(n, outs[n]!), `${n} runs its new system`);
  });

  test('pause: confirm, n: wave 2 ends held, its hosts untouched, exit 1; the question is on stderr, the --json events on stdout', async () => {
    const file = await fleetFile('confirm', 'confirm');
    const { outs, before } = await prepare('no');
    const eventsFile = `${ctx.lab.dir}/events-no-${nonce}.ndjson`;
    const tmux = await inTerminal(file, ['--json'], `"$@" > '${eventsFile}'`);
    const asking = await tmux.waitForScreen(QUESTION, DEADLINE_MS);
    assert.doesNotMatch(asking, /^\{/m, 'no event on the terminal: stdout goes to the file');
    await checkAsking(outs, before);
    await tmux.sendKeys('n', 'Enter');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 1, await tmux.capture());
    assert.ok(await runsNew('p1', outs.p1!), 'p1 (wave 1) keeps its new system');
    for (const n of WAVE_2) assert.deepEqual(await snapshotHost(ctx.lab, n), before[n], `${n} (wave 2) untouched`);

    const events = readEventLines(await readFile(eventsFile, 'utf8'));
    assertValidEvents(events);
    const summary = events.find((e): e is EventOf<'summary'> => e.type === 'summary');
    assert.deepEqual(summary?.nodes, {
      p1: { outcome: 'activated' },
      p2: { outcome: 'held', error: 'not started: the rollout was not continued after wave 1' },
      p3: { outcome: 'held', error: 'not started: the rollout was not continued after wave 1' },
    });
    assert.equal(summary?.exitCode, 1);
    // Without -i the question is the same gate as -i's: the run says it paused, and never that it resumed.
    assert.deepEqual(events.filter((e) => ['paused', 'resumed', 'wave-start'].includes(e.type)).map((e) => e.type === 'paused' ? `paused ${e.wave} ${e.reason}` : e.type), ['wave-start', 'paused 2 confirm']);
  });

  test('pause: 2s: wave 2 starts at least 2 s after wave 1 is done; every host runs its new system', async () => {
    const file = await fleetFile('delay', '2s');
    const { outs } = await prepare('delay');
    const run = await runFleet(['-f', file, 'apply', '--json', '--waves', '1,100%']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(Object.values(summaryOf(run).nodes).map((r) => r.outcome), NODES.map(() => 'activated'));
    const at = (type: 'wave-start' | 'wave-done', wave: number) => {
      const e = run.events.find((x) => x.type === type && x.wave === wave);
      assert.ok(e, `${type} ${wave}`);
      return Date.parse(e.time);
    };
    // The promised minimum wait, not fleet's speed: wave 2 may start any time after it.
    assert.ok(at('wave-start', 2) - at('wave-done', 1) >= 2000, `wave 2 started ${at('wave-start', 2) - at('wave-done', 1)} ms after wave 1 was done`);
    assert.ok(at('wave-start', 1) < at('wave-done', 1));
    for (const n of NODES) assert.ok(await runsNew(n, outs[n]!), `${n} runs its new system`);
  });
});
