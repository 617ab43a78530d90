// Chunk planning (pure): how many evaluator processes may run and how many nodes the next one takes, from what
// the finished ones measured, so that all of them together stay within the memory budget.

/** Before anything is measured, a node is assumed to cost this much (colmena's per-node figure): it sizes the first
 *  chunks (a small fleet under a roomy budget is one chunk per worker, not one process per node). Every later
 *  decision comes from measurements. */
export const FIRST_GUESS = 512 * 2 ** 20;
/** Plans aim below the budget: room for the sampling interval and for nodes that cost more than the average. */
export const PLAN_SHARE = 0.9;
const MIN_PER_NODE = 2 ** 20;

/** A finished chunk: its node count and its peak memory (bytes). */
export interface Sample {
  nodes: number;
  peak: number;
}

/** peak(n) ≈ base + perNode × n. */
export interface CostModel {
  base: number;
  perNode: number;
}

/**
 * The line through the samples' trend, moved up until no sample lies above it (a chunk of a size already seen is
 * never predicted smaller than it was). With one chunk size only, the base is taken as 0: every byte counts per node,
 * which overestimates bigger chunks (safe) until a second size is measured.
 */
export function fitCost(samples: readonly Sample[]): CostModel | undefined {
  const usable = samples.filter((s) => s.nodes > 0);
  if (usable.length === 0) return undefined;
  const proportional = (): CostModel => ({ base: 0, perNode: Math.max(MIN_PER_NODE, ...usable.map((s) => s.peak / s.nodes)) });
  if (new Set(usable.map((s) => s.nodes)).size < 2) return proportional();
  const meanN = usable.reduce((a, s) => a + s.nodes, 0) / usable.length;
  const meanP = usable.reduce((a, s) => a + s.peak, 0) / usable.length;
  const cov = usable.reduce((a, s) => a + (s.nodes - meanN) * (s.peak - meanP), 0);
  const varN = usable.reduce((a, s) => a + (s.nodes - meanN) ** 2, 0);
  const slope = cov / varN;
  if (!(slope >= MIN_PER_NODE)) return proportional();
  const base = Math.max(0, ...usable.map((s) => s.peak - slope * s.nodes));
  return { base, perNode: slope };
}

export function predictPeak(model: CostModel | undefined, nodes: number): number {
  return model ? model.base + model.perNode * nodes : FIRST_GUESS * nodes;
}

export interface PlanState {
  budget: number; // bytes; Infinity: unbounded
  workers: number; // at most this many processes (--eval-workers)
  /** Lowered each time the sampled sum went over the budget with several processes running; never raised. */
  concurrencyCap: number;
  /** Lowered when one process alone went over the budget with several nodes; never raised. */
  sizeCap: number;
  model?: CostModel;
  /** Running chunks: their size and their memory now. */
  running: readonly { nodes: number; rss: number }[];
  /** Nodes waiting for a chunk. */
  remaining: number;
  /** The even split of the nodes left when the first chunk was measured, over the workers: fixed from then on, so the
   *  last chunks are not halved again and again (each chunk pays the evaluation of what all nodes share). */
  split?: number;
}

/** How many processes may run at once: the workers, fewer when the budget cannot hold that many one-node chunks. */
export function allowedWorkers(s: Pick<PlanState, 'budget' | 'workers' | 'concurrencyCap' | 'model'>): number {
  const one = predictPeak(s.model, 1);
  const fit = one > 0 ? Math.floor((s.budget * PLAN_SHARE) / one) : Infinity;
  return Math.max(1, Math.min(s.workers, s.concurrencyCap, fit));
}

/** Memory the running chunks hold or are expected to reach, whichever is more. */
function committed(s: PlanState): number {
  return s.running.reduce((sum, r) => sum + Math.max(r.rss, predictPeak(s.model, r.nodes)), 0);
}

/**
 * The size of the chunk to start now, or 0 to wait for a running one to end. Unmeasured: what the worker's share
 * holds at FIRST_GUESS per node (at least one).
 * Measured: as many nodes as this worker's share of the budget holds, no more than the even split fixed at the first
 * measurement (so the last chunks end together) and the size cap. A node is never left waiting for nothing:
 * with no chunk running, the next one starts with at least one node, even above the budget (alone).
 */
export function nextChunkSize(s: PlanState): number {
  if (s.remaining === 0) return 0;
  const workers = allowedWorkers(s);
  if (s.running.length >= workers) return 0;
  const free = s.budget * PLAN_SHARE - committed(s);
  const room = Math.min(free, (s.budget * PLAN_SHARE) / workers);
  let size = 0;
  // Unmeasured: as many nodes as the share holds at colmena's per-node figure (one, under a tight budget).
  if (!s.model) size = FIRST_GUESS <= free ? Math.max(1, Math.floor(room / FIRST_GUESS)) : 0;
  else if (s.model.perNode > 0) size = Math.floor((room - s.model.base) / s.model.perNode);
  else size = s.remaining;
  size = Math.min(size, s.sizeCap, s.split ?? Math.ceil(s.remaining / workers), s.remaining);
  if (size >= 1) return size;
  return s.running.length === 0 ? 1 : 0;
}

/** Whether a chunk of a given size (a retry that must run as it is) may start now. */
export function fitsNow(s: PlanState, nodes: number): boolean {
  if (s.running.length === 0) return true;
  if (s.running.length >= allowedWorkers(s)) return false;
  return predictPeak(s.model, nodes) <= s.budget * PLAN_SHARE - committed(s);
}
