// `--json`: one JSON object per event per line on stdout, and nothing else; the text is as the events say.
import { createEventStream, newRunId, type EmitEvent } from '../events.js';
import type { Renderer } from './renderer.js';
import { initialView, reduceRun } from './view.js';
import { guardOutput, isOutputBroken, writeText } from './write.js';

export function createJsonRenderer(out: NodeJS.WritableStream): Renderer {
  guardOutput(out);
  let view = initialView();
  let last = Promise.resolve();
  return {
    onEvent(e) {
      view = reduceRun(view, e);
      if (!isOutputBroken(out)) last = writeText(out, `${JSON.stringify(e)}\n`); // stream writes complete in order
    },
    finish: () => last,
    get outputBroken() {
      return isOutputBroken(out);
    },
    get view() {
      return view;
    },
  };
}

/** A read-only command's run (diff, status): its id and events, as NDJSON on `out` with --json (then the
 *  command prints nothing else), every line flushed before it returns. */
export async function withEventOutput<T>(out: NodeJS.WritableStream, asJson: boolean, use: (run: { runId: string; emit: EmitEvent; json: boolean }) => Promise<T>): Promise<T> {
  const runId = newRunId();
  const json = asJson ? createJsonRenderer(out) : undefined;
  try {
    return await use({ runId, emit: createEventStream(runId, (e) => json?.onEvent(e)), json: asJson });
  } finally {
    await json?.finish();
  }
}
