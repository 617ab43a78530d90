// src/keys/keys.sh on a node, through its Target: privileged (keys are root's to read and write), over the node's
// connection; argv holds the constant script, a random token and the state directory, stdin everything else.
import { randomBytes } from 'node:crypto';
import type { ResolvedKey } from '../config/types.js';
import { failureReason } from '../transport/run.js';
import type { Target } from '../transport/target.js';
import { blockedPaths, missingAccounts, parseReadReply, parseWriteReply, readRequest, writeRequest, type ReadReply, type WriteReply } from './protocol.js';
import { KEYS_SCRIPT } from './script.js';
import type { LoadedKey } from './sources.js';

/** What one call may take beyond connecting (a write of large keys to a slow disk included). */
export const KEYS_CALL_MS = 60_000;

/** Where a node keeps the salt and the manifest of the keys fleet wrote. */
export function keysStateDir(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, '')}/keys`;
}

export function keysArgv(command: 'read' | 'write', token: string, stateDir: string): string[] {
  return ['sh', '-c', KEYS_SCRIPT, 'fleet-keys', command, token, keysStateDir(stateDir)];
}

/** A random line that marks where fleet's own input starts (a sudo password line may come before it). */
function newToken(): string {
  return `fleet-keys-${randomBytes(16).toString('hex')}`;
}

/** The target's view of `keys` (every key the node wants: stale entries are the manifest's others). */
export async function readKeys(target: Target, keys: readonly ResolvedKey[], signal?: AbortSignal): Promise<ReadReply> {
  const { node } = target;
  const token = newToken();
  const r = await target.runPrivileged(keysArgv('read', token, node.stateDir), {
    input: `${token}\n${readRequest(keys)}`, timeoutMs: node.connectTimeoutMs + KEYS_CALL_MS, ...(signal ? { signal } : {}),
  });
  const reply = r.failed ? undefined : parseReadReply(r.stdout);
  if (!reply) throw new Error(`cannot read the keys on ${node.name}: ${failureReason(r)}`);
  return reply;
}

/** Why a node cannot take these keys (an account it lacks, a directory in a key's place): one line per key. */
export function refusals(keys: readonly ResolvedKey[], reply: Pick<ReadReply, 'noUsers' | 'noGroups' | 'files'>, node: string): string[] {
  return [...missingAccounts(keys, reply, node), ...blockedPaths(keys, reply, node)];
}

/**
 * Uploads `puts` in one call and swaps them in together; `keeps` (current) and `holds` (a later call's) are every
 * other key the node wants, so only files no key wants any more are removed. Not interruptible: a write either
 * completes or leaves every key as it was. Throws with the target's reason (never content) when it fails.
 */
export async function writeKeys(target: Target, puts: readonly LoadedKey[], keeps: readonly ResolvedKey[], holds: readonly ResolvedKey[] = []): Promise<WriteReply> {
  const { node } = target;
  const token = newToken();
  const input = Buffer.concat([Buffer.from(`${token}\n`), writeRequest(puts, keeps, holds)]);
  const r = await target.runPrivileged(keysArgv('write', token, node.stateDir), { input, timeoutMs: node.connectTimeoutMs + KEYS_CALL_MS });
  const reply = parseWriteReply(r.stdout);
  if (!r.failed && reply.done) return reply;
  const keys = puts.map((p) => p.key);
  const refused = [
    ...missingAccounts(keys, reply, node.name),
    ...keys.filter((k) => reply.dirs.includes(k.path)).map((k) => `key \`${k.name}\`: ${k.path} is a directory on ${node.name}`),
    ...reply.badDirs.map((d) => `${d} on ${node.name} is not a directory only root can write to (fleet writes keys only there)`),
  ];
  throw new Error(refused.length > 0 ? `no key was changed: ${refused.join('; ')}` : `uploading the keys to ${node.name} failed: ${failureReason(r)}`);
}
