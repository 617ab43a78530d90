// A node whose evaluated system its builder cannot build fails before anything runs, with both named.
import type { Builder, ResolvedNode } from '../config/types.js';
import { NodeError } from '../errors.js';
import type { NodeEval } from '../nix/eval.js';

export function checkBuildSystems(nodes: readonly ResolvedNode[], evals: Readonly<Record<string, NodeEval>>, builders: Readonly<Record<string, Builder>>): NodeError[] {
  const errors: NodeError[] = [];
  for (const node of nodes) {
    const system = evals[node.name]?.system;
    if (!system) continue;
    if (node.buildHost.kind === 'builders') {
      // Nix would fail later and less clearly: some builder must list the system (one listing none may build anything).
      const all = Object.values(builders);
      if (all.some((b) => b.systems.length === 0 || b.systems.includes(system))) continue;
      errors.push(new NodeError(node.name, 'evaluate', `evaluates to system ${system}, which none of the builders can build (${all.map((b) => `${b.name}: ${b.systems.join(', ')}`).join('; ')})`));
      continue;
    }
    if (node.buildHost.kind !== 'builder') continue;
    const builder = builders[node.buildHost.name];
    if (!builder || builder.systems.length === 0 || builder.systems.includes(system)) continue;
    errors.push(new NodeError(node.name, 'evaluate', `evaluates to system ${system}, which builder ${builder.name} cannot build (its systems: ${builder.systems.join(', ')})`));
  }
  return errors;
}
