// The evaluation as one listr task: its title follows the chunks as they end, the eval-done numbers end it.
import { countOf } from '../util/text.js';
import type { Pending, Task, Wrapper } from './listr-tasks.js';
import { describeAlone, describeEvalDone } from './eval-text.js';
import type { EvalView } from './view.js';

export interface EvalTask {
  task: Task;
  /** A chunk ended: the title says how far it is. */
  show(view: EvalView, total: number): void;
}

export function createEvalTask(done: Pending<EvalView>): EvalTask {
  let wrapper: Wrapper | undefined;
  let title = 'evaluating';
  return {
    show(view, total) {
      title = `evaluating: ${view.evaluated} of ${countOf(total, 'node')} in ${countOf(view.chunks, 'chunk')}`;
      if (wrapper) wrapper.title = title;
    },
    task: {
      title,
      task: async (_ctx, w: Wrapper) => {
        wrapper = w;
        w.title = title;
        const result = (await done.promise)?.done;
        if (!result) throw new Error('the run ended before the evaluation finished');
        w.title = describeEvalDone(result);
        if (result.alone.length > 0) w.output = result.alone.map((node) => describeAlone(node, result.budget)).join('\n');
      },
    },
  };
}
