// Repetition and robust summaries: this machine is shared and noisy, so medians and spreads, never one run.
import { readFile } from 'node:fs/promises';

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
  samples: number[];
}

export function summarize(samples: readonly number[]): Spread {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median: round(median), min: round(sorted[0]!), max: round(sorted.at(-1)!), n: sorted.length, samples: samples.map((s) => round(s)) };
}

/** Three significant decimals are more than this machine's noise allows. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Runs fn n times, one after the other (never concurrently: runs would compete for 2 cores). */
export async function repeat<T>(n: number, fn: (index: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await fn(i));
  return out;
}

/** Wall time of fn in milliseconds (monotonic clock). */
export async function timeIt<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/** "1.23 s [1.10–1.40]" style, for the summary table. */
export function formatSeconds(s: Spread): string {
  return `${(s.median / 1000).toFixed(2)} s [${(s.min / 1000).toFixed(2)}–${(s.max / 1000).toFixed(2)}]`;
}

export function formatMs(s: Spread): string {
  return `${Math.round(s.median)} ms [${Math.round(s.min)}–${Math.round(s.max)}]`;
}

/** Repetitions: BENCH_REPEAT overrides each benchmark's default (never below 3: a median needs them). */
export function repetitions(defaultCount: number): number {
  const env = Number(process.env.BENCH_REPEAT);
  return Number.isInteger(env) && env >= 3 ? env : defaultCount;
}

/** Busy CPU time of the whole machine so far, in ms (all processes: other load on a shared machine counts too). */
export async function readBusyCpuMs(): Promise<number> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, _idle, _iowait, irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) * 10; // USER_HZ = 100
}
