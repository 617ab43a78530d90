// Reboot one node and wait for it, with a deadline: its boot id first, then the reboot asked of its agent (under the
// run's lock), then a new boot id, then what it runs (read while the probe takes the lock again: the reboot cleared
// it). The SSH master dies with the reboot: the transport opens it again, and meanwhile every poll is its own
// connection bounded by connectTimeout, so no hung connection holds the wait past its deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentClient } from '../agent/client.js';
import type { TargetState } from '../agent/state.js';
import type { Phase } from '../errors.js';
import { lostLockText, lockedReason } from '../lock/text.js';
import type { ProbeLock } from '../lock/take.js';
import { readTargetState } from '../probe/probe.js';
import { failureReason } from '../transport/run.js';
import type { Target } from '../transport/target.js';
import type { Rebooted } from './types.js';

/** The kernel's id of this boot: a new one after every reboot (systemd-nspawn gives each container boot its own). */
export const BOOT_ID = '/proc/sys/kernel/random/boot_id';
/** Between two polls of a node that is rebooting. */
const POLL_MS = 1000;
/** What one poll may take beyond connecting. */
const POLL_CALL_MS = 10_000;

export interface RebootCall {
  /** The node's agent client: its Target, this run's id and lock identity. */
  agent: AgentClient;
  systemd: boolean;
  timeoutMs: number;
  /** Taken again once the node is back (the reboot cleared /run). */
  lock: ProbeLock;
  /** The system the probe asks about (its `hasOut`). */
  expected: string;
  onPhase(phase: Phase, detail: string): void;
  /** Once the reboot was asked for: from here the lock dies with the node's /run. */
  onRequested(): void;
}

export type RebootEnd =
  /** Back with a new boot id; `state` read under this run's lock. */
  | { kind: 'back'; rebooted: Rebooted; state: TargetState }
  /** No reboot was asked for: the lock is another run's (`locked`) or the request failed (`failed`). */
  | { kind: 'not-asked'; outcome: 'failed' | 'locked'; reason: string }
  /** No new boot id within the deadline (or it never rebooted, or its state could not be read). */
  | { kind: 'not-back'; reason: string }
  /** Back, but another run took its lock while it rebooted: this run leaves it alone. */
  | { kind: 'taken'; reason: string };

export async function readBootId(target: Pick<Target, 'run' | 'node'>, timeoutMs: number): Promise<{ ok: true; id: string } | { ok: false; reason: string }> {
  const r = await target.run(['cat', BOOT_ID], { timeoutMs: target.node.connectTimeoutMs + Math.max(1, timeoutMs) });
  const id = r.stdout.trim();
  if (r.failed || !/^[0-9a-f-]{16,}$/.test(id)) return { ok: false, reason: r.failed ? failureReason(r) : `unexpected content \`${id.slice(0, 60)}\`` };
  return { ok: true, id };
}

export async function rebootAndWait(call: RebootCall): Promise<RebootEnd> {
  const { agent } = call;
  const target = agent.target;
  const first = await readBootId(target, POLL_CALL_MS);
  if (!first.ok) return { kind: 'not-asked', outcome: 'failed', reason: `not rebooted: cannot read its boot id (${BOOT_ID}): ${first.reason}` };
  const asked = await agent.reboot({ systemd: call.systemd });
  const failure = asked.failure;
  if (failure?.kind === 'lock') return { kind: 'not-asked', outcome: 'locked', reason: lostLockText(failure.lock?.holder, 'not rebooted') };
  // A cut reply may still have asked for it: only the boot id can tell, so the wait decides.
  if (failure && failure.kind !== 'cut') return { kind: 'not-asked', outcome: 'failed', reason: `not rebooted: the agent could not ask for the reboot: ${failure.reason}` };
  call.onRequested();
  const deadline = Date.now() + call.timeoutMs;
  call.onPhase('reboot', `rebooting (boot ${short(first.id)}); waiting up to ${formatMs(call.timeoutMs)} for it to come back`);

  let last = 'no answer yet';
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { kind: 'not-back', reason: notBack(call, first.id, last) };
    await sleep(Math.min(POLL_MS, left));
    const now = await readBootId(target, Math.min(POLL_CALL_MS, Math.max(1, deadline - Date.now())));
    if (!now.ok) {
      last = now.reason;
      continue;
    }
    if (now.id === first.id) {
      last = `it still answers from its old boot (boot id ${first.id})`;
      continue;
    }
    call.onPhase('reboot', `back: boot ${short(now.id)}; reading what it runs`);
    // Right after boot a probe may fail (sudo, the agent's tools starting): asked again until the deadline.
    for (;;) {
      try {
        const state = await readTargetState(target, call.expected, undefined, call.lock);
        if (state.lock?.state === 'held') return { kind: 'taken', reason: `another run took its lock while it rebooted: ${lockedReason(state.lock)}` };
        return { kind: 'back', rebooted: { bootId: now.id, now: withoutExtras(state) }, state };
      } catch (error) {
        last = `it came back (boot id ${now.id}), but its state cannot be read: ${error instanceof Error ? error.message : String(error)}`;
        if (Date.now() >= deadline) return { kind: 'not-back', reason: notBack(call, first.id, last) };
        await sleep(POLL_MS);
      }
    }
  }
}

/** What a person checks when a node did not come back: said with the node's own words where it had any. */
function notBack(call: RebootCall, oldId: string, last: string): string {
  const { node } = call.agent;
  return `did not come back within ${formatMs(call.timeoutMs)} of its reboot (--reboot-timeout); last: ${last}. `
    + `Its state is unknown: check its console (a boot that hangs, a failed unit, the boot loader's entry); once it answers, `
    + `\`fleet exec --on ${node.name} -- cat ${BOOT_ID}\` (it was ${oldId} before the reboot) and \`fleet status --on ${node.name}\` say whether it rebooted and what it runs`;
}

function withoutExtras(state: TargetState): Rebooted['now'] {
  const { hasOut: _h, systemd: _s, lock: _l, records: _r, bootChanged: _b, generations: _g, ...system } = state;
  return system;
}

function short(bootId: string): string {
  return bootId.slice(0, 8);
}

export function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
