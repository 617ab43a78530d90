// A large fleet in listr2 (scale.ts): instead of a task per node, one task with the counts per phase and the nodes
// in flight, one for the waves, and a failed task per failure (the first FAILURES_SHOWN; the rest counted), so the
// screen stays one screen at any size. Each node's own line is in --json and the final report.
import type { FleetEvent } from '../events.js';
import { firstLine } from './labels.js';
import { countOf } from '../util/text.js';
import type { Task, Wrapper } from './listr-tasks.js';
import { createPending } from './listr-tasks.js';
import type { TaskStream } from './listr-stream.js';
import { currentWaveOf, describeInFlight, describeOutcomes, describeProgress, describeWaveProgress, describeWaves, NAMED_FAILURES } from './scale.js';
import { forTerminal } from '../util/terminal-text.js';
import { nodeOf, type RunView } from './view.js';

/** Failures shown as tasks of their own; later ones are counted (all of them are in the report). */
export const FAILURES_SHOWN = 8;
/** Titles are recomputed at most this often: listing the nodes in flight reads every node. */
const REFRESH_MS = 100;

export interface ScaledTasks {
  /** The progress task, first on the screen. */
  task: Task;
  onEvent(e: FleetEvent): void;
  /** The run is over: final titles; the tasks end. */
  finish(): void;
}

export function createScaledTasks(stream: TaskStream, viewOf: () => RunView): ScaledTasks {
  const over = createPending<true>();
  let progress: Wrapper | undefined;
  let waves: Wrapper | undefined;
  let wavesAdded = false;
  let shownFailures = 0;
  let timer: NodeJS.Timeout | undefined;

  const unlisted = () => {
    const failures = [...NAMED_FAILURES].reduce((sum, o) => sum + viewOf().counts[o], 0);
    return failures - shownFailures;
  };
  const refresh = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const view = viewOf();
    if (progress) {
      const more = unlisted();
      progress.title = `${describeProgress(view)}${more > 0 ? ` · ${countOf(more, 'more failure')} in the report` : ''}`;
      progress.output = describeInFlight(view) || 'in flight: none';
    }
    const wave = currentWaveOf(view);
    if (waves && wave) {
      waves.title = describeWaveProgress(wave, view.waves.length);
      waves.output = describeWaves(view);
    }
  };
  const later = () => {
    if (timer) return;
    timer = setTimeout(refresh, REFRESH_MS);
    timer.unref();
  };

  const failureTask = (name: string): Task => ({
    title: name,
    task: () => {
      const node = nodeOf(viewOf(), name);
      const error = node?.error ? forTerminal(firstLine(node.error)) : '';
      throw new Error(`${forTerminal(name)}: ${node?.outcome ?? 'failed'}${error ? `: ${error}` : ''}`);
    },
  });
  const wavesTask: Task = {
    title: 'waves',
    task: async (_ctx, wrapper: Wrapper) => {
      waves = wrapper;
      refresh();
      await over.promise;
      refresh();
      const view = viewOf();
      const bad = view.waves.filter((w) => w.verdict === 'failed' || w.verdict === 'interrupted');
      wrapper.title = `${countOf(view.waves.length, 'wave')}: ${describeWaves(view).slice('waves: '.length)}`;
      if (bad.length > 0) throw new Error(bad.map((w) => describeWaveProgress(w, view.waves.length)).join('; '));
    },
  };

  return {
    task: {
      title: 'nodes',
      task: async (_ctx, wrapper: Wrapper) => {
        progress = wrapper;
        refresh();
        await over.promise;
        const view = viewOf();
        const pending = view.counts.pending;
        const more = unlisted();
        wrapper.title = `${countOf(view.nodes.length, 'node')}: ${describeOutcomes(view.counts) || 'none ended'}${more > 0 ? ` (${countOf(more, 'more failure')} in the report)` : ''}`;
        if (pending > 0) throw new Error(`${countOf(pending, 'node')} ended without an outcome`);
      },
    },
    onEvent(e) {
      if (e.type === 'plan' && (e.plan.waves?.length ?? 0) > 0 && !wavesAdded) {
        wavesAdded = true;
        stream.add(wavesTask);
      }
      if (e.type === 'node-done' && NAMED_FAILURES.has(e.outcome) && shownFailures < FAILURES_SHOWN) {
        shownFailures += 1;
        stream.add(failureTask(e.node));
      }
      later();
    },
    finish() {
      refresh();
      over.settle(true);
    },
  };
}
