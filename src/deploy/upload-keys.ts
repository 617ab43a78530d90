// `fleet keys`: upload the selected nodes' keys without deploying (colmena's upload-keys), e.g. after a reboot
// emptied /run/keys. Under each target's lock, as apply: one probe takes it, then per node one read (hashes)
// and, when something differs, one write of every changed key at once; the locks are released at the end.
import pLimit from 'p-limit';
import { createAgentClient } from '../agent/client.js';
import { deployerIdentity, type LockIdentity } from '../agent/lock.js';
import type { ResolvedNode } from '../config/types.js';
import { ExitCode } from '../errors.js';
import type { EmitEvent, Outcome } from '../events.js';
import { compareKeys, describeChange } from '../keys/protocol.js';
import { readKeys, refusals, writeKeys } from '../keys/remote.js';
import type { LoadedKeys } from '../keys/sources.js';
import { createLockKeeper, lockRunner } from '../lock/keeper.js';
import { lockedReason, takeoverText } from '../lock/text.js';
import { probeTargets } from '../probe/probe.js';
import type { HostPool } from '../transport/pool.js';
import { SshConnectError } from '../transport/ssh.js';
import { fleetVersion } from '../version.js';
import { decideExitCode } from './outcome.js';
import { createLedger, type NodeResult } from './ledger.js';

export interface UploadKeysOptions {
  runId: string;
  keys: LoadedKeys;
  pool: HostPool;
  emit: EmitEvent;
  /** Ctrl+C / SIGTERM: nodes not started are skipped; a write under way completes (it is atomic). */
  signal: AbortSignal;
  /** Nodes at once. */
  parallel: number;
  /** Take the targets' locks even from a live run. */
  breakLock?: boolean;
}

export interface UploadKeysResult {
  nodes: Record<string, NodeResult>;
  exitCode: number;
  /** Locks that could not be released (they expire by themselves). */
  warnings: string[];
}

export async function uploadKeys(nodes: readonly ResolvedNode[], options: UploadKeysOptions): Promise<UploadKeysResult> {
  const { emit, pool, signal } = options;
  const started = Date.now();
  // `goal`: the keys are those a switch would upload.
  emit({ type: 'run-start', command: 'keys', goal: 'switch', nodes: nodes.map((n) => n.name), fleetVersion: fleetVersion() });
  const identity: LockIdentity = { run: options.runId, by: deployerIdentity(), pid: process.pid };
  const locks = createLockKeeper({ identity, run: lockRunner((node) => createAgentClient(pool.targetOf(node), { lock: identity })) });
  // Every node goes on whatever another one did: fleet keys has no fail-fast (a key missing on one is no reason to stop).
  const ledger = createLedger({ emit, stop: new AbortController(), failFast: false });
  const { results } = ledger;
  const finish = (node: string, outcome: Outcome, error?: string) => ledger.finish(node, outcome, error);
  let warnings: string[];
  try {
    for (const node of nodes) emit({ type: 'node-phase', node: node.name, phase: 'query', detail: 'connecting' });
    const probed = await probeTargets(pool, nodes, {}, signal, { op: options.breakLock ? 'break' : 'take', identity });
    for (const e of probed.errors) {
      if (e.phase === 'query') locks.maybeHeld(nodes.find((n) => n.name === e.node)!);
      if (e.cause instanceof SshConnectError && e.cause.reason === 'canceled') finish(e.node, 'skipped', 'interrupted before it started');
      else finish(e.node, 'failed', e.message);
    }
    const ready: ResolvedNode[] = [];
    for (const node of nodes) {
      const lock = probed.states[node.name]?.lock;
      if (!lock) continue; // not asked: its failure is its word
      if (lock.state === 'held') {
        finish(node.name, 'locked', lockedReason(lock));
        continue;
      }
      locks.hold(node);
      if (lock.holder || lock.expired) emit({ type: 'node-phase', node: node.name, phase: 'query', detail: takeoverText(lock) });
      ready.push(node);
    }
    const limit = pLimit(options.parallel);
    await Promise.all(ready.map((node) => limit(async () => {
      if (signal.aborted) return finish(node.name, 'skipped', 'interrupted before it started');
      const r = await uploadNodeKeys(node, options);
      finish(node.name, r.outcome, r.error);
    })));
  } finally {
    warnings = await locks.releaseAll();
  }
  for (const node of nodes) if (!results.has(node.name)) finish(node.name, 'skipped', 'not started');
  const interrupted = signal.aborted;
  const exitCode = nodes.length === 0 ? ExitCode.ok : decideExitCode([...results.values()].map((r) => r.outcome), interrupted);
  const summary = Object.fromEntries(nodes.map((n) => [n.name, results.get(n.name)!]));
  emit({ type: 'summary', command: 'keys', goal: 'switch', exitCode, durationMs: Date.now() - started, interrupted, nodes: summary });
  return { nodes: summary, exitCode, warnings };
}

/** One node: compare (hashes), then one write of every changed key, pre- and post-activation alike. */
async function uploadNodeKeys(node: ResolvedNode, options: UploadKeysOptions): Promise<NodeResult> {
  const target = options.pool.targetOf(node);
  const loaded = options.keys.get(node.name) ?? [];
  const phase = (detail: string) => options.emit({ type: 'node-phase', node: node.name, phase: 'keys', detail });
  phase(`comparing ${loaded.length === 1 ? '1 key' : `${loaded.length} keys`}`);
  try {
    const reply = await readKeys(target, loaded.map((l) => l.key), options.signal);
    const { changed, unchanged, removed } = compareKeys(loaded, reply);
    options.emit({ type: 'keys', node: node.name, changed: changed.map((l) => l.key.name), unchanged: unchanged.length, removed });
    const refused = refusals(loaded.map((l) => l.key), reply, node.name);
    if (refused.length > 0) return { outcome: 'failed', error: `keys: no key was changed: ${refused.join('; ')}` };
    if (changed.length === 0 && removed.length === 0) return { outcome: 'unchanged' };
    phase(`${describeChange({ changed: changed.length, unchanged: unchanged.length, removed: removed.length })}: uploading ${changed.map((l) => l.key.name).join(', ') || 'none'}`);
    await writeKeys(target, changed, unchanged.map((l) => l.key));
    return { outcome: 'pushed' };
  } catch (error) {
    return { outcome: 'failed', error: `keys: ${error instanceof Error ? error.message : String(error)}` };
  }
}
