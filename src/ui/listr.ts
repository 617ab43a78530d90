// Interactive renderer: one listr2 task per node and per build, driven by the run view; listr2 loads lazily.
// A large fleet gets the scaled tasks instead of one per node (listr-scale.ts).
import type { FleetEvent } from '../events.js';
import { createScaledTasks, type ScaledTasks } from './listr-scale.js';
import { createBuildTask, createNodeTask, createPending, createWaveTask, showHealth, showPhase, type NodeTask, type Pending, type Task } from './listr-tasks.js';
import { createTaskStream } from './listr-stream.js';
import type { Renderer } from './renderer.js';
import { formatReport } from './report.js';
import { createEvalTask, type EvalTask } from './listr-eval.js';
import { isScaled } from './scale.js';
import { buildOf, initialView, nodeOf, reduceRun, type BuildView, type EvalView, type WaveView } from './view.js';
import { guardOutput, isOutputBroken, writeText } from './write.js';

export interface ListrRendererOptions {
  /** listr2 renderer: `default` on a TTY; `test` (serialised events) or `simple` in tests. */
  renderer?: 'default' | 'simple' | 'verbose' | 'test';
  /** Where listr2 sends what it writes to stderr (error messages of the test renderer); default process.stderr. */
  err?: NodeJS.WritableStream;
  /** Passed through to listr2's renderer, after ours. */
  rendererOptions?: Record<string, unknown>;
}

export function createListrRenderer(out: NodeJS.WritableStream, opts: ListrRendererOptions = {}): Renderer {
  guardOutput(out); // listr2 writes to `out` itself: a closed pipe must not crash it either
  if (opts.err) guardOutput(opts.err);
  let view = initialView();
  const nodes = new Map<string, NodeTask>();
  const builds = new Map<string, Pending<BuildView>>(); // by build id
  const waves = new Map<number, Pending<WaveView>>(); // by wave number
  let evaluation: { task: EvalTask; done: Pending<EvalView> } | undefined;
  const stream = createTaskStream();
  let running: Promise<unknown> | undefined;
  let scaled: ScaledTasks | undefined;

  const onEvent = (e: FleetEvent) => {
    // Builds and the evaluation keep their own tasks at any scale.
    if (scaled && e.type !== 'build-start' && e.type !== 'build-done' && e.type !== 'eval-chunk' && e.type !== 'eval-done') return scaled.onEvent(e);
    switch (e.type) {
      case 'run-start':
        if (running) return;
        if (isScaled(e.nodes.length)) {
          scaled = createScaledTasks(stream, () => view);
          running = runListr(out, opts, [scaled.task, stream.task]);
          return;
        }
        for (const name of e.nodes) nodes.set(name, { name, title: name, done: createPending() });
        running = runListr(out, opts, [stream.task, ...[...nodes.values()].map(createNodeTask)]);
        return;
      case 'build-start': {
        const build = buildOf(view, e.build);
        if (!build || builds.has(e.build)) return;
        const done = createPending<BuildView>();
        builds.set(e.build, done);
        stream.add(createBuildTask(build, done));
        return;
      }
      case 'build-done':
        return builds.get(e.build)?.settle(buildOf(view, e.build));
      case 'node-phase': {
        const task = nodes.get(e.node);
        const node = nodeOf(view, e.node);
        if (task && node) showPhase(task, node);
        return;
      }
      case 'node-done':
        return nodes.get(e.node)?.done.settle(nodeOf(view, e.node));
      case 'health': {
        const task = nodes.get(e.node);
        const node = nodeOf(view, e.node);
        if (task && node) showHealth(task, node);
        return;
      }
      case 'wave-start': {
        const wave = view.waves[e.wave - 1];
        if (!wave || waves.has(e.wave)) return;
        const done = createPending<WaveView>();
        waves.set(e.wave, done);
        stream.add(createWaveTask(wave, view.waves.length, done));
        return;
      }
      case 'wave-done':
        return waves.get(e.wave)?.settle(view.waves[e.wave - 1]);
      case 'eval-chunk':
      case 'eval-done':
        if (!evaluation) {
          const done = createPending<EvalView>();
          evaluation = { task: createEvalTask(done), done };
          stream.add(evaluation.task.task);
        }
        if (view.evaluation) evaluation.task.show(view.evaluation, view.nodes.length);
        if (e.type === 'eval-done') evaluation.done.settle(view.evaluation);
        return;
    }
  };

  return {
    onEvent(e) {
      const before = view;
      view = reduceRun(view, e);
      if (view.lastSeq !== before.lastSeq) onEvent(e);
    },
    async finish() {
      // Anything still waiting has no outcome coming: end it so listr2 can finish (the summary may still say it).
      scaled?.finish();
      stream.close();
      for (const [name, task] of nodes) task.done.settle(nodeOf(view, name));
      for (const pending of builds.values()) pending.settle(undefined);
      for (const [wave, pending] of waves) pending.settle(view.waves[wave - 1]);
      evaluation?.done.settle(view.evaluation);
      try {
        await running;
      } finally {
        if (!isOutputBroken(out)) await writeText(out, formatReport(view));
      }
    },
    get outputBroken() {
      return isOutputBroken(out);
    },
    get view() {
      return view;
    },
  };
}

/** Run the task list to completion; listr2 must neither exit the process nor take over signals. */
async function runListr(out: NodeJS.WritableStream, opts: ListrRendererOptions, tasks: Task[]): Promise<void> {
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  const renderer = opts.renderer ?? 'default';
  const processOutput = new ProcessOutput(out as NodeJS.WriteStream, opts.err as NodeJS.WriteStream | undefined);
  const logger = new ListrLogger({ useIcons: renderer !== 'test', processOutput });
  const listr = new Listr<unknown, typeof renderer, 'simple'>(tasks, {
    concurrent: true,
    exitOnError: false,
    registerSignalListeners: false,
    renderer,
    rendererOptions: { logger, collapseErrors: false, ...opts.rendererOptions },
    fallbackRenderer: 'simple',
    fallbackRendererOptions: { logger },
  });
  await listr.run();
}
