// The deployer's side of the per-target locks: the probe takes them (src/probe/probe.ts); this keeps them alive
// while the run lives (renewed every third of lockTimeout) and releases, at the end, those the nodes' last calls
// did not. Every agent call that changes a node checks the lock itself (src/agent/agent.sh). A run killed
// outright leaves them to expire.
import type { AgentClient } from '../agent/client.js';
import type { LockIdentity, LockReply } from '../agent/lock.js';
import type { ResolvedNode } from '../config/types.js';
import pLimit from 'p-limit';
import { lostLockText } from './text.js';

/** Renews or releases the node's lock as this run (privileged: locks live in /run). */
export type LockRunner = (node: ResolvedNode, op: 'renew' | 'release') => Promise<{ reply?: LockReply; reason: string }>;

export interface LockKeeper {
  /** The probe of this node took its lock: renew it from now on. */
  hold(node: ResolvedNode): void;
  /** The probe of this node ran but its answer was lost: the lock may be ours, so release it at the end. */
  maybeHeld(node: ResolvedNode): void;
  /** Renews the lock now; undefined when it is still ours, else why not. For steps that change a node outside the
   *  agent (keys): the agent's own calls check the lock themselves. A target that cannot be asked is left to the
   *  step itself to report. */
  confirm(node: ResolvedNode): Promise<string | undefined>;
  /** The node's last call released the lock (or found it another run's): nothing more to renew or release. */
  released(node: ResolvedNode): void;
  /** Stops renewing and releases every lock this run may hold; returns one warning per lock left behind. */
  releaseAll(): Promise<string[]>;
}

export interface LockKeeperOptions {
  identity: LockIdentity;
  run: LockRunner;
  /** Renewal period per node; default a third of its lockTimeout (two renewals may fail before it expires). */
  renewEveryMs?: (node: ResolvedNode) => number;
  /** Renewals and releases at once (each a connection of its own when the node's master is closed); default unbounded. */
  parallel?: number;
}

const seconds = (node: ResolvedNode) => node.lockTimeoutMs / 1000;

export function createLockKeeper(options: LockKeeperOptions): LockKeeper {
  // sure: the probe said it took the lock; else its answer was lost and the lock may be ours.
  const held = new Map<string, { node: ResolvedNode; sure: boolean; timer?: NodeJS.Timeout; renewing?: Promise<void>; lost?: string }>();
  const every = options.renewEveryMs ?? ((node) => Math.max(500, Math.floor(node.lockTimeoutMs / 3)));
  // Renewals and releases at once are bounded (--probe-parallel): a thousand locks renewed by timers set within
  // the same second must not become a thousand ssh clients at once.
  const limit = pLimit(options.parallel ?? Number.POSITIVE_INFINITY);
  const command = (op: 'renew' | 'release', node: ResolvedNode) => limit(() => options.run(node, op));

  /** One renewal; a definite "not ours" marks the node lost, anything else (a dropped connection) waits for the next. */
  const renew = async (name: string): Promise<void> => {
    const entry = held.get(name);
    if (!entry?.sure || entry.lost) return;
    // A renewal runs from a timer: whatever goes wrong must not become an unhandled rejection.
    const r = await command('renew', entry.node).catch(() => undefined);
    const reply = r?.reply;
    if (reply?.state === 'lost') {
      entry.lost = lostLockText(reply.holder); // another run has it now: the node's next agent call says so too
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
    released(node) {
      const entry = held.get(node.name);
      if (!entry) return;
      clearInterval(entry.timer);
      held.delete(node.name);
    },
    async releaseAll() {
      const entries = [...held.values()];
      for (const e of entries) clearInterval(e.timer);
      await Promise.all(entries.map((e) => e.renewing));
      const warnings = await Promise.all(entries.map(async ({ node, sure, lost }) => {
        if (lost) return undefined; // another run has it now
        const r = await command('release', node).catch((error: unknown) => ({ reply: undefined, reason: error instanceof Error ? error.message : String(error) }));
        const reply = r.reply;
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

/** A LockRunner over the nodes' agent clients. */
export function lockRunner(agentOf: (node: ResolvedNode) => AgentClient): LockRunner {
  return (node, op) => agentOf(node).lock(op);
}
