// noop-16: `fleet apply` and `fleet plan` when all 16 nodes already run what the repo says (nothing to build,
// copy or activate), against one node's full deploy (a new system built, copied and activated), and against
// the floor of such a check (one evaluation, one ssh per node, all at once).
import { writeHive } from '../lab/index.js';
import { readEventLines } from '../src/events.js';
import { checkUpToDateFloor } from './lib/contenders.js';
import { expectOutcomes, runFleet, type FleetRun } from './lib/fleet.js';
import { evalOutPaths, expectUntouched, groupedSpecs, hostNames, verifyDeployed, withBaseLab } from './lib/lab.js';
import { target, writeResult } from './lib/results.js';
import { formatSeconds, repeat, repetitions, round, summarize, timeIt } from './lib/stats.js';

const HOSTS = hostNames(16);
const BUILD_SECONDS = 0.5;
const WELL_UNDER = 0.5; // "well under a single node's full deploy": at most half of it

const specsFor = (nonce: string) => groupedSpecs(HOSTS, 4, nonce, BUILD_SECONDS);

function checkPlanIsEmpty(r: FleetRun): void {
  if (r.code !== 0) throw new Error(`fleet plan exited ${r.code}: ${r.stderr}`);
  const plan = readEventLines(r.stdout).flatMap((e) => (e.type === 'plan' ? [e.plan] : []))[0];
  if (!plan) throw new Error(`fleet plan --json emitted no plan event: ${r.stdout.slice(0, 2000)}`);
  if (plan.builds.length !== 0 || plan.nodes.length !== HOSTS.length || plan.nodes.some((n) => n.activate || n.copy.kind !== 'none')) {
    throw new Error(`fleet plan is not empty: ${r.stdout.slice(0, 2000)}`);
  }
}

async function main(): Promise<void> {
  const reps = repetitions(5);
  const { apply, plan, floor, single } = await withBaseLab(HOSTS, specsFor, async ({ lab, hive, fleetFile, runId }) => {
    const applyArgs = ['-f', fleetFile, 'apply', '--json', '--parallel', '16'];
    const apply = await repeat(reps, () => expectUntouched(lab, 'a no-op apply', () => runFleet(applyArgs), (r) => void expectOutcomes(r, ['unchanged'])));
    const plan = await repeat(reps, () => expectUntouched(lab, 'fleet plan', () => runFleet(['-f', fleetFile, 'plan', '--json']), checkPlanIsEmpty));
    const deployment = { hive, sshConfig: lab.sshConfig, nodes: HOSTS };
    const floor = await repeat(reps, async () => (await timeIt(() => checkUpToDateFloor(deployment))).ms);
    // One node's full deploy: a fresh system for h01 only, built (0.5 s of work), copied and activated.
    const single = await repeat(reps, async (i) => {
      await writeHive(hive, { ...specsFor(`${runId}-base`), h01: { name: 'cfg-a', nonce: `${runId}-single-${i}`, buildSeconds: BUILD_SECONDS } }, lab.witness);
      const r = await runFleet(['-f', fleetFile, 'apply', '--json', '--on', 'h01']);
      expectOutcomes(r, ['activated']);
      await verifyDeployed(lab, await evalOutPaths(hive, ['h01']));
      return r.ms;
    });
    return { apply, plan, floor, single };
  });
  const wall = { apply: summarize(apply), plan: summarize(plan), floor: summarize(floor), singleNodeDeploy: summarize(single) };
  const ratio = round(wall.apply.median / wall.singleNodeDeploy.median, 2);
  const floorRatio = round(wall.apply.median / wall.floor.median, 2);
  console.error(`noop-16: apply ${formatSeconds(wall.apply)}, plan ${formatSeconds(wall.plan)}, floor ${formatSeconds(wall.floor)}, one node's deploy ${formatSeconds(wall.singleNodeDeploy)}`);
  await writeResult(
    'noop-16',
    { setup: { hosts: HOSTS.length, repetitions: reps, buildSeconds: BUILD_SECONDS, homes: 'each host its own empty /root' }, wallMs: wall, noopOverSingleDeploy: ratio, noopOverFloor: floorRatio,
      floor: 'one read-only nix-instantiate of all out paths, then 16 ssh at once: readlink -f profile /run/current-system' },
    {
      result: `apply ${formatSeconds(wall.apply)}, plan ${formatSeconds(wall.plan)}; floor (eval + 16 ssh at once) ${formatSeconds(wall.floor)} (apply/floor ${floorRatio}×); one node's full deploy ${formatSeconds(wall.singleNodeDeploy)}`,
      targets: [
        target('no-op apply < 2 s', `${(wall.apply.median / 1000).toFixed(2)} s`, wall.apply.median < 2000),
        target('no-op plan < 2 s', `${(wall.plan.median / 1000).toFixed(2)} s`, wall.plan.median < 2000),
        target(`no-op apply ≤ ${WELL_UNDER}× one node's deploy`, `${ratio}×`, ratio <= WELL_UNDER),
      ],
    },
  );
}

await main();
