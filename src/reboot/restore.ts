// After a reboot the agent's run dir is gone (/run is cleared), so its own rollback has nothing to go back to. The
// way back is then fleet rollback's: make exactly the generation the node had before this run the profile's again
// and its boot entry (`switch-to-configuration boot` of that generation), through the agent and under the run's lock
// (taken again after the reboot), verified.
import { setTimeout as sleep } from 'node:timers/promises';
import { switchSeconds, type AgentClient, type Reply } from '../agent/client.js';
import type { ActivateStatus } from '../agent/protocol.js';
import type { SystemState } from '../target/state.js';

/** What the agent's reply can take beyond the boot step's own deadline. */
const GRACE_MS = 60_000;
/** One agent call waits at most this long on the target before it reports what it has. */
const CALL_WAIT_S = 300;

export type Restored = { ok: true; now: SystemState; log: string[] } | { ok: false; error: string; log: string[] };

/** Profile back on generation `before.generation` (which holds `before.profileTarget`), and its boot entry. */
export async function restoreGeneration(agent: AgentClient, before: SystemState, systemd: boolean): Promise<Restored> {
  const { generation, profileTarget } = before;
  if (generation === undefined || profileTarget === undefined) return { ok: false, error: 'it had no profile generation before this run to go back to', log: [] };
  const deadline = Date.now() + switchSeconds(agent.node) * 1000 + GRACE_MS;
  const wait = () => Math.max(1, Math.min(CALL_WAIT_S, Math.ceil((deadline - Date.now()) / 1000)));
  let reply: Reply<ActivateStatus> = await agent.activate({ outPath: profileTarget, goal: 'boot', setProfile: generation, checkSystem: agent.node.checkSystem, systemd, waitSeconds: wait() });
  const log = [...reply.log];
  if (reply.failure && reply.failure.kind !== 'cut' && !reply.started) return { ok: false, error: `it did not start: ${reply.failure.reason}`, log };
  // Still running, or the reply was cut: the agent's files say how it ends.
  while (!reply.report?.status) {
    if (Date.now() >= deadline) return { ok: false, error: `no result from the node's agent in time${reply.failure ? ` (${reply.failure.reason})` : ''}`, log };
    if (reply.failure) await sleep(1000);
    reply = await agent.wait('activate', { seconds: wait(), seen: reply.seen });
    log.push(...reply.log);
  }
  const { status, now } = reply.report;
  if (status.kind !== 'done') return { ok: false, error: `switch-to-configuration boot of generation ${generation} ended ${status.kind === 'unknown' ? status.text : status.kind}`, log };
  if (now.profileLink !== before.profileLink) return { ok: false, error: `the profile is ${now.profileLink ?? 'absent'} afterwards, expected ${before.profileLink}`, log };
  return { ok: true, now, log };
}
