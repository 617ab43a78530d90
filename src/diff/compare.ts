// One node's comparison: its current system's closure, read on the target, against the new system's,
// read where it was built (or on the target, when it already holds it: one round trip reads both).
// Shared by `fleet diff` and `fleet plan`.
import type { Host } from '../transport/host.js';
import { diffClosures, type Closure } from './closure.js';
import type { NodeDiff } from './group.js';
import { readClosures, type ClosureAnswer } from './read.js';

/** One read per (host, path) for the whole run: identical systems built once are read once. */
export class ClosureReader {
  private readonly cache = new Map<Host, Map<string, Promise<ClosureAnswer>>>();
  constructor(private readonly options: { signal?: AbortSignal; timeoutMs?: number } = {}) {}

  /** The answers for `paths` on `host`, in order; the paths not read yet are read in one round trip. */
  read(host: Host, paths: readonly string[]): Promise<ClosureAnswer>[] {
    let byPath = this.cache.get(host);
    if (!byPath) this.cache.set(host, (byPath = new Map()));
    const unread = [...new Set(paths)].filter((p) => !byPath.has(p));
    if (unread.length > 0) {
      const answers = readClosures(host, unread, this.options);
      // An answer nobody awaits (the current system, once the new one is absent) must not be an unhandled rejection.
      for (const answer of answers) answer.catch(() => undefined);
      unread.forEach((p, i) => byPath.set(p, answers[i]!));
    }
    return paths.map((p) => byPath.get(p)!);
  }
}

export const newSystemAbsent = (path: string, where: string) => `the new system ${path} is not in the store of ${where}`;
export const currentSystemAbsent = (path: string) => `its current system ${path} is not in its store`;

export type Comparison = { kind: 'diff'; diff: NodeDiff } | { kind: 'new-absent' } | { kind: 'current-absent'; path: string };

const EMPTY: Closure = new Map();

/** The new system first: when it is not there (plan: not built yet), a target that does not hold it is not asked
 *  at all; a target that holds it answers for both systems in the one call. */
export async function compareNode(reader: ClosureReader, input: { node: string; from?: string; to: string; target: Host; newHost: Host }): Promise<Comparison> {
  const both = input.from !== undefined && input.newHost === input.target;
  const [after, current] = reader.read(input.newHost, both ? [input.to, input.from!] : [input.to]);
  const answer = await after!;
  if (!answer.present) return { kind: 'new-absent' };
  let before = EMPTY;
  if (input.from) {
    const was = await (current ?? reader.read(input.target, [input.from])[0]!);
    if (!was.present) return { kind: 'current-absent', path: input.from };
    before = was.closure;
  }
  const diff = diffClosures(before, answer.closure);
  return { kind: 'diff', diff: { node: input.node, ...(input.from ? { from: input.from } : {}), to: input.to, diff } };
}
