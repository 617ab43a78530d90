// For `fleet plan` and `fleet status`: each node's keys against its target, by hash only, all nodes at once.
// Read-only; a node whose keys cannot be read says why, it does not fail the command.
import pLimit from 'p-limit';
import type { ResolvedNode } from '../config/types.js';
import type { EmitEvent } from '../events.js';
import type { HostPool } from '../transport/pool.js';
import { compareKeys, describeChange, missingAccounts, type ReadReply } from './protocol.js';
import { readKeys, refusals } from './remote.js';
import type { LoadedKeys } from './sources.js';

export type KeysRead = { ok: true; reply: ReadReply } | { ok: false; error: string };

export async function inspectKeys(pool: Pick<HostPool, 'targetOf'>, nodes: readonly ResolvedNode[], keys: LoadedKeys, signal?: AbortSignal): Promise<Map<string, KeysRead>> {
  const limit = pLimit(64); // as the probe: bounds file descriptors and sshd MaxStartups
  const entries = await Promise.all(nodes.filter((n) => keys.has(n.name)).map((node) => limit(async (): Promise<[string, KeysRead]> => {
    try {
      return [node.name, { ok: true, reply: await readKeys(pool.targetOf(node), keys.get(node.name)!.map((l) => l.key), signal) }];
    } catch (error) {
      return [node.name, { ok: false, error: error instanceof Error ? error.message : String(error) }];
    }
  })));
  return new Map(entries);
}

/** `fleet plan`: per node what its keys would do (a `keys` event each, and a line for the text plan), and which
 *  nodes' keys would change (for --exit-code: a rotated secret is a change to deploy). */
export async function planKeys(pool: Pick<HostPool, 'targetOf'>, nodes: readonly ResolvedNode[], keys: LoadedKeys, emit: EmitEvent, signal?: AbortSignal): Promise<{ notes: Record<string, string>; changing: string[] }> {
  const reads = await inspectKeys(pool, nodes, keys, signal);
  const notes: Record<string, string> = {};
  const changing: string[] = [];
  for (const node of nodes) {
    const read = reads.get(node.name);
    if (!read) continue;
    if (!read.ok) {
      notes[node.name] = `cannot be compared: ${read.error}`;
      continue;
    }
    const loaded = keys.get(node.name)!;
    const { changed, unchanged, removed } = compareKeys(loaded, read.reply);
    emit({ type: 'keys', node: node.name, changed: changed.map((l) => l.key.name), unchanged: unchanged.length, removed });
    if (changed.length > 0 || removed.length > 0) changing.push(node.name);
    // A post-activation key's user may be one the new system creates: only a pre-activation one is sure to fail.
    const pre = loaded.filter((l) => l.key.uploadAt === 'pre-activation').map((l) => l.key);
    const post = loaded.filter((l) => l.key.uploadAt === 'post-activation').map((l) => l.key);
    const failing = refusals(pre, read.reply, node.name);
    const later = missingAccounts(post, read.reply, node.name);
    notes[node.name] = [
      `${describeChange({ changed: changed.length, unchanged: unchanged.length, removed: removed.length })}${changed.length > 0 ? ` (${changed.map((l) => l.key.name).join(', ')})` : ''}`,
      ...failing.map((f) => `would fail: ${f}`),
      ...later.map((f) => `${f} yet (post-activation: the new system may create it)`),
    ].join('; ');
  }
  return { notes, changing };
}
