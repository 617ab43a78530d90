// fleet's own file descriptors grow with the ssh clients it runs at once (2 or 3 pipes each), not with the fleet's
// size. Node itself raises its soft RLIMIT_NOFILE to the hard limit at start-up (checked: a `prlimit --nofile=100:4096`
// node runs with 4096), so what is left to do is to compare the need with that limit and, when it is too low, fail
// before any connection with a typed error that names the fix (raising a hard limit needs root).
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

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

/** Too few open files allowed for the connections fleet would hold at once. */
export class FileLimitError extends UsageError {
  readonly need: number;
  constructor(need: number, limits: FileLimits, what: string) {
    super(`fleet needs up to ${need} open files for ${what}, but its limit is ${limits.soft} (hard limit ${limits.hard}): raise the hard limit (\`ulimit -Hn ${need}\` as root, LimitNOFILE=${need} in a systemd unit, or nofile in /etc/security/limits.conf) or lower --parallel / --probe-parallel`);
    this.name = 'FileLimitError';
    this.need = need;
  }
}

/** Throws FileLimitError when fleet's open-files limit (node has raised its soft limit to the hard one) is below `need`. */
export function ensureFileLimit(need: number, what: string, limits = readFileLimits()): void {
  if (limits && limits.soft < need) throw new FileLimitError(need, limits, what);
}
