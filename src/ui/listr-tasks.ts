// Listr tasks driven by events: each task's function waits for the event that ends it.
import type { ListrRendererFactory, ListrTask, ListrTaskWrapper } from 'listr2';
import { formatList } from '../select/messages.js';
import { describeHealth, describePhase, firstLine } from './labels.js';
import { countOf } from '../util/text.js';
import { forTerminal } from '../util/terminal-text.js';
import type { BuildView, NodeView, WaveView } from './view.js';

export type Wrapper = ListrTaskWrapper<unknown, ListrRendererFactory, ListrRendererFactory>;
export type Task = ListrTask<unknown, ListrRendererFactory, ListrRendererFactory>;

/** A value that arrives later, from an event; `undefined` when the run ended without it. */
export interface Pending<T> {
  promise: Promise<T | undefined>;
  settle(value: T | undefined): void;
}

export function createPending<T>(): Pending<T> {
  let settle: (value: T | undefined) => void = () => {};
  const promise = new Promise<T | undefined>((resolve) => (settle = resolve));
  return { promise, settle };
}

export interface NodeTask {
  name: string;
  title: string;
  output?: string;
  wrapper?: Wrapper;
  done: Pending<NodeView>;
}

/** Show a phase change now if the task is running, or when it starts. */
export function showPhase(node: NodeTask, view: NodeView): void {
  if (!view.phase) return;
  node.title = `${node.name}: ${describePhase(view.phase)}`;
  node.output = forTerminal(view.detail ?? '');
  if (node.wrapper) applyTitle(node.wrapper, node.title, node.output);
}

/** A health check attempt: the title says which check runs, the output how the last attempt went. */
export function showHealth(node: NodeTask, view: NodeView): void {
  if (!view.health) return;
  node.title = `${node.name}: health ${forTerminal(view.health.check)}`;
  node.output = forTerminal(describeHealth(view.health));
  if (node.wrapper) applyTitle(node.wrapper, node.title, node.output);
}

export function createNodeTask(node: NodeTask): Task {
  return {
    title: node.title,
    task: async (_ctx, wrapper: Wrapper) => {
      node.wrapper = wrapper;
      applyTitle(wrapper, node.title, node.output);
      const done = await node.done.promise;
      finishNodeTask(wrapper, node.name, done);
    },
  };
}

/** unchanged completes, skipped skips, and every outcome that is not what was asked for fails. */
function finishNodeTask(wrapper: Wrapper, name: string, done: NodeView | undefined): void {
  if (done?.outcome === undefined) {
    wrapper.title = `${name}: unknown`;
    throw new Error(`${name}: the run ended without an outcome for this node`);
  }
  const error = done.error ? forTerminal(firstLine(done.error)) : '';
  const reason = error ? `: ${error}` : '';
  switch (done.outcome) {
    case 'unchanged':
      wrapper.title = `${name} (unchanged)`;
      return;
    case 'skipped':
      wrapper.title = `${name}: skipped`;
      wrapper.skip(`${name}: skipped${reason}`);
      return;
    case 'held': // never touched: shown like a skip, counted as a failure in the report
      wrapper.title = `${name}: held`;
      wrapper.skip(`${name}: held${reason}`);
      return;
    case 'activated':
    case 'built':
    case 'pushed':
    case 'rebooted':
      wrapper.title = `${name}: ${done.outcome}`;
      return;
    case 'failed':
    case 'rolled-back':
    case 'rollback-failed':
    case 'unreachable-after-reboot':
    case 'locked':
      wrapper.title = `${name}: ${done.outcome}`;
      throw new Error(error || done.outcome); // the title already names node and outcome
  }
}

/** One build (a BuildJob of the plan): its derivations on its location. */
export function createBuildTask(start: BuildView, done: Pending<BuildView>): Task {
  const what = `${countOf(start.drvPaths.length, 'derivation')} for ${formatList(start.nodes)}`;
  return {
    title: `build on ${start.id}: ${what}`,
    task: async (_ctx, wrapper: Wrapper) => {
      const result = await done.promise;
      if (result?.ok === true) {
        wrapper.title = `built on ${start.id}: ${what}`;
        return;
      }
      wrapper.title = `build on ${start.id} failed`;
      const error = result ? (result.error ?? 'failed') : 'the run ended before this build finished';
      throw new Error(forTerminal(firstLine(error)));
    },
  };
}

function applyTitle(wrapper: Wrapper, title: string, output: string | undefined): void {
  wrapper.title = title;
  if (output) wrapper.output = output;
}

/** One wave of a staged rollout, from wave-start to wave-done. */
export function createWaveTask(start: WaveView, total: number, done: Pending<WaveView>): Task {
  const head = `wave ${start.wave} of ${total}`;
  const what = `${countOf(start.nodes.length, 'node')}: ${formatList(start.nodes)}`;
  return {
    title: `${head}: ${what}`,
    task: async (_ctx, wrapper: Wrapper) => {
      const result = await done.promise;
      const failures = countOf(result?.failures ?? 0, 'failure');
      if (result?.verdict === 'passed') {
        wrapper.title = `${head} passed (${failures}): ${what}`;
        return;
      }
      wrapper.title = `${head} ${result?.verdict ?? 'ended'}`;
      const allowed = result?.maxFailures === undefined ? '' : `, ${result.maxFailures} allowed`;
      throw new Error(result?.verdict ? `${failures}${allowed}` : 'the run ended before this wave finished');
    },
  };
}
