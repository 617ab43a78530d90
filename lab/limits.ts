// The open-file limit a large lab needs: the process driving it (tests, benchmarks) and every fleet it starts
// (children inherit the limit) hold connections to each host. Raised up to the hard limit with prlimit(1).
import { readFileSync } from 'node:fs';
import { execaSync } from 'execa';
import { findExecutable } from './which.js';

export interface OpenFileLimit {
  soft: number;
  hard: number; // Infinity: unlimited
}

/** The `Max open files` line of /proc/<pid>/limits. */
export function parseOpenFileLimit(limits: string): OpenFileLimit {
  const m = /^Max open files\s+(\S+)\s+(\S+)\s+files/m.exec(limits);
  if (!m) throw new Error('no "Max open files" line in /proc/self/limits');
  const value = (v: string) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: value(m[1]!), hard: value(m[2]!) };
}

export function readOpenFileLimit(pid: number | 'self' = 'self'): OpenFileLimit {
  return parseOpenFileLimit(readFileSync(`/proc/${pid}/limits`, 'utf8'));
}

/** Raises this process's soft limit to at least `needed` (to the hard limit); throws when the hard limit is lower. */
export function raiseOpenFileLimit(needed: number): OpenFileLimit {
  const now = readOpenFileLimit();
  if (now.soft >= needed) return now;
  if (now.hard < needed) {
    throw new Error(`the lab needs ${needed} open files, but the hard limit is ${now.hard}: raise it (ulimit -Hn ${needed}, as root) or start fewer hosts`);
  }
  const prlimit = findExecutable('prlimit');
  if (!prlimit) throw new Error(`the lab needs ${needed} open files (soft limit ${now.soft}) and prlimit(1) is missing: apt-get install util-linux, or ulimit -Sn ${needed}`);
  const soft = Number.isFinite(now.hard) ? now.hard : Math.max(needed, 65_536);
  execaSync(prlimit, ['--pid', String(process.pid), `--nofile=${soft}:${Number.isFinite(now.hard) ? now.hard : 'unlimited'}`]);
  const after = readOpenFileLimit();
  if (after.soft < needed) throw new Error(`prlimit did not raise the open-file limit: soft ${after.soft}, needed ${needed}`);
  return after;
}
