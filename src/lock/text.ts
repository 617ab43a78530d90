// The per-target lock in words: one wording for `fleet plan`, the run's phase lines and node outcomes.
import type { LockHolder, TargetLock } from '../target/state.js';

/** Epoch seconds (the target's clock) as `2026-11-21T09:15:02Z`. */
export function lockTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** `run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z`. */
export function describeHolder(h: LockHolder): string {
  return `run ${h.run} (${h.by}, pid ${h.pid}) since ${lockTime(h.since)}`;
}

/** Why apply leaves a node alone: another live run holds its lock. */
export function lockedReason(lock: TargetLock): string {
  if (!lock.holder) return 'locked by another run (its lock record is unreadable); not touched: use --break-lock if no run is deploying it';
  return `locked by ${describeHolder(lock.holder)}, until ${lockTime(lock.holder.expires)} unless renewed; not touched: use --break-lock if that run is gone`;
}

/** The phase line of a lock this run took over. */
export function takeoverText(lock: TargetLock): string {
  const whose = lock.holder ? `the ${lock.expired ? 'expired ' : ''}lock of ${describeHolder(lock.holder)}` : 'a lock with an unreadable record';
  const why = lock.expired ? (lock.holder ? `, expired ${lockTime(lock.holder.expires)}` : '') : ' (--break-lock)';
  return `took over ${whose}${why}`;
}

/** What `fleet plan` says about a node's lock. */
export function planLockText(lock: TargetLock): string {
  if (lock.state === 'taken') return takeoverText(lock);
  if (lock.expired) {
    const whose = lock.holder ? `stale lock of ${describeHolder(lock.holder)}, expired ${lockTime(lock.holder.expires)}` : 'stale lock with an unreadable record';
    return `${whose}: apply takes it over`;
  }
  return lockedReason(lock);
}

/** A lock this run held, found in another run's hands (or gone) before it changed the node: `what` it did not do. */
export function lostLockText(holder?: LockHolder, what = 'not activated'): string {
  return holder
    ? `this run's lock was taken over by ${describeHolder(holder)} (--break-lock, or it expired); ${what}`
    : `this run's lock is gone (it expired and was taken and released by another run, or was removed); ${what}`;
}
