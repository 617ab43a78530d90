// The per-target lock's data: where it lives on a target, its record, and what the agent answers about it.
// The lock itself is the agent's `lockop` (src/agent/agent.sh): a symlink whose target string is the record,
// written there only; src/agent/client.ts sends the operations.
import { createHash } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { LockHolder, TargetLock } from '../target/state.js';

/** In /run: a reboot clears every lock with the runs it belonged to. */
export const LOCK_DIR = '/run/fleet/locks';

/** read: look only (fleet plan); take: unless another live run holds it; break: whoever holds it (--break-lock). */
export type LockOp = 'read' | 'take' | 'break' | 'renew' | 'release';

/** Who takes a lock: written into its record. */
export interface LockIdentity {
  run: string;
  by: string; // user@host
  pid: number;
}

/** One file per profile, named as `systemd-escape --path` would: /nix/var/nix/profiles/system → nix-var-nix-profiles-system. */
export function lockName(profile: string): string {
  const trimmed = profile.split('/').filter(Boolean).join('/');
  if (trimmed === '') return '-';
  let name = '';
  for (const [i, ch] of [...Buffer.from(trimmed, 'utf8')].entries()) {
    const c = String.fromCharCode(ch);
    if (c === '/') name += '-';
    else if (/[A-Za-z0-9:_]/.test(c) || (c === '.' && i > 0)) name += c;
    else name += `\\x${ch.toString(16).padStart(2, '0')}`;
  }
  // A file name has at most 255 bytes: a long profile keeps a readable start and a hash of the whole.
  return name.length <= 200 ? name : `${name.slice(0, 150)}-${createHash('sha256').update(profile).digest('hex').slice(0, 16)}`;
}

export function lockPath(profile: string): string {
  return `${LOCK_DIR}/${lockName(profile)}`;
}

/** user@host of this deployer, reduced to characters a record can carry (no spaces, no `=`). */
export function deployerIdentity(user = userInfo().username, host = hostname()): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_') || '_';
  return `${clean(user)}@${clean(host)}`;
}

/** `v=1 run=<id> by=<user@host> pid=<n> since=<epoch> expires=<epoch>` (records before the version have no `v=`,
 *  and read the same); undefined when it is not one. */
export function parseLockRecord(record: string): LockHolder | undefined {
  const fields = new Map<string, string>();
  for (const word of record.trim().split(/ +/)) {
    const eq = word.indexOf('=');
    if (eq > 0) fields.set(word.slice(0, eq), word.slice(eq + 1));
  }
  const run = fields.get('run');
  const by = fields.get('by');
  const [pid, since, expires] = ['pid', 'since', 'expires'].map((k) => (/^\d+$/.test(fields.get(k) ?? '') ? Number(fields.get(k)) : undefined));
  if (!run || !by || pid === undefined || since === undefined || expires === undefined) return undefined;
  return { run, by, pid, since, expires };
}

export type LockState = 'free' | 'held' | 'taken' | 'renewed' | 'released' | 'lost' | 'error';

/** What the agent said about the lock: its `lock=`, `lockHolder=` and `lockExpired=` lines. */
export interface LockReply {
  state: LockState;
  /** The other run's record (held, lost), or the one taken over (taken). */
  holder?: LockHolder;
  /** A record was there but could not be read. */
  unreadable?: string;
  expired: boolean;
  error?: string; // state error: why
}

const STATES: readonly LockState[] = ['free', 'held', 'taken', 'renewed', 'released', 'lost', 'error'];

/** undefined: the output holds no lock answer (the command did not get that far). */
export function parseLockReply(stdout: string): LockReply | undefined {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^(lock|lockHolder|lockExpired)=(.*)$/.exec(line);
    if (m && !values.has(m[1]!)) values.set(m[1]!, m[2]!);
  }
  const answer = values.get('lock');
  if (answer === undefined) return undefined;
  const [word = '', ...why] = answer.split(' ');
  const state = (STATES as readonly string[]).includes(word) ? (word as LockState) : 'error';
  const record = values.get('lockHolder');
  const holder = record ? parseLockRecord(record) : undefined;
  return {
    state,
    ...(holder ? { holder } : record ? { unreadable: record } : {}),
    expired: values.get('lockExpired') === '1',
    ...(state === 'error' ? { error: state === word ? why.join(' ') || 'unknown error' : `unexpected answer ${answer}` } : {}),
  };
}

/** A probe's lock answer as the plan keeps it; undefined: nobody holds it (or nothing to show). */
export function targetLockOf(reply: LockReply): TargetLock | undefined {
  const who = { ...(reply.holder ? { holder: reply.holder } : {}), ...(reply.expired ? { expired: true } : {}) };
  if (reply.state === 'held') return { state: 'held', ...who };
  if (reply.state === 'taken') return reply.holder || reply.unreadable ? { state: 'taken', ...who } : { state: 'taken' };
  return undefined;
}
