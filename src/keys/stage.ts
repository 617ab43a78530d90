// The keys steps of an apply, as stages of its per-node pipeline (src/deploy/stages.ts lists them): pre-activation
// keys go up right before the activation, post-activation keys right after it, in the node's wave, over its
// connection. Each compares by salted hash first (one round trip) and uploads only what differs (one more).
// Typed by what they use of a run, so this folder stays below src/deploy.
import type { KeyUploadAt, ResolvedKey, ResolvedNode } from '../config/types.js';
import type { Phase } from '../errors.js';
import type { EmitEvent, Outcome } from '../events.js';
import type { Goal } from '../goal.js';
import type { HostPool } from '../transport/pool.js';
import { compareKeys, describeChange } from './protocol.js';
import { readKeys, refusals, writeKeys } from './remote.js';
import type { LoadedKeys } from './sources.js';

/** What the keys stages need of a run (deploy's RunContext has all of it). */
export interface KeysRun {
  readonly emit: EmitEvent;
  readonly keys?: LoadedKeys;
  readonly pool: Pick<HostPool, 'targetOf'>;
  readonly locks: { confirm(node: ResolvedNode): Promise<string | undefined> };
}

export interface KeysStageContext {
  run: KeysRun;
  /** Of deploy's policy: the goal decides whether keys go up at all. */
  policy: { readonly goal: Goal };
  node: ResolvedNode;
  plan: { activate: boolean };
  phase(phase: Phase, detail: string): void;
  /** Set once this run activated the node: a failure after it rolls the node back. */
  activation?: unknown;
}

export type KeysStageResult = { kind: 'next' } | { kind: 'done'; outcome: Outcome; error?: string; log?: string[] };

/** Goals that change what a node runs or boots get its keys; dry-activate, build and push leave them alone. */
export function uploadsKeys(goal: Goal): boolean {
  return goal === 'switch' || goal === 'boot' || goal === 'test';
}

const names = (keys: readonly { key: ResolvedKey }[]) => keys.map((k) => k.key.name);

/** `pre-activation`: every node of a fleet with keys (a node whose keys all left the fleet file loses them here);
 *  `post-activation`: nodes with such keys; a failure then rolls an activated node back with `rollback`. */
export function keysStage<C extends KeysStageContext>(uploadAt: KeyUploadAt, rollback?: (ctx: C, why: string) => Promise<{ outcome: Outcome; error?: string; log?: string[] }>) {
  const pre = uploadAt === 'pre-activation';
  return {
    name: 'keys' as const,
    prepares: false,
    pool: 'activate' as const,
    // After an activation the node must get its keys even once the run is stopped (Ctrl+C): it runs the new system.
    startsWork: pre,
    applies(ctx: C): boolean {
      const loaded = ctx.run.keys?.get(ctx.node.name);
      return !!loaded && uploadsKeys(ctx.policy.goal) && (pre || loaded.some((l) => l.key.uploadAt === uploadAt));
    },
    async run(ctx: C): Promise<KeysStageResult> {
      const { run, node } = ctx;
      const all = run.keys?.get(node.name) ?? [];
      const mine = all.filter((l) => l.key.uploadAt === uploadAt);
      const fail = async (error: string): Promise<KeysStageResult> => {
        if (pre || !rollback || ctx.activation === undefined) return { kind: 'done', outcome: 'failed', error };
        const r = await rollback(ctx, error);
        return { kind: 'done', outcome: r.outcome, ...(r.error !== undefined ? { error: r.error } : {}), ...(r.log?.length ? { log: r.log } : {}) };
      };
      if (pre) {
        // --break-lock (or an expiry) may have handed the node to another run: then its keys are not ours to change.
        const lost = await run.locks.confirm(node);
        if (lost) return { kind: 'done', outcome: 'locked', error: lost };
      }
      const target = run.pool.targetOf(node);
      ctx.phase('keys', `comparing ${mine.length === 1 ? '1 key' : `${mine.length} keys`} (${uploadAt})`);
      try {
        const reply = await readKeys(target, all.map((l) => l.key));
        const refused = refusals(mine.map((l) => l.key), reply, node.name);
        const { changed, unchanged, removed: stale } = compareKeys(mine, reply);
        const removed = pre ? stale : [];
        run.emit({ type: 'keys', node: node.name, changed: names(changed), unchanged: unchanged.length, removed, uploadAt });
        if (refused.length > 0) return await fail(`keys: no key was changed: ${refused.join('; ')}`);
        if (changed.length === 0 && removed.length === 0) return { kind: 'next' };
        ctx.phase('keys', `${describeChange({ changed: changed.length, unchanged: unchanged.length, removed: removed.length })}: uploading ${names(changed).join(', ') || 'none'}`);
        // Every other key the node wants stays: current ones are kept, the other upload's changed ones held for it.
        const others = compareKeys(all.filter((l) => l.key.uploadAt !== uploadAt), reply);
        await writeKeys(target, changed, [...unchanged, ...others.unchanged].map((l) => l.key), others.changed.map((l) => l.key));
        return { kind: 'next' };
      } catch (error) {
        return fail(`keys: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
  };
}
