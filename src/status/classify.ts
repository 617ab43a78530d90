// `fleet status`, the pure part: from what the evaluation wants and what a target reported, one state per node.
import { describeHolder } from '../lock/text.js';
import { shortStorePath } from '../plan/format.js';
import type { TargetState } from '../agent/state.js';
import type { SystemState, TargetLock } from '../target/state.js';
import type { DeployRecord } from '../records/record.js';
import type { KeysStatus } from '../keys/protocol.js';

export type NodeState = 'in-sync' | 'outdated' | 'drifted' | 'pending-reboot' | 'keys-missing' | 'keys-outdated' | 'unreachable' | 'locked';

export const NODE_STATES: readonly NodeState[] = ['in-sync', 'outdated', 'drifted', 'pending-reboot', 'keys-missing', 'keys-outdated', 'unreachable', 'locked'];

/** The newest record, as status shows it: which commit, who, when, why. */
export type LastDeploy = Pick<DeployRecord, 'kind' | 'run' | 'time' | 'goal' | 'toplevel' | 'generation' | 'rev' | 'dirty' | 'by' | 'on' | 'message'>;

export interface NodeStatus {
  node: string;
  state: NodeState;
  /** Why this state, in one line. */
  reason: string;
  desired: string; // the evaluated toplevel
  system?: SystemState; // what the target reported (absent: unreachable)
  lastDeploy?: LastDeploy;
  lock?: TargetLock; // another run holds the target's lock (expired: it may be taken over)
  keys?: KeysStatus; // the node's keys by hash, when the fleet file has keys
}

export function lastDeployOf(r: DeployRecord): LastDeploy {
  return {
    kind: r.kind, run: r.run, time: r.time, goal: r.goal, toplevel: r.toplevel,
    ...(r.generation !== undefined ? { generation: r.generation } : {}),
    rev: r.rev, ...(r.dirty !== undefined ? { dirty: r.dirty } : {}), by: r.by, on: r.on,
    ...(r.message !== undefined ? { message: r.message } : {}),
  };
}

const systemOnly = (t: TargetState): SystemState => ({
  ...(t.profileLink !== undefined ? { profileLink: t.profileLink } : {}),
  ...(t.generation !== undefined ? { generation: t.generation } : {}),
  ...(t.profileTarget !== undefined ? { profileTarget: t.profileTarget } : {}),
  ...(t.currentSystem !== undefined ? { currentSystem: t.currentSystem } : {}),
  ...(t.bootedSystem !== undefined ? { bootedSystem: t.bootedSystem } : {}),
});

export function unreachableStatus(node: string, desired: string, error: string): NodeStatus {
  return { node, state: 'unreachable', reason: error, desired };
}

/** The rev as people read it: 12 hex digits, `+dirty` when the tree had changes. */
export function describeRev(r: Pick<LastDeploy, 'rev' | 'dirty'>): string {
  if (r.rev === 'unknown') return 'unknown revision';
  return `${r.rev.slice(0, 12)}${r.dirty ? '+dirty' : ''}`;
}

/**
 * One state per node, first match wins: locked (another live run holds it: it is changing now); in-sync (runs
 * the desired system) unless its kernel, initrd or modules differ from the booted ones (pending-reboot);
 * pending-reboot (the newest record is a `boot` deploy of the desired system, its boot default, while it still
 * runs what it ran then or another fleet system); outdated (runs a system a fleet record names); drifted (runs a
 * system no fleet record names, or none).
 */
export function classify(node: string, profile: string, desired: string, target: TargetState): NodeStatus {
  const records = (target.records?.records ?? []).filter((r) => r.profile === profile);
  const last = records.at(-1);
  const base = {
    node, desired, system: systemOnly(target),
    ...(last ? { lastDeploy: lastDeployOf(last) } : {}),
    ...(target.lock?.state === 'held' ? { lock: target.lock } : {}),
  };
  const unreadable = target.records?.unreadable ?? 0;
  const note = unreadable > 0 ? ` (${unreadable === 1 ? '1 line' : `${unreadable} lines`} of its records could not be read)` : '';
  const at = (state: NodeState, reason: string): NodeStatus => ({ ...base, state, reason: `${reason}${note}` });
  const current = target.currentSystem;

  if (target.lock?.state === 'held' && !target.lock.expired) {
    return at('locked', `another run is deploying it: ${target.lock.holder ? describeHolder(target.lock.holder) : 'its lock record is unreadable'}`);
  }
  if (current === desired) {
    if (target.bootChanged) return at('pending-reboot', 'runs the desired system, but its kernel, initrd or modules differ from the booted ones: reboot to finish');
    return at('in-sync', 'runs the desired system');
  }
  const named = current === undefined ? undefined : [...records].reverse().find((r) => r.toplevel === current);
  // A boot deploy of the desired system, and the node still runs what it ran then (or another fleet system):
  // a reboot finishes it. A profile that merely points there while a hand-switched system runs is drift.
  const bootDeploy = last?.kind === 'deploy' && last.goal === 'boot' && last.toplevel === desired;
  if (bootDeploy && target.profileTarget === desired && (current === undefined || current === last.before?.currentSystem || named)) {
    return at('pending-reboot', `boots the desired system but runs ${current ? shortStorePath(current) : 'nothing'}: reboot to finish`);
  }
  if (current === undefined) return at('drifted', 'runs no system (/run/current-system is absent)');
  if (named) return at('outdated', `runs ${shortStorePath(current)} from an earlier fleet ${named.kind} (run ${named.run}, ${describeRev(named)}), not the desired ${shortStorePath(desired)}`);
  return at('drifted', `runs ${shortStorePath(current)}, which no fleet record names: changed by hand or by another tool`);
}

/** A node that runs the desired system but lacks keys (`keys-missing`) or holds other ones (`keys-outdated`, also
 *  for a file fleet wrote that no key wants any more); in any other state the system's word comes first. */
export function withKeys(status: NodeStatus, keys: KeysStatus | undefined): NodeStatus {
  if (!keys) return status;
  const base = { ...status, keys };
  if (status.state !== 'in-sync' || keys.error !== undefined) return base;
  const names = (list: string[]) => list.join(', ');
  if (keys.missing.length > 0) return { ...base, state: 'keys-missing', reason: `runs the desired system, but keys are missing: ${names(keys.missing)} (fleet keys uploads them)` };
  if (keys.outdated.length > 0 || keys.stale.length > 0) {
    const what = [...(keys.outdated.length > 0 ? [`keys differ: ${names(keys.outdated)}`] : []), ...(keys.stale.length > 0 ? [`keys no longer wanted: ${names(keys.stale)}`] : [])];
    return { ...base, state: 'keys-outdated', reason: `runs the desired system, but ${what.join('; ')} (fleet keys updates them)` };
  }
  return base;
}
