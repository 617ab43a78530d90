// Batched evaluation: one nix-instantiate process for all selected nodes, never one per node.
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { NodeError } from '../errors.js';
import type { RunCommand } from '../transport/run.js';
import { flakeOptions } from './version.js';

export interface NodeEval {
  drvPath: string;
  outPath: string;
  system?: string;
  /** fleet rollback: the existing profile generation to go back to (the system is not evaluated then). */
  generation?: number;
}

export interface EvalOptions {
  run: RunCommand;
  showTrace?: boolean;
  signal?: AbortSignal;
}

export interface EvalOutcome {
  results: Record<string, NodeEval>;
  errors: NodeError[];
}

const EVAL_NIX = fileURLToPath(new URL('../../nix/eval.nix', import.meta.url));

/** The attribute path of a node's toplevel: `attr` if set, else the source's convention. */
export function attrPathOf(fleet: Pick<ResolvedFleet, 'nix'>, node: Pick<ResolvedNode, 'name' | 'attr'>): string[] {
  if (node.attr) return node.attr.split('.');
  return 'flake' in fleet.nix ? ['nixosConfigurations', node.name, 'config', 'system', 'build', 'toplevel'] : [node.name];
}

export function buildEvalArgv(fleet: Pick<ResolvedFleet, 'nix'>, nodes: readonly ResolvedNode[], showTrace = false): string[] {
  const spec = JSON.stringify(nodes.map((n) => ({ name: n.name, attr: attrPathOf(fleet, n) })));
  const source = 'flake' in fleet.nix ? ['--argstr', 'flake', fleet.nix.flake, ...flakeOptions()] : ['--argstr', 'file', fleet.nix.file];
  // --read-write-mode: evaluating drvPath must write the .drv files we then build or copy.
  return ['nix-instantiate', '--eval', '--strict', '--json', '--read-write-mode', EVAL_NIX, '--argstr', 'spec', spec, ...source, ...(showTrace ? ['--show-trace'] : [])];
}

function parseEvalOutput(stdout: string): Record<string, NodeEval> {
  const raw = JSON.parse(stdout) as Record<string, { drv: string; out: string; system: string | null }>;
  return Object.fromEntries(
    Object.entries(raw).map(([name, v]) => [name, { drvPath: v.drv, outPath: v.out, ...(v.system ? { system: v.system } : {}) }]),
  );
}

/** Evaluate every node in one process; if that fails, find out which nodes are at fault
 *  (one process each, only on this error path) so every error names its node with Nix's message. */
export async function evaluateNodes(fleet: Pick<ResolvedFleet, 'nix'>, nodes: readonly ResolvedNode[], options: EvalOptions): Promise<EvalOutcome> {
  if (nodes.length === 0) return { results: {}, errors: [] };
  const batch = await options.run(buildEvalArgv(fleet, nodes, options.showTrace), { signal: options.signal });
  if (!batch.failed) return { results: parseEvalOutput(batch.stdout), errors: [] };
  if (batch.exitCode === undefined && !batch.canceled) {
    // Nix did not run at all (not installed, not on PATH): the same error for every node, no retries.
    const message = `cannot run nix-instantiate: ${batch.message}`;
    return { results: {}, errors: nodes.map((n) => new NodeError(n.name, 'evaluate', message)) };
  }
  if (batch.canceled || nodes.length === 1) {
    return { results: {}, errors: nodes.map((n) => new NodeError(n.name, 'evaluate', describeEvalFailure(batch.stderr, batch.message), { log: batch.stderr })) };
  }
  const limit = pLimit(2);
  const outcomes = await Promise.all(nodes.map((n) => limit(() => evaluateNodes(fleet, [n], options))));
  return {
    results: Object.assign({}, ...outcomes.map((o) => o.results)) as Record<string, NodeEval>,
    errors: outcomes.flatMap((o) => o.errors),
  };
}

/** Nix's own error lines, without the noise of a trace unless asked for. */
function describeEvalFailure(stderr: string, fallback: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const start = lines.findIndex((l) => l.startsWith('error:'));
  return (start >= 0 ? lines.slice(start) : lines).join('\n').trim() || fallback;
}
