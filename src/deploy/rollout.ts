// A staged rollout: the plan's waves one after the other. A wave ends when all its nodes have settled; its
// failures against its budget decide whether the next one starts, or what is rolled back (onFailure).
import { setTimeout as sleep } from 'node:timers/promises';
import { FAILED_OUTCOMES, type Outcome, type WaveVerdict } from '../events.js';
import type { NodePlan } from '../plan/types.js';
import type { Wave } from '../rollout/waves.js';
import { countOf } from '../util/text.js';
import { completedOutcome, rollbackStarted, type NodeContext, type StageResult } from './stages.js';
import { finishNode, reviseNode, stopReason, type RunState } from './state.js';

export interface WaveHooks {
  contextOf(name: string): NodeContext | undefined;
  /** The node's remaining stages (activate, health), after its preparing ones. */
  deploy(np: NodePlan): Promise<StageResult>;
  /** Settles once every build of the run is done: no wave activates before. */
  everyBuild(): Promise<unknown>;
  /** The node's preparing stages (build, copy): how they ended; undefined for a node not in the plan. */
  prepared(name: string): Promise<StageResult> | undefined;
}

export async function rollWaves(run: RunState, waves: readonly Wave[], hooks: WaveHooks): Promise<void> {
  const activatedIn: string[][] = []; // per wave: the nodes this run activated (their rollback-all candidates)
  await hooks.everyBuild();

  for (const [index, wave] of waves.entries()) {
    const number = index + 1;
    const later = waves.slice(index + 1).flatMap((w) => w.nodes);
    const goOn = index === 0 || (await pause(run, number));
    if (run.options.signal.aborted) return notStarted(run, hooks, wave.nodes.concat(later), 'skipped', stopReason(run));
    if (!goOn) return notStarted(run, hooks, wave.nodes.concat(later), 'held', `not started: the rollout was not continued after wave ${index}`);
    run.emit({ type: 'wave-start', wave: number, nodes: wave.nodes });

    // Healthy nodes get their final word with the wave's verdict: a failed wave may still roll them back.
    const pending = new Map<string, Outcome>();
    const outcomes = await Promise.all(wave.nodes.map(async (name): Promise<Outcome> => {
      const known = run.results.get(name);
      const np = hooks.contextOf(name)?.plan;
      if (known || !np) return known?.outcome ?? 'failed'; // failed to evaluate or answer, or locked: counts here
      const r = await hooks.deploy(np);
      if (r.kind === 'done') {
        finishNode(run, name, r.outcome, r.error, r.log);
        return r.outcome;
      }
      pending.set(name, completedOutcome(run, np));
      return pending.get(name)!;
    }));
    const failures = outcomes.filter((o) => FAILED_OUTCOMES.includes(o)).length;
    const verdict: WaveVerdict = failures > wave.maxFailures ? 'failed' : run.options.signal.aborted ? 'interrupted' : 'passed';
    run.emit({ type: 'wave-done', wave: number, failures, verdict });
    const activated = [...pending].filter(([, o]) => o === 'activated').map(([name]) => name);

    if (verdict !== 'failed') {
      for (const [name, outcome] of pending) finishNode(run, name, outcome);
      activatedIn.push(activated);
      continue;
    }
    const why = `wave ${number} failed (${countOf(failures, 'failure')}, ${wave.maxFailures} allowed)`;
    const onFailure = run.options.rollout?.onFailure ?? 'rollback-wave';
    // Nothing more starts: the held nodes' copies stop too.
    run.stop.abort();
    await notStarted(run, hooks, later, 'held', `not started: ${why}`);
    if (onFailure === 'stop') {
      for (const [name, outcome] of pending) finishNode(run, name, outcome);
      return;
    }
    const rollBack = (names: readonly string[], reason: string, settle: typeof finishNode) => Promise.all(names.map(async (name) => {
      const r = await rollbackStarted(hooks.contextOf(name)!, reason);
      settle(run, name, r.outcome, r.error, r.log);
    }));
    await rollBack(activated, `rolled back with ${why}`, finishNode);
    for (const [name, outcome] of pending) finishNode(run, name, outcome); // unchanged nodes
    if (onFailure !== 'rollback-all') return;
    // Earlier waves, latest first: the fleet goes back to where it was before the run.
    for (const earlier of [...activatedIn].reverse()) await rollBack(earlier, `rolled back with the rest of the rollout: ${why}`, reviseNode);
    return;
  }
}

/** Nodes whose wave never starts: `outcome`, unless their own build or copy already failed: that stays their word. */
async function notStarted(run: RunState, hooks: WaveHooks, names: readonly string[], outcome: Outcome, error: string): Promise<void> {
  await Promise.all(names.map(async (name) => {
    const r = await hooks.prepared(name);
    if (r?.kind === 'done' && r.outcome === 'failed') finishNode(run, name, r.outcome, r.error, r.log);
    else finishNode(run, name, outcome, error);
  }));
}

/** Between waves: the configured pause, or the question (`pause: confirm`); false: do not go on. */
async function pause(run: RunState, next: number): Promise<boolean> {
  const rule = run.options.rollout?.pause ?? { kind: 'none' };
  if (rule.kind === 'delay') {
    await sleep(rule.ms, undefined, { signal: run.options.signal }).catch(() => undefined);
    if (run.options.signal.aborted) return false;
  }
  // A pause asked for (key p, also after a delay) and `pause: confirm` wait for the person at the terminal.
  const gate = run.options.waveGate;
  const asked = gate?.takePause() ?? false;
  if (!gate || !(asked || rule.kind === 'confirm')) return true;
  run.emit({ type: 'paused', wave: next, reason: asked ? 'requested' : 'confirm' });
  const go = await gate.resumed(run.options.signal);
  if (go) run.emit({ type: 'resumed', wave: next });
  return go;
}
