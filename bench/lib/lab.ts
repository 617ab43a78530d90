// The light lab the benchmarks run on, and reading its hosts: what they run, how often they were logged into, what was built.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { evalOutPaths as evalAllOutPaths, readSystemState, readWitness, startLab, writeHive, type Lab, type StandInSpec } from '../../lab/index.js';
import { expectOutcomes, runFleet, type FleetRun } from './fleet.js';

/** h01, h02, … */
export function hostNames(count: number): string[] {
  return Array.from({ length: count }, (_v, i) => `h${String(i + 1).padStart(2, '0')}`);
}

/** Node i runs configuration cfg-a, cfg-b, … (i modulo `configs`): nodes of one configuration share one derivation. */
export function groupedSpecs(hosts: readonly string[], configs: number, nonce: string, buildSeconds?: number): Record<string, StandInSpec> {
  return Object.fromEntries(hosts.map((h, i) => [h, { name: `cfg-${String.fromCharCode(97 + (i % configs))}`, nonce, ...(buildSeconds === undefined ? {} : { buildSeconds }) }]));
}

export interface BaseLab {
  lab: Lab;
  hive: string; // <lab>/hive.nix, the fleet file's nix.file
  fleetFile: string;
  runId: string; // fresh per benchmark run: nonces under it never meet an earlier run's store paths
}

/**
 * A light lab of `hosts` with a fleet file, each host with its own empty home and on the base generation
 * specsFor(`<runId>-base`) (deployed by fleet and verified, not timed); runs fn on it, then removes the lab.
 */
export async function withBaseLab<T>(hosts: string[], specsFor: (nonce: string) => Record<string, StandInSpec>, fn: (base: BaseLab) => Promise<T>): Promise<T> {
  const runId = randomBytes(4).toString('hex');
  const lab = await startLab({ names: hosts });
  try {
    const hive = `${lab.dir}/hive.nix`;
    const fleetFile = await lab.writeFleet({ nixFile: hive });
    await assertOwnHomes(lab);
    await writeHive(hive, specsFor(`${runId}-base`), lab.witness);
    expectOutcomes(await runFleet(['-f', fleetFile, 'apply', '--json', '--parallel', String(hosts.length)]), ['activated']);
    await verifyDeployed(lab, await evalOutPaths(hive, hosts));
    return await fn({ lab, hive, fleetFile, runId });
  } finally {
    await lab.stop({ remove: true });
  }
}

/** Each lab host has its own empty /root (lab/host.ts): a session there must not run this machine's
 *  shell start-up files (pyenv: ~90 ms of CPU each), or contenders would be billed per session, not per work. */
async function assertOwnHomes(lab: Lab): Promise<void> {
  await Promise.all(
    lab.hosts.map(async (h) => {
      const listed = await lab.exec(h.name, ['ls', '-A', '/root']);
      if (listed.exitCode !== 0 || listed.stdout.trim() !== '') throw new Error(`${h.name}: /root is not its own empty home`);
    }),
  );
}

/** A benchmark that does not check the work is not a benchmark: every host must run and boot its new system. */
export async function verifyDeployed(lab: Lab, expected: Record<string, string>): Promise<void> {
  const wrong: string[] = [];
  for (const [host, out] of Object.entries(expected)) {
    const s = await readSystemState(lab, host);
    if (s.current !== out || s.profile !== out) wrong.push(`${host}: runs ${s.current ?? '-'}, profile ${s.profile ?? '-'}, expected ${out}`);
  }
  if (wrong.length > 0) throw new Error(`hosts not on their new system:\n${wrong.join('\n')}`);
}

export async function countHandshakes(lab: Lab): Promise<Record<string, number>> {
  const counts = await Promise.all(lab.hosts.map(async (h) => [h.name, await lab.handshakes(h.name)] as const));
  return Object.fromEntries(counts);
}

/** SSH sessions (commands) each host started, over a master or not: sshd (LogLevel VERBOSE) logs one "Starting session" each. */
export async function countSessions(lab: Lab): Promise<Record<string, number>> {
  const counts = await Promise.all(lab.hosts.map(async (h) => [h.name, (await readFile(`${h.dir}/sshd.log`, 'utf8')).split('\n').filter((l) => l.includes('Starting session: command')).length] as const));
  return Object.fromEntries(counts);
}

export function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

export { readWitness };

/** The out paths of just these nodes. */
export async function evalOutPaths(hive: string, nodes: readonly string[]): Promise<Record<string, string>> {
  const all = await evalAllOutPaths(hive);
  return Object.fromEntries(nodes.map((n) => [n, all[n]!]));
}

async function readActivationLogs(lab: Lab): Promise<string[]> {
  return Promise.all(lab.hosts.map(async (h) => (await lab.exec(h.name, ['cat', '/nix/var/fleet-lab/activation.log'])).stdout));
}

/** A read-only run (`what`) must touch nothing: no build, no activation, one handshake per host (the probe). Its wall time. */
export async function expectUntouched(lab: Lab, what: string, run: () => Promise<FleetRun>, check: (r: FleetRun) => void): Promise<number> {
  const [logs, witness, handshakes] = [await readActivationLogs(lab), (await readWitness(lab)).length, await countHandshakes(lab)];
  const r = await run();
  check(r);
  if ((await readWitness(lab)).length !== witness) throw new Error(`${what} built something`);
  if ((await readActivationLogs(lab)).some((log, i) => log !== logs[i])) throw new Error(`${what} activated something`);
  const hs = Object.values(diffCounts(await countHandshakes(lab), handshakes));
  if (hs.some((n) => n !== 1)) throw new Error(`${what} made ${Math.min(...hs)}-${Math.max(...hs)} handshakes per host, expected 1`);
  return r.ms;
}
