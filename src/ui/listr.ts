// Interactive renderer: one listr2 task per node and per build, driven by events; listr2 loads lazily.
import type { EventOf, FleetEvent } from '../events.js';
import { createBuildTask, createNodeTask, createPending, showPhase, type NodeTask, type Pending, type Task } from './listr-tasks.js';
import { createTaskStream } from './listr-stream.js';
import { createRunRecord, recordEvent } from './record.js';
import type { Renderer } from './renderer.js';
import { formatReport } from './report.js';
import { writeText } from './write.js';

export interface ListrRendererOptions {
  /** listr2 renderer: `default` on a TTY; `test` (serialised events) or `simple` in tests. */
  renderer?: 'default' | 'simple' | 'verbose' | 'test';
  /** Where listr2 sends what it writes to stderr (error messages of the test renderer); default process.stderr. */
  err?: NodeJS.WritableStream;
  /** Passed through to listr2's renderer, after ours. */
  rendererOptions?: Record<string, unknown>;
}

export function createListrRenderer(out: NodeJS.WritableStream, opts: ListrRendererOptions = {}): Renderer {
  const record = createRunRecord();
  const nodes = new Map<string, NodeTask>();
  const builds = new Map<string, Pending<EventOf<'build-done'>>[]>(); // per build host, oldest first
  const stream = createTaskStream();
  let running: Promise<unknown> | undefined;

  const handlers: { [K in FleetEvent['type']]?: (e: EventOf<K>) => void } = {
    'run-start': (e) => {
      if (running) return;
      for (const name of e.nodes) nodes.set(name, { name, title: name, done: createPending() });
      running = runListr(out, opts, [stream.task, ...[...nodes.values()].map(createNodeTask)]);
    },
    'build-start': (e) => {
      const done = createPending<EventOf<'build-done'>>();
      builds.set(e.buildHost, [...(builds.get(e.buildHost) ?? []), done]);
      stream.add(createBuildTask(e, done));
    },
    'build-done': (e) => builds.get(e.buildHost)?.shift()?.settle(e),
    'node-phase': (e) => {
      const node = nodes.get(e.node);
      if (node) showPhase(node, e);
    },
    'node-done': (e) => nodes.get(e.node)?.done.settle(e),
  };

  return {
    onEvent(e) {
      recordEvent(record, e);
      (handlers[e.type] as ((e: FleetEvent) => void) | undefined)?.(e);
    },
    async finish() {
      // Anything still waiting has no outcome coming: end it so listr2 can finish.
      stream.close();
      for (const node of nodes.values()) node.done.settle(undefined);
      for (const list of builds.values()) for (const pending of list) pending.settle(undefined);
      try {
        await running;
      } finally {
        await writeText(out, formatReport(record));
      }
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
