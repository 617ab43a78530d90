// What fleet and src/keys/keys.sh say to each other (pure): the requests on stdin, the replies on stdout, and
// which keys differ. Content goes only into a write request's framing, as the bytes after a `put` line.
import { createHash } from 'node:crypto';
import type { ResolvedKey } from '../config/types.js';
import type { LoadedKey } from './sources.js';

/** A key's file on the target, as the read reported it: its salted hash and how it looks, or why there is none. */
export type TargetFile =
  | { kind: 'file'; hash: string; mode: number; user: string; group: string }
  | { kind: 'missing' } // no file
  | { kind: 'other' } // not a regular file (a symlink...), or a file the target cannot hash yet (no salt): replaced
  | { kind: 'dir' }; // a directory in the key's place: refused

export interface ReadReply {
  /** The target's salt (64 hex digits), or '' before fleet first wrote keys there. */
  salt: string;
  files: Map<string, TargetFile>; // by path
  /** Paths fleet wrote earlier that no key wants any more (manifest entries). */
  stale: string[];
  noUsers: Set<string>;
  noGroups: Set<string>;
}

/** The salted hash both sides compute: sha256 of the salt's text followed by the content. */
export function keyHash(salt: string, content: Buffer): string {
  return createHash('sha256').update(salt, 'utf8').update(content).digest('hex');
}

/** The read request: which paths, with which accounts. */
export function readRequest(keys: readonly ResolvedKey[]): string {
  return `${keys.map((k) => `want ${k.user} ${k.group} ${k.path}\n`).join('')}end\n`;
}

const word = String.raw`(\S+)`;
const keyLine = new RegExp(`^key ([0-9a-f]{64}) ([0-7]{3,4}) ${word} ${word} (/.*)$`);

/** The read's reply; undefined when it did not finish (no `done` after the salt). */
export function parseReadReply(stdout: string): ReadReply | undefined {
  const reply: ReadReply = { salt: '', files: new Map(), stale: [], noUsers: new Set(), noGroups: new Set() };
  let done = false;
  for (const line of stdout.split('\n')) {
    const key = keyLine.exec(line);
    const [kind = '', ...rest] = line.split(' ');
    const tail = rest.join(' ');
    if (key) reply.files.set(key[5]!, { kind: 'file', hash: key[1]!, mode: parseInt(key[2]!, 8), user: key[3]!, group: key[4]! });
    else if (kind === 'missing' || kind === 'other' || kind === 'dir') reply.files.set(tail, { kind });
    else if (kind === 'stale') reply.stale.push(tail);
    else if (kind === 'nouser') reply.noUsers.add(tail);
    else if (kind === 'nogroup') reply.noGroups.add(tail);
    else if (line.startsWith('salt=')) reply.salt = /^salt=([0-9a-f]{64})$/.exec(line)?.[1] ?? '';
    else if (line === 'done') done = true;
  }
  return done ? reply : undefined;
}

/** What a run does with a node's keys: which go up, which are current, which files fleet wrote go away. */
export interface KeysChange {
  changed: LoadedKey[]; // missing on the target, or different in content, owner, group or mode
  unchanged: LoadedKey[];
  removed: string[]; // paths
}

/** Compares what the deployer holds with what the target reported; `keys` limits the comparison (one stage's keys). */
export function compareKeys(loaded: readonly LoadedKey[], reply: ReadReply): KeysChange {
  const changed: LoadedKey[] = [];
  const unchanged: LoadedKey[] = [];
  for (const l of loaded) (isCurrent(l, reply.files.get(l.key.path), reply.salt) ? unchanged : changed).push(l);
  return { changed, unchanged, removed: [...reply.stale] };
}

function isCurrent({ key, content }: LoadedKey, file: TargetFile | undefined, salt: string): boolean {
  if (file?.kind !== 'file' || salt === '') return false;
  return file.hash === keyHash(salt, content.bytes) && file.mode === key.permissions && file.user === key.user && file.group === key.group;
}

