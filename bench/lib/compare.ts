// Contenders side by side on one lab: each once per repetition in a rotated order, then compared per contender and per repetition.
import { summarize, type Spread } from './stats.js';

/** What every side-by-side sample carries. */
export interface Timed<C extends string> {
  contender: C;
  repetition: number;
  ms: number;
}

/** Every contender once per repetition, the order rotated each time: none always meets a cold or a warm machine. */
export async function repeatRotated<C extends string, S>(reps: number, contenders: readonly C[], measure: (contender: C, repetition: number) => Promise<S>): Promise<S[]> {
  const samples: S[] = [];
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < contenders.length; i++) samples.push(await measure(contenders[(i + r) % contenders.length]!, r));
  }
  return samples;
}

/** Each contender's wall time over its repetitions. */
export function wallByContender<C extends string>(contenders: readonly C[], samples: readonly Timed<C>[]): Record<C, Spread> {
  return Object.fromEntries(contenders.map((c) => [c, summarize(samples.filter((s) => s.contender === c).map((s) => s.ms))])) as Record<C, Spread>;
}

/** a against b within each repetition (a/b unless told): on a shared, noisy machine neighbours in time compare best. */
export function perRepetition<C extends string>(samples: readonly Timed<C>[], a: C, b: C, combine = (x: number, y: number) => x / y): Spread {
  const msOf = (c: C, r: number) => {
    const s = samples.find((x) => x.contender === c && x.repetition === r);
    if (!s) throw new Error(`no sample of ${c} in repetition ${r + 1}`);
    return s.ms;
  };
  const reps = [...new Set(samples.map((s) => s.repetition))].sort((x, y) => x - y);
  return summarize(reps.map((r) => combine(msOf(a, r), msOf(b, r))));
}
