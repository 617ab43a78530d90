// What the deployer's memory allows, and what an evaluator process uses: read from /proc (Linux). Elsewhere
// nothing is measured and the budget is unbounded.
import { readFileSync } from 'node:fs';
import type { MemorySetting } from '../config/types.js';

const GiB = 2 ** 30;

/** `auto`'s reserve: what the rest of the machine keeps (colmena's rule: available − 1 GiB); half when less than 2 GiB is available. */
export function autoBudget(available: number): number {
  return available - Math.min(GiB, available / 2);
}

/** The budget in bytes; Infinity when it depends on the available memory and that cannot be read. */
export function resolveBudget(setting: MemorySetting | undefined, available: number | undefined): number {
  if (setting?.kind === 'bytes') return setting.bytes;
  if (available === undefined) return Infinity;
  if (setting?.kind === 'percent') return Math.floor((available * setting.percent) / 100);
  return Math.floor(autoBudget(available));
}

/** MemAvailable of /proc/meminfo in bytes, or undefined where there is none. */
export function readMemAvailable(meminfo = '/proc/meminfo'): number | undefined {
  const text = readText(meminfo);
  const kb = text === undefined ? undefined : /^MemAvailable:\s+(\d+) kB$/m.exec(text)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

export interface ProcessMemory {
  rss: number; // bytes, the process and its descendants now
  hwm: number; // bytes, the process's own peak so far (VmHWM), plus its descendants' now
}

/** The memory of a process tree, or undefined once it is gone (or where /proc has no such files). */
export function readProcessMemory(pid: number): ProcessMemory | undefined {
  const own = readStatus(pid);
  if (!own) return undefined;
  let children = 0;
  for (const child of childrenOf(pid)) children += readProcessMemory(child)?.rss ?? 0;
  return { rss: own.rss + children, hwm: own.hwm + children };
}

function readStatus(pid: number): { rss: number; hwm: number } | undefined {
  const text = readText(`/proc/${pid}/status`);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text ?? '')?.[1] ?? NaN) * 1024;
  const rss = field('VmRSS');
  // A zombie (exited, not yet reaped) has no Vm lines: nothing to count.
  return Number.isNaN(rss) ? undefined : { rss, hwm: Math.max(rss, field('VmHWM') || 0) };
}

function childrenOf(pid: number): number[] {
  const text = readText(`/proc/${pid}/task/${pid}/children`) ?? '';
  return text.split(' ').filter((s) => s.trim() !== '').map(Number);
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
