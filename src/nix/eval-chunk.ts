// One chunk of nodes in one nix-instantiate process (nix/eval.nix): its argv, the progress marks it writes to
// stderr as it goes, and what its end means for each of its nodes.
import { fileURLToPath } from 'node:url';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import type { NodeEval } from './eval-types.js';
import { flakeOptions } from './version.js';

const EVAL_NIX = fileURLToPath(new URL('../../nix/eval.nix', import.meta.url));
const MARK = 'trace: fleet-eval:';
export const DONE_MARK = `${MARK}done:`;

/** The attribute path of a node's toplevel: `attr` if set, else the source's convention. */
export function attrPathOf(fleet: Pick<ResolvedFleet, 'nix'>, node: Pick<ResolvedNode, 'name' | 'attr'>): string[] {
  if (node.attr) return node.attr.split('.');
  return 'flake' in fleet.nix ? ['nixosConfigurations', node.name, 'config', 'system', 'build', 'toplevel'] : [node.name];
}

/** catchErrors: each node under tryEval (a chunk); false: Nix's own error message (one failed node, again alone). */
export function buildEvalArgv(fleet: Pick<ResolvedFleet, 'nix'>, nodes: readonly Pick<ResolvedNode, 'name' | 'attr'>[], showTrace = false, catchErrors = true): string[] {
  const spec = JSON.stringify(nodes.map((n) => ({ name: n.name, attr: attrPathOf(fleet, n) })));
  // Each process opens the flake (or imports the file) once for its whole chunk.
  const source = 'flake' in fleet.nix ? ['--argstr', 'flake', fleet.nix.flake, ...flakeOptions()] : ['--argstr', 'file', fleet.nix.file];
  return [
    // --read-write-mode: evaluating drvPath must write the .drv files we then build or copy.
    'nix-instantiate', '--eval', '--strict', '--json', '--read-write-mode', EVAL_NIX, '--argstr', 'spec', spec, ...source,
    ...(catchErrors ? [] : ['--argstr', 'catch', '0']),
    ...(showTrace ? ['--show-trace'] : []),
  ];
}

type Evaluated = { ok: true; eval: NodeEval } | { ok: false };

interface RawResult {
  ok: boolean;
  drv?: string;
  out?: string;
  system?: string | null;
}

function toEvaluated(raw: RawResult): Evaluated {
  if (!raw.ok || typeof raw.drv !== 'string' || typeof raw.out !== 'string') return { ok: false };
  return { ok: true, eval: { drvPath: raw.drv, outPath: raw.out, ...(raw.system ? { system: raw.system } : {}) } };
}

/** The marks a chunk process has written so far (fed line by line from its stderr). */
export interface ChunkProgress {
  begun: boolean; // eval.nix started
  rooted: boolean; // the file or flake evaluated: a later error is a node's
  started: number; // index + 1 of the last node started
  done: Map<number, Evaluated>; // by index in the chunk
}

export function createProgress(): { progress: ChunkProgress; onLine: (line: string) => void } {
  const progress: ChunkProgress = { begun: false, rooted: false, started: 0, done: new Map() };
  const onLine = (line: string) => {
    if (!line.startsWith(MARK)) return;
    const mark = line.slice(MARK.length);
    if (mark === 'begin') progress.begun = true;
    else if (mark === 'root') progress.rooted = true;
    else if (mark.startsWith('start:')) progress.started = Math.max(progress.started, Number(mark.slice(6)) + 1);
    else if (mark.startsWith('done:')) {
      try {
        const raw = JSON.parse(mark.slice(5)) as RawResult & { i: number };
        progress.done.set(raw.i, toEvaluated(raw));
      } catch {
        // A mark cut short: that node counts as not done.
      }
    }
  };
  return { progress, onLine };
}

/** What a chunk's process said about its nodes. `caught`: failed under tryEval (Nix's message still to get). */
export interface Settled {
  results: Record<string, NodeEval>;
  caught: string[];
}

export type ChunkVerdict =
  | ({ kind: 'done' } & Settled)
  /** An error tryEval cannot catch, while evaluating `culprit`: the nodes after it did not start. */
  | ({ kind: 'node-failed'; culprit: string; message: string; rest: string[] } & Settled)
  /** The file or flake itself failed, before any node: every node would fail alike. */
  | { kind: 'source-failed'; message: string }
  /** Failed without marks to say where (a Nix whose trace lines fleet does not read): bisect `rest`. */
  | ({ kind: 'unexplained'; message: string; rest: string[] } & Settled)
  /** nix-instantiate did not start at all. */
  | { kind: 'cannot-run'; message: string }
  /** Ended by fleet (over the budget, or Ctrl+C): `rest` did not finish. */
  | ({ kind: 'stopped'; rest: string[] } & Settled);

export interface ChunkExit {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** execa's short message when it failed. */
  message: string;
  /** fleet ended it. */
  stopped: boolean;
}

export function judgeChunk(names: readonly string[], exit: ChunkExit, progress: ChunkProgress): ChunkVerdict {
  if (exit.stopped) return { kind: 'stopped', ...settledFrom(names, progress), rest: unfinished(names, progress) };
  if (exit.exitCode === undefined) return { kind: 'cannot-run', message: `cannot run nix-instantiate: ${exit.message}` };
  if (exit.exitCode === 0) {
    const parsed = parseOutput(names, exit.stdout);
    if (parsed) return { kind: 'done', ...parsed };
  }
  const message = describeEvalFailure(exit.stderr, exit.message);
  if (progress.begun && !progress.rooted) return { kind: 'source-failed', message };
  const culprit = progress.started - 1;
  if (progress.rooted && culprit >= 0 && culprit < names.length && !progress.done.has(culprit)) {
    return { kind: 'node-failed', ...settledFrom(names, progress), culprit: names[culprit]!, message, rest: names.slice(culprit + 1) };
  }
  return { kind: 'unexplained', ...settledFrom(names, progress), message, rest: unfinished(names, progress) };
}

function settledFrom(names: readonly string[], progress: ChunkProgress): Settled {
  const results: Record<string, NodeEval> = {};
  const caught: string[] = [];
  for (const [i, evaluated] of progress.done) {
    const name = names[i];
    if (name === undefined) continue;
    if (evaluated.ok) results[name] = evaluated.eval;
    else caught.push(name);
  }
  return { results, caught };
}

function unfinished(names: readonly string[], progress: ChunkProgress): string[] {
  return names.filter((_n, i) => !progress.done.has(i));
}

function parseOutput(names: readonly string[], stdout: string): Settled | undefined {
  let raw: Record<string, RawResult>;
  try {
    raw = JSON.parse(stdout) as Record<string, RawResult>;
  } catch {
    return undefined;
  }
  const results: Record<string, NodeEval> = {};
  const caught: string[] = [];
  for (const name of names) {
    const evaluated = raw[name] ? toEvaluated(raw[name]) : { ok: false as const };
    if (evaluated.ok) results[name] = evaluated.eval;
    else caught.push(name);
  }
  return { results, caught };
}

/** Nix's own error lines (fleet's marks and the other nodes' traces left out), without a trace unless asked for. */
export function describeEvalFailure(stderr: string, fallback: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const start = lines.findIndex((l) => l.startsWith('error:'));
  const own = start >= 0 ? lines.slice(start) : lines.filter((l) => !l.startsWith(MARK));
  return own.join('\n').trim() || fallback;
}
