// The evaluation in words, for the line and listr renderers and the report.
import { formatBytes } from '../diff/format.js';
import type { BodyOf } from '../events.js';
import { countOf } from '../util/text.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** `chunk 3 on worker 2: 10 nodes in 1.2 s, peak 620.0 MiB; failed: web-3`. */
export function describeEvalChunk(e: Omit<BodyOf<'eval-chunk'>, 'type'>): string {
  const peak = e.peakRss > 0 ? `, peak ${formatBytes(e.peakRss)}` : '';
  const head = `chunk ${e.chunk} on worker ${e.worker}: ${countOf(e.nodes.length, 'node')} in ${seconds(e.wallMs)}${peak}`;
  const ended = e.ended === 'over-budget' ? '; ended: over the memory budget' : e.ended === 'interrupted' ? '; interrupted' : '';
  const failed = e.failed.length > 0 ? `; failed: ${e.failed.join(', ')}` : '';
  const again = e.retried.length > 0 ? `; again: ${e.retried.join(', ')}` : '';
  return `${head}${ended}${failed}${again}`;
}

/** `evaluated 96 nodes in 9 chunks on 2 workers, peak 1.4 GiB of 1.5 GiB, 8.1 s` (and how many failed). */
export function describeEvalDone(e: Omit<BodyOf<'eval-done'>, 'type'>): string {
  const failed = e.failed > 0 ? ` (${e.failed} failed)` : '';
  const peak = e.peakRss > 0 ? `, peak ${formatBytes(e.peakRss)}${e.budget === undefined ? '' : ` of ${formatBytes(e.budget)}`}` : '';
  return `evaluated ${countOf(e.nodes, 'node')}${failed} in ${countOf(e.chunks, 'chunk')} on ${countOf(e.workers, 'worker')}${peak}, ${seconds(e.wallMs)}`;
}

/** A node that alone needed more than the budget. */
export function describeAlone(node: string, budget: number | undefined): string {
  return `${node} alone needs more than the evaluation budget${budget === undefined ? '' : ` of ${formatBytes(budget)}`}: evaluated with nothing else running`;
}
