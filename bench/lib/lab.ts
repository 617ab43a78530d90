// Reading the lab hosts themselves: what they run, how often they were logged into, what was built.
import { evalOutPaths as evalAllOutPaths, readSystemState, type Lab } from '../../lab/index.js';

/** Each lab host has its own empty /root (src/lab/host.ts): a session there must not run this machine's
 *  shell start-up files (pyenv: ~90 ms of CPU each), or contenders would be billed per session, not per work. */
export async function assertOwnHomes(lab: Lab): Promise<void> {
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

export function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

export { readWitness } from '../../lab/index.js';

/** The out paths of just these nodes. */
export async function evalOutPaths(hive: string, nodes: readonly string[]): Promise<Record<string, string>> {
  const all = await evalAllOutPaths(hive);
  return Object.fromEntries(nodes.map((n) => [n, all[n]!]));
}
