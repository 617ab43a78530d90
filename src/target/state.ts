// What fleet reads from a target: the system it runs and who holds its lock. Types only, below every reader
// (agent, records, plan, status, the ui).

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
