// One node's comparison: its current system's closure, read on the target, against the new system's,
// read where it was built (or on the target, when it already holds it). Shared by `fleet diff` and `fleet plan`.
import type { Host } from '../transport/host.js';
import { diffClosures, type Closure } from './closure.js';
import type { NodeDiff } from './group.js';
import { readClosure, type ClosureAnswer } from './read.js';

/** One read per (host, path) for the whole run: identical systems built once are read once. */
export class ClosureReader {
  private readonly cache = new Map<Host, Map<string, Promise<ClosureAnswer>>>();
  constructor(private readonly options: { signal?: AbortSignal; timeoutMs?: number } = {}) {}

  read(host: Host, path: string): Promise<ClosureAnswer> {
    let byPath = this.cache.get(host);
    if (!byPath) this.cache.set(host, (byPath = new Map()));
    let answer = byPath.get(path);
    if (!answer) byPath.set(path, (answer = readClosure(host, path, this.options)));
    return answer;
  }
}

export const newSystemAbsent = (path: string, where: string) => `the new system ${path} is not in the store of ${where}`;
export const currentSystemAbsent = (path: string) => `its current system ${path} is not in its store`;

export type Comparison = { kind: 'diff'; diff: NodeDiff } | { kind: 'new-absent' } | { kind: 'current-absent'; path: string };

const EMPTY: Closure = new Map();

/** The new system first: when it is not there (plan: not built yet), the target is not asked at all. */
export async function compareNode(reader: ClosureReader, input: { node: string; from?: string; to: string; target: Host; newHost: Host }): Promise<Comparison> {
  const after = await reader.read(input.newHost, input.to);
  if (!after.present) return { kind: 'new-absent' };
  let before = EMPTY;
  if (input.from) {
    const answer = input.from === input.to && input.newHost === input.target ? after : await reader.read(input.target, input.from);
    if (!answer.present) return { kind: 'current-absent', path: input.from };
    before = answer.closure;
  }
  const diff = diffClosures(before, after.closure);
  return { kind: 'diff', diff: { node: input.node, ...(input.from ? { from: input.from } : {}), to: input.to, diff } };
}
