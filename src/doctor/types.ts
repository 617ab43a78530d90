// What `fleet doctor` reports: per machine (the deployer, each node, each builder) a list of checks, each ok or
// what is wrong with the exact fix. The event contract (src/events.ts) carries these shapes as they are.

/** ok: fine; warn: worth knowing, a deploy still works (exit 0); fail: a deploy would fail (exit 1);
 *  skip: not asked, because a check it needs failed first (or it does not apply). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export const CHECK_STATUSES: readonly CheckStatus[] = ['ok', 'warn', 'fail', 'skip'];

export type DoctorRole = 'deployer' | 'node' | 'builder';

/** Every check, in the order a machine's block shows them. */
export const CHECK_NAMES = [
  'nix', // the deployer: Nix and the tools fleet runs locally
  'resolve', 'reach', 'rtt', 'host-key', 'auth', 'session',
  'nix-path', 'nix-version', 'store', 'trusted', 'systems', 'features',
  'sudo', 'activation', 'tools', 'disk-nix', 'disk-run', 'clock', 'lock', 'run-dirs',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export interface CheckResult {
  check: CheckName;
  status: CheckStatus;
  /** What was found, in one line (what a target said is kept as it said it: renderers clean it). */
  detail: string;
  /** fail and warn: what to do, exactly (a line to add, a command to run). */
  fix?: string;
  /** The measurement behind the check, where it has one: rtt ms, disk-* free bytes, clock offset ms, run-dirs count. */
  value?: number;
}

/** One machine doctor looked at. */
export interface DoctorHost {
  name: string; // a node or builder name, or `deployer`
  role: DoctorRole;
  /** How it is reached: `user@host:port` (as the fleet file says), or `local`. */
  address: string;
}

export interface HostReport extends DoctorHost {
  checks: CheckResult[];
}

export type CheckCounts = Record<CheckStatus, number>;

export function countChecks(reports: readonly { checks: readonly CheckResult[] }[]): CheckCounts {
  const counts: CheckCounts = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of reports) for (const c of r.checks) counts[c.status]++;
  return counts;
}

export const ok = (check: CheckName, detail: string, value?: number): CheckResult => ({ check, status: 'ok', detail, ...(value !== undefined ? { value } : {}) });
export const warn = (check: CheckName, detail: string, fix: string, value?: number): CheckResult => ({ check, status: 'warn', detail, fix, ...(value !== undefined ? { value } : {}) });
export const fail = (check: CheckName, detail: string, fix: string, value?: number): CheckResult => ({ check, status: 'fail', detail, fix, ...(value !== undefined ? { value } : {}) });
export const skip = (check: CheckName, detail: string): CheckResult => ({ check, status: 'skip', detail });
