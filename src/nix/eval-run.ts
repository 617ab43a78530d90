// The evaluator: nodes in chunks, each chunk one nix-instantiate process, several at once within a memory budget.
// Chunk sizes come from the peaks the finished chunks measured (eval-plan.ts); the memory of every running process
// is sampled, and a process that takes the sum over the budget is ended and its unfinished nodes run again.
// A node that fails costs about one node: tryEval per node, and for what tryEval cannot catch, the progress marks
// name the node (eval-chunk.ts); without marks, the failed chunk is bisected.
import { availableParallelism } from 'node:os';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { NodeError } from '../errors.js';
import type { EmitEvent, EvalChunkEnd } from '../events.js';
import { buildEvalArgv, createProgress, DONE_MARK, judgeChunk, type ChunkProgress, type ChunkVerdict } from './eval-chunk.js';
import { fitsNow, fitCost, nextChunkSize, type PlanState, type Sample } from './eval-plan.js';
import { startProcess, type EvalProcess, type StartProcess } from './eval-process.js';
import type { EvalOutcome, NodeEval } from './eval-types.js';
import { readMemAvailable, readProcessMemory, resolveBudget, type ProcessMemory } from './memory.js';

export const SAMPLE_MS = 100;
export const INTERRUPTED = 'evaluation interrupted';
/** An upper bound on how fast an evaluator can take memory (4 GB/s: faster than a core can fault pages in). */
export const MAX_ALLOC_PER_MS = 4 * 2 ** 20;


/** One chunk as it ended (the eval-chunk event). */
export interface ChunkReport {
  chunk: number; // 1, 2, 3... in the order they started
  worker: number; // 1..workers: the slot it ran in
  nodes: string[];
  failed: string[]; // nodes whose evaluation failed (their errors come with the outcome)
  retried: string[]; // nodes handed to another chunk (unfinished when it ended, or to get Nix's message)
  wallMs: number;
  peakRss: number; // bytes, the process tree's peak as sampled (0: not measured)
  ended: EvalChunkEnd;
}

/** The whole evaluation (the eval-done event). */
export interface EvalSummary {
  nodes: number; // evaluated
  failed: number;
  chunks: number;
  workers: number; // the most processes that ran at once
  peakRss: number; // bytes, the most all evaluator processes held at once, as sampled
  wallMs: number;
  budget?: number; // bytes; absent: unbounded (the available memory could not be read)
  /** Nodes that alone needed more than the budget: evaluated with nothing else running. */
  alone: string[];
}

export interface EvaluatorOptions {
  showTrace?: boolean;
  signal?: AbortSignal;
  /** The environment of the nix-instantiate processes (over fleet's own). */
  env?: Record<string, string>;
  emit?: EmitEvent;
  /** Each chunk's results and errors as soon as it ends (streaming into the deploy pipeline). */
  onResult?: (part: EvalOutcome) => void;
  /** Tests: how processes start, what they use, how often it is read, and the available memory. */
  start?: StartProcess;
  readMemory?: (pid: number) => ProcessMemory | undefined;
  sampleMs?: number;
  memAvailable?: number;
}

export interface EvaluationRun extends EvalOutcome {
  summary: EvalSummary;
  warnings: string[];
}

interface Running {
  id: number;
  worker: number;
  names: string[];
  catchErrors: boolean;
  proc: EvalProcess;
  progress: ChunkProgress;
  startedAt: number;
  rss: number;
  peak: number;
  stop?: 'over-budget' | 'interrupted';
}

interface Retry {
  names: string[];
  catchErrors: boolean;
}

export function workerCount(setting: number | 'auto' | undefined): number {
  return setting === undefined || setting === 'auto' ? availableParallelism() : setting;
}

