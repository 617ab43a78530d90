// Runs the built CLI (bin/fleet.js → dist/) as a user would: a fresh process per run, no network for Nix.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { labNixEnv } from '../../lab/index.js';
import { readEventLines, type EventOf } from '../../src/events.js';
import { timeIt } from './stats.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const FLEET_BIN = fileURLToPath(new URL('../../bin/fleet.js', import.meta.url));
/** Offline: the default substituter would stall every realisation by seconds (LAB.md). */
export const NIX_ENV = labNixEnv;
export { PROFILE } from '../../lab/index.js';

export interface FleetRun {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

export type FleetSummary = EventOf<'summary'>;

export async function runFleet(args: string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<FleetRun> {
  const { ms, value: r } = await timeIt(() =>
    execa(process.execPath, [FLEET_BIN, ...args], { reject: false, stdin: 'ignore', timeout: timeoutMs, env: { ...NIX_ENV, ...env } }),
  );
  return { ms, code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The last NDJSON line of `--json` output. */
export function parseSummary(run: FleetRun): FleetSummary {
  const summary = readEventLines(run.stdout).at(-1);
  if (summary?.type !== 'summary') throw new Error(`fleet printed no summary (exit ${run.code})\n${run.stderr.slice(-2000)}`);
  return summary;
}

/** Throws unless the run exited `code` and every node has one of the outcomes. */
export function expectOutcomes(run: FleetRun, outcomes: readonly string[], code = 0): FleetSummary {
  const summary = parseSummary(run);
  const wrong = Object.entries(summary.nodes).filter(([, r]) => !outcomes.includes(r.outcome));
  if (run.code !== code || wrong.length > 0) {
    // A failed node's log (its node-done event: e.g. nix-copy-closure's stderr) says why; the summary only what.
    const logOf = (node: string) => readEventLines(run.stdout).flatMap((e) => (e.type === 'node-done' && e.node === node && e.log ? e.log : []));
    const detail = wrong.map(([n, r]) => [`${n}: ${r.outcome} ${r.error ?? ''}`, ...(r.outcome === 'skipped' ? [] : logOf(n).map((l) => `  | ${l}`))].join('\n')).join('\n');
    throw new Error(`fleet exited ${run.code} (expected ${code}); outcomes not in [${outcomes.join(', ')}]:\n${detail}\n${run.stderr.slice(-2000)}`);
  }
  return summary;
}
