// What the reboot step needs of a run and a node: a narrow view of deploy's NodeContext (its run context and policy;
// deploy imports this module, so it names only what it reads), and the options of --reboot / fleet reboot.
import type { LockIdentity } from '../agent/lock.js';
import type { TargetState } from '../agent/state.js';
import type { ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { Outcome } from '../events.js';
import type { Goal } from '../goal.js';
import type { LockKeeper } from '../lock/keeper.js';
import type { NodePlan } from '../plan/types.js';
import type { SystemState } from '../target/state.js';
import type { HostPool } from '../transport/pool.js';

/** --reboot-timeout's default: a server's firmware, bootloader and services can take minutes. */
export const DEFAULT_REBOOT_TIMEOUT_MS = 10 * 60_000;

export interface RebootOptions {
  /** `fleet reboot`: every planned node. Else (--reboot) the nodes this run activated, and those whose booted
   *  system is not the new one yet (an earlier `boot` deploy waiting for its reboot). */
  every: boolean;
  /** From the reboot request until the node answers with a new boot id, its state read and its lock taken again. */
  timeoutMs: number;
}

/** A node that came back from its reboot: its new boot and what it runs (read under this run's lock, taken again). */
export interface Rebooted {
  bootId: string;
  now: SystemState;
}

/** How a step ends a node, as deploy's stages say it. */
export interface Settled {
  outcome: Outcome;
  error?: string;
  log?: string[];
  /** What the node runs now, when known (for the records). */
  now?: SystemState;
}

export interface RebootContext {
  readonly run: {
    readonly id: string;
    readonly lockIdentity: LockIdentity;
    readonly pool: Pick<HostPool, 'targetOf'>;
    readonly targets: ReadonlyMap<string, Pick<TargetState, 'systemd'>>;
    /** The lock dies with the reboot: not renewed meanwhile, held again once it is taken again. */
    readonly locks: Pick<LockKeeper, 'hold' | 'released'>;
    /** Ctrl+C, or fail-fast: no reboot starts after it. */
    readonly stop: { readonly signal: AbortSignal };
  };
  readonly policy: { readonly goal: Goal; readonly reboot?: RebootOptions };
  readonly plan: Pick<NodePlan, 'outPath' | 'activate' | 'from'>;
  readonly node: ResolvedNode;
  phase(phase: Phase, detail: string): void;
  /** Set once this run activated the node: what it ran before. */
  readonly activation?: { readonly before?: SystemState };
  /** Set by the reboot step once the node is back. */
  rebooted?: Rebooted;
  /** Puts the node back on what it ran before this run (deploy's one way back: through the agent's run dir, or
   *  after a reboot through undoAfterReboot). */
  undo(why: string): Promise<Settled>;
}