export async function runEvaluation(fleet: Pick<ResolvedFleet, 'nix'>, nodes: readonly ResolvedNode[], options: EvaluatorOptions = {}): Promise<EvaluationRun> {
  const began = performance.now();
  const start = options.start ?? startProcess;
  const readMemory = options.readMemory ?? readProcessMemory;
  const signal = options.signal;
  const budget = resolveBudget(fleet.nix.evalMemory, 'memAvailable' in options ? options.memAvailable : readMemAvailable());
  const workers = workerCount(fleet.nix.evalWorkers);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const pending = [...byName.keys()];
  const retries: Retry[] = [];
  const running = new Set<Running>();
  const samples: Sample[] = [];
  const results: Record<string, NodeEval> = {};
  const errors: NodeError[] = [];
  const alone: string[] = [];
  let concurrencyCap = workers;
  let sizeCap = Infinity;
  let chunks = 0;
  let mostAtOnce = 0;
  let peakTotal = 0;
  let fatal: string | undefined;
  let changed = () => {};

  let split: number | undefined;
  const planState = (): PlanState => {
    // Nothing to measure with (no /proc): no memory planning, the nodes split evenly over the workers.
    const model = Number.isFinite(budget) ? fitCost(samples) : { base: 0, perNode: 0 };
    if (model && split === undefined) split = Math.max(1, Math.ceil(pending.length / workers));
    return {
      budget, workers, concurrencyCap, sizeCap, ...(model ? { model } : {}), ...(split !== undefined ? { split } : {}),
      running: [...running].map((r) => ({ nodes: r.names.length, rss: r.rss })), remaining: pending.length,
    };
  };

  const fail = (name: string, message: string, log = message) => errors.push(new NodeError(name, 'evaluate', message, { log }));

  const launch = (names: string[], catchErrors: boolean) => {
    const used = new Set([...running].map((r) => r.worker));
    let worker = 1;
    while (used.has(worker)) worker++;
    const { progress, onLine } = createProgress();
    const argv = buildEvalArgv(fleet, names.map((n) => byName.get(n)!), options.showTrace, catchErrors);
    const self: { chunk?: Running } = {};
    const proc = start(argv, {
      ...(options.env ? { env: options.env } : {}),
      onStderrLine: (line) => {
        onLine(line);
        // A node done: measured now too, so a chunk shorter than the sampling interval still has its peak.
        if (self.chunk && line.startsWith(DONE_MARK)) measure(self.chunk);
      },
    });
    const chunk: Running = { id: ++chunks, worker, names, catchErrors, proc, progress, startedAt: performance.now(), rss: 0, peak: 0 };
    self.chunk = chunk;
    running.add(chunk);
    mostAtOnce = Math.max(mostAtOnce, running.size);
    void proc.exit.then((exit) => {
      running.delete(chunk);
      settle(chunk, judgeChunk(names, { ...exit, stopped: chunk.stop !== undefined }, progress));
      changed();
    });
  };

  const startWhatFits = () => {
    for (;;) {
      const state = planState();
      const retry = retries[0];
      if (retry) {
        if (!fitsNow(state, retry.names.length)) return;
        retries.shift();
        launch(retry.names, retry.catchErrors);
        continue;
      }
      const size = nextChunkSize(state);
      if (size === 0) return;
      launch(pending.splice(0, size), true);
    }
  };

  const settle = (chunk: Running, verdict: ChunkVerdict) => {
    const before = errors.length;
    const got: Record<string, NodeEval> = {};
    const retried: string[] = [];
    const accept = (settled: { results: Record<string, NodeEval>; caught: string[] }) => {
      Object.assign(got, settled.results);
      for (const name of settled.caught) {
        // tryEval says only that it failed: Nix's message comes from the node alone, without tryEval.
        if (chunk.catchErrors) {
          retries.push({ names: [name], catchErrors: false });
          retried.push(name);
        } else fail(name, 'evaluation failed (Nix gave no message)');
      }
    };
    const requeue = (names: string[]) => {
      if (names.length === 0) return;
      retried.push(...names);
      if (chunk.catchErrors) pending.unshift(...names);
      else retries.unshift({ names, catchErrors: false });
    };
    switch (verdict.kind) {
      case 'done':
        accept(verdict);
        break;
      case 'node-failed':
        accept(verdict);
        fail(verdict.culprit, verdict.message);
        requeue(verdict.rest);
        break;
      case 'unexplained':
        accept(verdict);
        if (verdict.rest.length === 1) fail(verdict.rest[0]!, verdict.message);
        else if (verdict.rest.length > 1) {
          // No marks to say which node failed: each half again, until the failing nodes are alone.
          const half = Math.ceil(verdict.rest.length / 2);
          retries.unshift({ names: verdict.rest.slice(0, half), catchErrors: chunk.catchErrors }, { names: verdict.rest.slice(half), catchErrors: chunk.catchErrors });
          retried.push(...verdict.rest);
        }
        break;
      case 'source-failed':
      case 'cannot-run':
        // The file, the flake or Nix itself: every node would fail alike, so none is tried again.
        fatal ??= verdict.message;
        for (const name of chunk.names) fail(name, verdict.message);
        break;
      case 'stopped':
        accept(verdict);
        if (chunk.stop === 'over-budget') requeue(verdict.rest);
        else for (const name of verdict.rest) fail(name, INTERRUPTED);
        break;
    }
    Object.assign(results, got);
    const failed = errors.slice(before).map((e) => e.node);
    const wallMs = Math.round(performance.now() - chunk.startedAt);
    learn(chunk, verdict, wallMs);
    const ended: EvalChunkEnd = chunk.stop ?? (verdict.kind === 'done' ? 'done' : 'failed');
    const report: ChunkReport = { chunk: chunk.id, worker: chunk.worker, nodes: chunk.names, failed, retried, wallMs, peakRss: chunk.peak, ended };
    options.emit?.({ type: 'eval-chunk', ...report });
    if (Object.keys(got).length > 0 || failed.length > 0) options.onResult?.({ results: got, errors: errors.slice(before) });
  };

  /** What the chunk's peak says about the cost of nodes; a node alone over the budget is named. */
  const learn = (chunk: Running, verdict: ChunkVerdict, wallMs: number) => {
    if (chunk.stop === 'interrupted' || !Number.isFinite(budget)) return;
    // Ended before it could be read (a busy deployer reads late): it held at most what Nix can allocate in that time.
    const peak = chunk.peak > 0 ? chunk.peak : wallMs * MAX_ALLOC_PER_MS;
    if (chunk.names.length === 1 && peak > budget && chunk.peak > 0 && !alone.includes(chunk.names[0]!)) alone.push(chunk.names[0]!);
    if (verdict.kind === 'done' && verdict.caught.length === 0) samples.push({ nodes: chunk.names.length, peak });
    // Ended over the budget, or by a node's error: a measurement of the nodes it had started.
    else if (verdict.kind === 'stopped' || verdict.kind === 'node-failed') {
      const nodes = verdict.kind === 'stopped' ? chunk.progress.started : chunk.progress.done.size;
      if (nodes > 0) samples.push({ nodes, peak });
    }
  };

  const measure = (chunk: Running) => {
    const memory = chunk.proc.pid === undefined ? undefined : readMemory(chunk.proc.pid);
    if (!memory) return;
    chunk.rss = memory.rss;
    chunk.peak = Math.max(chunk.peak, memory.hwm, memory.rss);
  };

  const sample = () => {
    let total = 0;
    for (const chunk of running) {
      measure(chunk);
      total += chunk.rss;
    }
    peakTotal = Math.max(peakTotal, total);
    if (total <= budget || [...running].some((c) => c.stop)) return;
    const youngest = [...running].sort((a, b) => b.id - a.id)[0];
    if (!youngest) return;
    if (running.size > 1) concurrencyCap = Math.min(concurrencyCap, running.size - 1);
    else if (youngest.names.length > 1) sizeCap = Math.max(1, Math.min(sizeCap, youngest.progress.done.size));
    else return; // one node alone over the budget: it runs on, and nothing starts beside it
    youngest.stop = 'over-budget';
    youngest.proc.kill('SIGKILL');
  };

  const onAbort = () => {
    for (const chunk of running) {
      chunk.stop ??= 'interrupted';
      chunk.proc.kill('SIGTERM');
    }
    changed();
  };
  signal?.addEventListener('abort', onAbort);
  const timer = setInterval(sample, options.sampleMs ?? SAMPLE_MS);
  try {
    for (;;) {
      const next = new Promise<void>((resolve) => (changed = resolve));
      if (!signal?.aborted && fatal === undefined) startWhatFits();
      if (running.size === 0) break;
      await next;
    }
  } finally {
    clearInterval(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  const left = [...pending, ...retries.flatMap((r) => r.names)];
  for (const name of left) fail(name, fatal ?? INTERRUPTED);
  const order = new Map(nodes.map((n, i) => [n.name, i]));
  errors.sort((a, b) => order.get(a.node)! - order.get(b.node)!);
  if (left.length > 0) options.onResult?.({ results: {}, errors: errors.filter((e) => left.includes(e.node)) });
  const summary: EvalSummary = {
    nodes: Object.keys(results).length,
    failed: errors.length,
    chunks,
    workers: mostAtOnce,
    peakRss: peakTotal,
    wallMs: Math.round(performance.now() - began),
    ...(Number.isFinite(budget) ? { budget } : {}),
    alone,
  };
  if (nodes.length > 0) options.emit?.({ type: 'eval-done', ...summary });
  const warnings = alone.map((name) => aloneWarning(name, budget));
  return { results, errors, summary, warnings };
}

export function aloneWarning(node: string, budget: number): string {
  return `${node} alone needs more than the evaluation budget (${Math.round(budget / 2 ** 20)} MiB): it was evaluated with nothing else running; raise --eval-memory or nix.evalMemory`;
}
