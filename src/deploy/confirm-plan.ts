// Magic rollback's confirmations against the deployer's own load (issue 19 §2): a confirmation goes before new
// work (copies and activations wait while one is pending), and activations are admitted only as many at once as
// their confirmations can be made within the window, from how long new SSH connections take right now.
import type { NodeCause } from '../events.js';

/** The node's error says it: the deployer, not the node, could not make the confirmation in time. */
export const OVERLOADED: NodeCause = 'deployer-overloaded';

export interface ConfirmPlanner {
  /** Before a copy or an activation starts: waits while confirmations are pending, when they are under pressure
   *  (a new connection takes more than a tenth of the window): then they go first. */
  yieldTo(): Promise<void>;
  /** Before an activation whose confirmation has `windowMs`: waits for room among the activations not yet confirmed;
   *  `overloaded` (why) when even alone its confirmation could not be made in time: it must not start. */
  admit(windowMs: number): Promise<{ overloaded?: string }>;
  /** An admitted activation is over (confirmed, rolled back or failed). */
  release(): void;
  /** Around a confirmation: pending meanwhile. */
  confirming<T>(work: () => Promise<T>): Promise<T>;
  /** A confirmation's new connection took this long (spawn to the agent's first line). */
  observe(connectMs: number): void;
}

/** A confirmation may use this share of its window; the rest is margin for a retry. */
const SHARE = 0.5;
/** Past this share of the window per new connection, the deployer is busy: pending confirmations hold new work.
 *  Below it they are left to run alongside (at 0.2 s a connection and a 30 s window, holding copies each time a
 *  confirmation is pending would only slow a large deploy down). */
const PRESSURE = 0.1;

/** best(): the quickest new connection fleet made to a target in this run (a probe's, a master's); the planner's
 *  estimate until confirmations are measured. */
export function createConfirmPlanner(best: () => number | undefined = () => undefined): ConfirmPlanner {
  let pending = 0; // confirmations in flight
  let admitted = 0; // activations started, not yet over
  let measured: number | undefined; // recent confirmations' connection time (moving average)
  let window: number | undefined; // the shortest confirmation window admitted so far
  let wakers: (() => void)[] = [];
  const wake = () => {
    const w = wakers;
    wakers = [];
    for (const f of w) f();
  };
  const wait = () => new Promise<void>((resolve) => wakers.push(resolve));
  const estimate = () => measured ?? best();
  /** Confirmations are pending while new connections are slow for their window: new work waits for them. */
  const held = () => {
    const est = estimate();
    return pending > 0 && est !== undefined && window !== undefined && est > window * PRESSURE;
  };

  return {
    async yieldTo() {
      while (held()) await wait();
    },
    async admit(windowMs) {
      window = Math.min(window ?? windowMs, windowMs);
      for (;;) {
        const est = estimate();
        if (est !== undefined && est > windowMs * SHARE && admitted === 0) {
          return { overloaded: `${OVERLOADED}: not activated, so that its watchdog cannot roll it back: new SSH connections from this deployer take ${(est / 1000).toFixed(1)}s now, more than half of the ${Math.round(windowMs / 1000)}s confirmation window (raise --confirm-timeout, lower --parallel, or deploy from a less busy machine); nothing was changed` };
        }
        // As many unconfirmed activations as confirmations fit, one after the other, in the window's share.
        const room = est === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor((windowMs * SHARE) / est));
        if (admitted < room && !held()) {
          admitted += 1;
          return {};
        }
        await wait();
      }
    },
    release() {
      admitted = Math.max(0, admitted - 1);
      wake();
    },
    async confirming(work) {
      pending += 1;
      try {
        return await work();
      } finally {
        pending -= 1;
        wake();
      }
    },
    observe(connectMs) {
      measured = measured === undefined ? connectMs : (measured + connectMs) / 2;
      wake();
    },
  };
}
