// What a target reported when the agent's probe asked it; with its deploy records when those were asked for
// (so above src/records, which the system state types sit below).
import type { DeployRecord } from '../records/record.js';
import type { SystemState, TargetLock } from '../target/state.js';

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
