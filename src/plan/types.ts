// The plan is data: printable, diffable, and the only thing `deploy` executes.
import type { Goal } from '../goal.js';
import type { Wave } from '../rollout/waves.js';
import type { DeployRecord } from '../records/record.js';

export type { Wave };

/** Where a build runs: the deployer, a node itself, a named builder, or an ad-hoc host. */
export type BuildLocation =
  | { kind: 'local' }
  | { kind: 'builders' } // the deployer's Nix, spreading builds over every builder (--builders)
  | { kind: 'node'; node: string }
  | { kind: 'builder'; builder: string }
  | { kind: 'host'; user?: string; host: string; port?: number };

/** What a node runs, as its target reported it (read-only probe). */
export interface SystemState {
  profileLink?: string; // e.g. system-5-link
  generation?: number;
  profileTarget?: string; // store path the profile resolves to
  currentSystem?: string; // readlink /run/current-system
  bootedSystem?: string; // readlink /run/booted-system
}

/** Who holds a target's lock, from the record on the target (times by the target's clock, epoch seconds). */
export interface LockHolder {
  run: string; // the holder's run id
  by: string; // user@host of its deployer
  pid: number; // its fleet process on that deployer
  since: number;
  expires: number; // unless renewed: the holder renews it while it runs
}

/** The per-target lock (/run/fleet/locks) as the probe found it (`fleet plan`) or left it (`fleet apply`). */
export interface TargetLock {
  /** held: another run holds it (apply leaves the node alone); taken: this run holds it now. */
  state: 'held' | 'taken';
  /** held: its holder; taken: the run it was taken over from (expired, or --break-lock). Absent: an unreadable record. */
  holder?: LockHolder;
  /** The holder's expiry had passed by the target's clock (apply takes such a lock over). */
  expired?: boolean;
}

/** What a target reported when asked. */
export interface TargetState extends SystemState {
  hasOut: boolean; // the desired toplevel is already valid in its store
  systemd: boolean; // activation can run detached under systemd-run
  lock?: TargetLock; // absent: nobody holds it (plan), or the goal takes none
  /** Read when asked for (`fleet status`): the target's deploy records, oldest first, and lines that were not records. */
  records?: { records: DeployRecord[]; unreadable: number };
  /** /run/booted-system's kernel, initrd or modules differ from /run/current-system's: a reboot is due. */
  bootChanged?: boolean;
  /** Read with the records: the profile's generation number → the system it holds (fleet rollback's choices). */
  generations?: ReadonlyMap<number, string>;
}

export interface BuildJob {
  id: string; // stable key of the location, e.g. "local", "builders", "builder:big", "node:web-1"
  location: BuildLocation;
  drvPaths: string[]; // distinct, sorted: each built once on this location
  nodes: string[];
}

export type CopyRoute =
  | { kind: 'none'; reason: 'present' | 'built-on-target' | 'not-needed' }
  | { kind: 'from-local' }
  | { kind: 'from-build-host'; buildJob: string }; // direct, relaying via the deployer if that fails

export interface NodePlan {
  name: string;
  drvPath: string;
  outPath: string;
  /** What the node runs now (absent for `build`, which never asks targets). */
  from?: SystemState;
  /** What it will run: the new toplevel. */
  /** generation: fleet rollback goes back to exactly this existing profile generation. */
  to: { system: string; generation?: number };
  buildJob?: string; // id of the BuildJob producing outPath, if anything must be built
  copy: CopyRoute;
  activate: boolean;
  /** Why nothing (or something) happens; shown by `fleet plan`. */
  reason: string;
  /** The target's lock when another run holds it, or when this run took it over. */
  lock?: TargetLock;
}

export interface Plan {
  goal: Goal;
  builds: BuildJob[];
  nodes: NodePlan[];
  /** A staged rollout (goals that activate): every selected node in exactly one wave, in activation order.
   *  Nodes that could not be planned (evaluation or probe failed) keep their place: they count as failures of their wave. */
  waves?: Wave[];
}
