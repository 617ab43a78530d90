// Tasks that appear after Listr started: listr2 runs only the tasks it had at run(), so new ones
// go into an untitled task that returns them as subtasks (rendered at its parent's level).
import type { Task, Wrapper } from './listr-tasks.js';

export interface TaskStream {
  task: Task;
  add(task: Task): void;
  close(): void;
}

export function createTaskStream(): TaskStream {
  const queue: Task[] = [];
  let closed = false;
  let wake = () => {};
  const next = async (_ctx: unknown, wrapper: Wrapper): Promise<unknown> => {
    while (queue.length === 0 && !closed) await new Promise<void>((resolve) => (wake = resolve));
    if (queue.length === 0) return undefined;
    await new Promise((resolve) => setImmediate(resolve)); // gather a burst of starts into one list
    // The trailing untitled task keeps listening for later arrivals.
    return wrapper.newListr([...queue.splice(0), { task: next }], { concurrent: true, exitOnError: false });
  };
  return {
    task: { task: next },
    add(task) {
      queue.push(task);
      wake();
    },
    close() {
      closed = true;
      wake();
    },
  };
}
