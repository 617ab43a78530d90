// A staged rollout: the plan's waves one after the other. A wave ends when all its nodes have settled; its
// failures against its budget decide whether the next one starts, or what is rolled back (onFailure).
import { setTimeout as sleep } from 'node:timers/promises';
import { FAILED_OUTCOMES, type Outcome } from '../events.js';
import type { NodePlan } from '../plan/types.js';
import { waveVerdict, type Wave } from '../rollout/waves.js';
import { countOf } from '../util/text.js';
import { completedOutcome, rollbackStarted, type NodeContext, type StageResult } from './stages.js';
import { stopReason, type RunContext } from './context.js';
import type { Ledger } from './ledger.js';
import type { DeployPolicy } from './policy.js';

/** What rolling the waves reads and writes of a deploy run. */
export interface WaveRun {
  readonly run: Pick<RunContext, 'signal' | 'stop' | 'emit'>;
  readonly policy: Pick<DeployPolicy, 'goal' | 'rollout' | 'waveGate'>;
  readonly ledger: Pick<Ledger, 'results' | 'finish' | 'revise'>;
}

export interface WaveHooks {
  contextOf(name: string): NodeContext | undefined;
  /** The node's remaining stages (activate, health), after its preparing ones. */
  deploy(np: NodePlan): Promise<StageResult>;
  /** Settles once every build of the run is done: no wave activates before. */
  everyBuild(): Promise<unknown>;
  /** The node's preparing stages (build, copy): how they ended; undefined for a node not in the plan. */
  prepared(name: string): Promise<StageResult> | undefined;
}

export async function rollWaves(d: WaveRun, waves: readonly Wave[], hooks: WaveHooks): Promise<void> {
  const { run, policy, ledger } = d;
  const activatedIn: string[][] = []; // per wave: the nodes this run activated (their rollback-all candidates)
  await hooks.everyBuild();

  for (const [index, wave] of waves.entries()) {
    const number = index + 1;
    const later = waves.slice(index + 1).flatMap((w) => w.nodes);
    const goOn = index === 0 || (await pause(d, number));
    if (run.signal.aborted) return notStarted(ledger, hooks, wave.nodes.concat(later), 'skipped', stopReason(run));
    if (!goOn) return notStarted(ledger, hooks, wave.nodes.concat(later), 'held', `not started: the rollout was not continued after wave ${index}`);
    run.emit({ type: 'wave-start', wave: number, nodes: wave.nodes });

    // Healthy nodes get their final word with the wave's verdict: a failed wave may still roll them back.
    const pending = new Map<string, Outcome>();
    const outcomes = await Promise.all(wave.nodes.map(async (name): Promise<Outcome> => {
      const known = ledger.results.get(name);
      const np = hooks.contextOf(name)?.plan;
      if (known || !np) return known?.outcome ?? 'failed'; // failed to evaluate or answer, or locked: counts here
      const r = await hooks.deploy(np);
      if (r.kind === 'done') {
        ledger.finish(name, r.outcome, r.error, r.log);
        return r.outcome;
      }
      pending.set(name, completedOutcome(policy.goal, np, !!hooks.contextOf(name)?.rebooted));
      return pending.get(name)!;
    }));
    const failures = outcomes.filter((o) => FAILED_OUTCOMES.includes(o)).length;
    const verdict = waveVerdict(failures, wave, run.signal.aborted);
    run.emit({ type: 'wave-done', wave: number, failures, verdict });
    const activated = [...pending].filter(([, o]) => o === 'activated').map(([name]) => name);

    if (verdict !== 'failed') {
      for (const [name, outcome] of pending) ledger.finish(name, outcome);
      activatedIn.push(activated);
      continue;
    }
    const why = `wave ${number} failed (${countOf(failures, 'failure')}, ${wave.maxFailures} allowed)`;
    const onFailure = policy.rollout.onFailure;
    // Nothing more starts: the held nodes' copies stop too.
    run.stop.abort();
    await notStarted(ledger, hooks, later, 'held', `not started: ${why}`);
    if (onFailure === 'stop') {
      for (const [name, outcome] of pending) ledger.finish(name, outcome);
      return;
    }
    const rollBack = (names: readonly string[], reason: string, settle: Ledger['finish']) => Promise.all(names.map(async (name) => {
      const r = await rollbackStarted(hooks.contextOf(name)!, reason);
      settle(name, r.outcome, r.error, r.log);
    }));
    await rollBack(activated, `rolled back with ${why}`, ledger.finish);
    for (const [name, outcome] of pending) ledger.finish(name, outcome); // unchanged nodes
    if (onFailure !== 'rollback-all') return;
    // Earlier waves, latest first: the fleet goes back to where it was before the run.
    for (const earlier of [...activatedIn].reverse()) await rollBack(earlier, `rolled back with the rest of the rollout: ${why}`, ledger.revise);
    return;
  }
}

/** Nodes whose wave never starts: `outcome`, unless their own build or copy already failed: that stays their word. */
async function notStarted(ledger: WaveRun['ledger'], hooks: WaveHooks, names: readonly string[], outcome: Outcome, error: string): Promise<void> {
  await Promise.all(names.map(async (name) => {
    const r = await hooks.prepared(name);
    if (r?.kind === 'done' && r.outcome === 'failed') ledger.finish(name, r.outcome, r.error, r.log);
    else ledger.finish(name, outcome, error);
  }));
}

/** Between waves: the configured pause, or the question (`pause: confirm`); false: do not go on. */
async function pause({ run, policy }: WaveRun, next: number): Promise<boolean> {
  const rule = policy.rollout.pause;
  if (rule.kind === 'delay') {
    await sleep(rule.ms, undefined, { signal: run.signal }).catch(() => undefined);
    if (run.signal.aborted) return false;
  }
  // A pause asked for (key p, also after a delay) and `pause: confirm` wait for the person at the terminal.
  const gate = policy.waveGate;
  const asked = gate?.takePause() ?? false;
  if (!gate || !(asked || rule.kind === 'confirm')) return true;
  run.emit({ type: 'paused', wave: next, reason: asked ? 'requested' : 'confirm' });
  const go = await gate.resumed(run.signal);
  if (go) run.emit({ type: 'resumed', wave: next });
  return go;
}
