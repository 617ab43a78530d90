// Listr tasks driven by events: each task's function waits for the event that ends it.
import type { ListrRendererFactory, ListrTask, ListrTaskWrapper } from 'listr2';
import type { EventOf } from '../events.js';
import { countOf, describePhase, firstLine } from './labels.js';

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
  done: Pending<EventOf<'node-done'>>;
}

/** Show a phase change now if the task is running, or when it starts. */
export function showPhase(node: NodeTask, e: EventOf<'node-phase'>): void {
  node.title = `${node.name}: ${describePhase(e.phase)}`;
  node.output = e.detail;
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
function finishNodeTask(wrapper: Wrapper, name: string, done: EventOf<'node-done'> | undefined): void {
  if (done === undefined) {
    wrapper.title = `${name}: unknown`;
    throw new Error(`${name}: the run ended without an outcome for this node`);
  }
  const reason = done.error ? `: ${firstLine(done.error)}` : '';
  switch (done.outcome) {
    case 'unchanged':
      wrapper.title = `${name} (unchanged)`;
      return;
    case 'skipped':
      wrapper.title = `${name}: skipped`;
      wrapper.skip(`${name}: skipped${reason}`);
      return;
    case 'activated':
    case 'built':
    case 'pushed':
      wrapper.title = `${name}: ${done.outcome}`;
      return;
    case 'failed':
    case 'rolled-back':
    case 'rollback-failed':
      wrapper.title = `${name}: ${done.outcome}`;
      throw new Error(done.error ? firstLine(done.error) : done.outcome); // the title already names node and outcome
  }
}

/** One build host's realisation of its derivations. */
export function createBuildTask(start: EventOf<'build-start'>, done: Pending<EventOf<'build-done'>>): Task {
  const what = `${countOf(start.drvPaths.length, 'derivation')} for ${start.nodes.join(', ')}`;
  return {
    title: `build on ${start.buildHost}: ${what}`,
    task: async (_ctx, wrapper: Wrapper) => {
      const result = await done.promise;
      if (result?.ok === true) {
        wrapper.title = `built on ${start.buildHost}: ${what}`;
        return;
      }
      wrapper.title = `build on ${start.buildHost} failed`;
      throw new Error(firstLine(result?.error ?? 'the run ended before this build finished'));
    },
  };
}

function applyTitle(wrapper: Wrapper, title: string, output: string | undefined): void {
  wrapper.title = title;
  if (output) wrapper.output = output;
}
