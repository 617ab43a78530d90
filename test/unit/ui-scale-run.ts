// A large fleet's run as the engine emits it, for the scaled views' tests: every node evaluated at once, one
// build, then `parallel` nodes at a time copy, activate and verify (one second a step), some of them rolled back.
import type { EventBody, FleetEvent } from '../../src/events.js';
import type { NodePlan } from '../../src/plan/types.js';
import { record, storePath } from './ui-fixture.js';

export interface ScaledRunOptions {
  nodes: number;
  parallel?: number; // default 10
  /** These nodes (indexes) are rolled back. */
  failing?: readonly number[];
  /** Wave sizes (the last wave takes the rest); none: no staged rollout. */
  waves?: readonly number[];
}

export const nodeName = (i: number) => `node-${String(i + 1).padStart(4, '0')}`;

export function scaledRun(opts: ScaledRunOptions): FleetEvent[] {
  const names = Array.from({ length: opts.nodes }, (_v, i) => nodeName(i));
  const failing = new Set((opts.failing ?? []).map(nodeName));
  const parallel = opts.parallel ?? 10;
  const drv = storePath('d7v0000', 'nixos-system.drv');
  const to = storePath('9e70000', 'nixos-system');
  const plans: NodePlan[] = names.map((name) => ({
    name, drvPath: drv, outPath: to, to: { system: to }, buildJob: 'local',
    from: { generation: 3, profileTarget: storePath('0ld0000', 'nixos-system'), currentSystem: storePath('0ld0000', 'nixos-system') },
    copy: { kind: 'from-local' }, activate: true, reason: 'switch needed',
  }));
  const waves: string[][] = [];
  if (opts.waves) {
    let at = 0;
    for (const size of opts.waves) waves.push(names.slice(at, (at += size)));
    if (at < names.length) waves.push(names.slice(at));
  }
  const steps: [number, EventBody][] = [[0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: names, fleetVersion: '0.1.0' }]];
  for (const node of names) steps.push([1, { type: 'node-phase', node, phase: 'evaluate', detail: 'hive.nix' }]);
  steps.push([2, { type: 'plan', plan: { goal: 'switch', builds: [{ id: 'local', location: { kind: 'local' }, drvPaths: [drv], nodes: names }], nodes: plans, ...(waves.length > 0 ? { waves: waves.map((nodes) => ({ nodes, maxFailures: 1 })) } : {}) } }]);
  steps.push([2, { type: 'build-start', build: 'local', drvPaths: [drv], nodes: names }]);
  let second = 3;
  steps.push([second, { type: 'build-done', build: 'local', ok: true }]);
  const outcomes: Record<string, { outcome: 'activated' | 'rolled-back'; error?: string }> = {};
  for (const [w, wave] of (waves.length > 0 ? waves : [names]).entries()) {
    if (waves.length > 0) steps.push([second, { type: 'wave-start', wave: w + 1, nodes: wave }]);
    for (let i = 0; i < wave.length; i += parallel) {
      const batch = wave.slice(i, i + parallel);
      for (const phase of ['copy', 'activate', 'verify'] as const) {
        second += 1;
        for (const node of batch) steps.push([second, { type: 'node-phase', node, phase, detail: phase === 'copy' ? 'from local' : '' }]);
      }
      second += 1;
      for (const node of batch) {
        const failed = failing.has(node);
        const result = failed ? { outcome: 'rolled-back' as const, error: 'switch-to-configuration exited with 4' } : { outcome: 'activated' as const };
        outcomes[node] = result;
        steps.push([second, { type: 'node-done', node, ...result }]);
      }
    }
    if (waves.length > 0) {
      const failures = wave.filter((n) => failing.has(n)).length;
      steps.push([second, { type: 'wave-done', wave: w + 1, failures, verdict: failures > 1 ? 'failed' : 'passed' }]);
    }
  }
  const exitCode = failing.size > 0 ? 1 : 0;
  steps.push([second + 1, { type: 'summary', command: 'apply', goal: 'switch', exitCode, durationMs: (second + 1) * 1000, interrupted: false, nodes: outcomes }]);
  return record(steps);
}
