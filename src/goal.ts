// The goal of a run and everything that follows from it, in one place (colmena's goals as data).

export type Goal = 'switch' | 'boot' | 'test' | 'dry-activate' | 'build' | 'push';

export const GOALS: readonly Goal[] = ['switch', 'boot', 'test', 'dry-activate', 'build', 'push'];

export interface GoalTraits {
  /** Asks the targets what they run (every goal but `build`, which never touches a target). */
  probes: boolean;
  /** The toplevel must end up in the target's store. */
  copies: boolean;
  /** switch-to-configuration runs on the target. */
  activates: boolean;
  /** The system profile gets a new generation (and a rollback must restore it). */
  setsProfile: boolean;
  /** /run/current-system changes (and a rollback must re-activate the old system). */
  changesRunning: boolean;
}

const TRAITS: Record<Goal, GoalTraits> = {
  switch: { probes: true, copies: true, activates: true, setsProfile: true, changesRunning: true },
  boot: { probes: true, copies: true, activates: true, setsProfile: true, changesRunning: false },
  test: { probes: true, copies: true, activates: true, setsProfile: false, changesRunning: true },
  'dry-activate': { probes: true, copies: true, activates: true, setsProfile: false, changesRunning: false },
  build: { probes: false, copies: false, activates: false, setsProfile: false, changesRunning: false },
  push: { probes: true, copies: true, activates: false, setsProfile: false, changesRunning: false },
};

export function goalTraits(goal: Goal): GoalTraits {
  return TRAITS[goal];
}

export function isGoal(value: string): value is Goal {
  return (GOALS as readonly string[]).includes(value);
}

/** What the goal's verification looks at: it succeeded when these point at the new system. */
export interface SystemPointers {
  profileTarget?: string; // the store path the profile resolves to
  currentSystem?: string; // readlink /run/current-system
}

/** Does the node already run `out` in the sense this goal cares about? dry-activate always reports. */
export function isUpToDate(goal: Goal, state: SystemPointers, out: string): boolean {
  const t = TRAITS[goal];
  if (!t.activates || goal === 'dry-activate') return false;
  return (!t.setsProfile || state.profileTarget === out) && (!t.changesRunning || state.currentSystem === out);
}

/** After an activation: did it take effect? (dry-activate changes nothing, so there is nothing to check.) */
export function isVerified(goal: Goal, state: SystemPointers, out: string): boolean {
  return goal === 'dry-activate' || isUpToDate(goal, state, out);
}