/** A user or group a key names that the target does not have: one message per key, naming the key and the account. */
export function missingAccounts(keys: readonly ResolvedKey[], reply: Pick<ReadReply, 'noUsers' | 'noGroups'>, node: string): string[] {
  return keys.flatMap((k) => {
    const missing = [
      ...(reply.noUsers.has(k.user) ? [`user \`${k.user}\``] : []),
      ...(reply.noGroups.has(k.group) ? [`group \`${k.group}\``] : []),
    ];
    return missing.length > 0 ? [`key \`${k.name}\`: ${missing.join(' and ')} ${missing.length > 1 ? 'do' : 'does'} not exist on ${node}`] : [];
  });
}

/** Keys whose path is a directory on the target: refused, as fleet would not replace a directory. */
export function blockedPaths(keys: readonly ResolvedKey[], reply: Pick<ReadReply, 'files'>, node: string): string[] {
  return keys.filter((k) => reply.files.get(k.path)?.kind === 'dir').map((k) => `key \`${k.name}\`: ${k.path} is a directory on ${node}`);
}

/** The write request: each changed key's header line, then exactly its bytes; every other wanted path as `keep`
 *  (current: its manifest entry is refreshed) or `hold` (written by a later call of this run: left as it is). */
export function writeRequest(puts: readonly LoadedKey[], keeps: readonly ResolvedKey[], holds: readonly ResolvedKey[] = []): Buffer {
  const parts: Buffer[] = [];
  for (const { key, content } of puts) {
    parts.push(Buffer.from(`put ${content.length} ${key.permissions.toString(8).padStart(4, '0')} ${key.user} ${key.group} ${key.path}\n`, 'utf8'), content.bytes);
  }
  const lines = [...keeps.map((k) => `keep 0 - - - ${k.path}\n`), ...holds.map((k) => `hold 0 - - - ${k.path}\n`), 'end 0 - - - -\n'];
  parts.push(Buffer.from(lines.join(''), 'utf8'));
  return Buffer.concat(parts);
}

export interface WriteReply {
  done: boolean;
  wrote: string[];
  removed: string[];
  /** Files fleet wrote that left the fleet file but were changed since: not removed. */
  left: string[];
  noUsers: Set<string>;
  noGroups: Set<string>;
  /** Directories fleet refused to write into (writable by someone other than root, or not creatable). */
  badDirs: string[];
  dirs: string[];
}

export function parseWriteReply(stdout: string): WriteReply {
  const reply: WriteReply = { done: false, wrote: [], removed: [], left: [], noUsers: new Set(), noGroups: new Set(), badDirs: [], dirs: [] };
  for (const line of stdout.split('\n')) {
    const [kind = '', ...rest] = line.split(' ');
    const tail = rest.join(' ');
    if (kind === 'wrote') reply.wrote.push(tail);
    else if (kind === 'removed') reply.removed.push(tail);
    else if (kind === 'left') reply.left.push(tail);
    else if (kind === 'nouser') reply.noUsers.add(tail);
    else if (kind === 'nogroup') reply.noGroups.add(tail);
    else if (kind === 'baddir') reply.badDirs.push(tail);
    else if (kind === 'dir') reply.dirs.push(tail);
    else if (line === 'done') reply.done = true;
  }
  return reply;
}

/** `2 changed, 28 unchanged` (`, 1 removed` when fleet removes files): the words plan and the runs share. */
export function describeChange(c: { changed: number; unchanged: number; removed: number }): string {
  return `${c.changed} changed, ${c.unchanged} unchanged${c.removed > 0 ? `, ${c.removed} removed` : ''}`;
}

/** What `fleet status` says of a node's keys (hashes only): names missing on the target, names whose file differs,
 *  paths fleet wrote that no key wants any more; `error` when they could not be read (then nothing else is known). */
export interface KeysStatus {
  current: number;
  missing: string[];
  outdated: string[];
  stale: string[];
  error?: string;
}

export function keysStatus(loaded: readonly LoadedKey[], reply: ReadReply): KeysStatus {
  const { unchanged, changed, removed } = compareKeys(loaded, reply);
  const absent = (l: LoadedKey) => reply.files.get(l.key.path)?.kind === 'missing';
  return {
    current: unchanged.length,
    missing: changed.filter(absent).map((l) => l.key.name),
    outdated: changed.filter((l) => !absent(l)).map((l) => l.key.name),
    stale: removed,
  };
}
