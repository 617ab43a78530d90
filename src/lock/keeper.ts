// The deployer's side of the per-target locks: the probe takes them (src/probe/probe.ts); this keeps them alive
// while the run lives (renewed every third of lockTimeout), checks one is still ours before an activation, and
// releases them all at the end. A run killed outright leaves them to expire.
import { lockArgv, parseLockReply, type LockIdentity } from '../agent/lock.js';
import type { ResolvedNode } from '../config/types.js';
import { lostLockText } from './text.js';
import { runOnNode } from '../agent/run.js';
import { failureReason } from '../transport/run.js';
import type { Target } from '../transport/target.js';

/** Runs a lock command on the node with its privilege escalation (and sudo password). */
export type LockRunner = (node: ResolvedNode, argv: string[]) => Promise<{ stdout: string; reason: string }>;

export interface LockKeeper {
  /** The probe of this node took its lock: renew it from now on. */
  hold(node: ResolvedNode): void;
  /** The probe of this node ran but its answer was lost: the lock may be ours, so release it at the end. */
  maybeHeld(node: ResolvedNode): void;
  /** Right before an activation: renews the lock; undefined when it is still ours, else why not. A target
   *  that cannot be asked is left to the activation itself to report. */
  confirm(node: ResolvedNode): Promise<string | undefined>;
  /** Stops renewing and releases every lock this run may hold; returns one warning per lock left behind. */
  releaseAll(): Promise<string[]>;
}

export interface LockKeeperOptions {
  identity: LockIdentity;
  run: LockRunner;
  /** Renewal period per node; default a third of its lockTimeout (two renewals may fail before it expires). */
  renewEveryMs?: (node: ResolvedNode) => number;
}

const seconds = (node: ResolvedNode) => node.lockTimeoutMs / 1000;

export function createLockKeeper(options: LockKeeperOptions): LockKeeper {
  // sure: the probe said it took the lock; else its answer was lost and the lock may be ours.
  const held = new Map<string, { node: ResolvedNode; sure: boolean; timer?: NodeJS.Timeout; renewing?: Promise<void>; lost?: string }>();
  const every = options.renewEveryMs ?? ((node) => Math.max(500, Math.floor(node.lockTimeoutMs / 3)));
  const command = (op: 'renew' | 'release', node: ResolvedNode) => options.run(node, lockArgv(op, node.profile, options.identity, seconds(node)));

  /** One renewal; a definite "not ours" marks the node lost, anything else (a dropped connection) waits for the next. */
  const renew = async (name: string): Promise<void> => {
    const entry = held.get(name);
    if (!entry?.sure || entry.lost) return;
    // A renewal runs from a timer: whatever goes wrong must not become an unhandled rejection.
    const r = await command('renew', entry.node).catch(() => undefined);
    const reply = r && parseLockReply(r.stdout);
    if (reply?.state === 'lost') {
      entry.lost = lostLockText(reply.holder);
      clearInterval(entry.timer);
    }
  };
  const renewOnce = (name: string): Promise<void> => {
    const entry = held.get(name);
    if (!entry) return Promise.resolve();
    // Never two renewals of one lock at once: a slow one is waited for, not doubled.
    entry.renewing ??= renew(name).finally(() => {
      entry.renewing = undefined;
    });
    return entry.renewing;
  };

  return {
    hold(node) {
      if (held.get(node.name)?.sure) return;
      const timer = setInterval(() => void renewOnce(node.name), every(node));
      timer.unref(); // the locks never keep fleet alive
      held.set(node.name, { node, sure: true, timer });
    },
    maybeHeld(node) {
      if (!held.has(node.name)) held.set(node.name, { node, sure: false });
    },
    async confirm(node) {
      const entry = held.get(node.name);
      if (!entry?.sure) return undefined; // not a lock this run took
      await entry.renewing;
      if (!entry.lost) await renewOnce(node.name);
      return entry.lost;
    },
    async releaseAll() {
      const entries = [...held.values()];
      for (const e of entries) clearInterval(e.timer);
      await Promise.all(entries.map((e) => e.renewing));
      const warnings = await Promise.all(entries.map(async ({ node, sure, lost }) => {
        if (lost) return undefined; // another run has it now
        const r = await command('release', node).catch((error: unknown) => ({ stdout: '', reason: error instanceof Error ? error.message : String(error) }));
        const reply = parseLockReply(r.stdout);
        if (reply && reply.state !== 'error') return undefined; // released, or not ours (any more)
        const why = reply?.error ?? r.reason;
        const what = sure ? 'could not release its lock' : 'could not release its lock, if this run took it';
        return `${node.name}: ${what} (${why}); it expires within ${formatSeconds(seconds(node))} (lockTimeout) or with a reboot`;
      }));
      held.clear();
      return warnings.filter((w): w is string => w !== undefined);
    },
  };
}

function formatSeconds(s: number): string {
  return s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${Math.ceil(s)} s`;
}

/** A LockRunner over the run's targets, privileged (locks live in /run). */
export function lockRunner(targetOf: (node: ResolvedNode) => Target): LockRunner {
  return async (node, argv) => {
    const r = await runOnNode(targetOf(node), argv, { escalate: true });
    return { stdout: r.stdout, reason: r.failed ? failureReason(r) : '' };
  };
}
