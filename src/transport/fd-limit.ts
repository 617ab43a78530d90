// fleet's own file descriptors grow with the ssh clients it runs at once (2 or 3 pipes each), not with the fleet's
// size: the need is computed from the limits, the soft RLIMIT_NOFILE raised up to the hard one when short (node
// cannot call setrlimit: util-linux's prlimit does it on fleet's pid), else a typed error naming the fix.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { RunCommand } from './run.js';

export interface FileLimits {
  soft: number;
  hard: number;
}

/** What fleet opens at most with `parallel` nodes at work and `probes` probes at once: per ssh client three pipes
 *  and a spare (a copy's, an activation's, a confirmation's), plus node's own (stdio, the event loop, files). */
export function filesNeeded(parallel: number, probes: number): number {
  return 64 + 4 * (3 * parallel + probes);
}

/** The soft and hard limits from /proc/self/limits; undefined where there is no /proc (then nothing is checked). */
export function readFileLimits(text = readProcLimits()): FileLimits | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text ?? '');
  if (!m) return undefined;
  const num = (s: string) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: num(m[1]!), hard: num(m[2]!) };
}

function readProcLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
}

/** Too few open files allowed, and fleet could not raise the limit itself. */
export class FileLimitError extends UsageError {
  readonly need: number;
  constructor(need: number, limits: FileLimits, what: string, why: string) {
    super(`fleet needs up to ${need} open files for ${what}, but its limit is ${limits.soft} (hard limit ${limits.hard}) and ${why}: raise it (\`ulimit -n ${need}\` in the shell that runs fleet, or LimitNOFILE= in a systemd unit) or lower --parallel / --probe-parallel`);
    this.name = 'FileLimitError';
    this.need = need;
  }
}

export interface EnsureInput {
  need: number;
  /** For the message: what the need is for (`--parallel 10 and --probe-parallel 32`). */
  what: string;
  run: RunCommand;
  read?: () => FileLimits | undefined;
  pid?: number;
}

/** Raises the soft limit to `need` when it is lower (up to the hard limit); throws FileLimitError when it cannot. */
export async function ensureFileLimit(input: EnsureInput): Promise<void> {
  const read = input.read ?? (() => readFileLimits());
  const limits = read();
  if (!limits || limits.soft >= input.need) return;
  if (limits.hard < input.need) throw new FileLimitError(input.need, limits, input.what, 'the hard limit is lower still');
  const r = await input.run(['prlimit', `--pid=${input.pid ?? process.pid}`, `--nofile=${input.need}:`], { timeoutMs: 10_000 });
  const now = read();
  if (now && now.soft >= input.need) return;
  const why = r.exitCode === undefined && /ENOENT/.test(r.message) ? 'prlimit (util-linux), which fleet raises it with, is not installed' : `prlimit could not raise it (${(r.stderr.trim() || r.message).split('\n')[0]})`;
  throw new FileLimitError(input.need, now ?? limits, input.what, why);
}
