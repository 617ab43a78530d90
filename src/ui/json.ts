// `--json`: one JSON object per event per line on stdout, and nothing else; the text is as the events say.
import { createEventStream, newRunId, type EmitEvent } from '../events.js';
import { quitSummary } from './quit.js';
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

/** Registers what a forced quit (a second Ctrl+C) still does before the process exits; returns the undo. */
export type OnQuit = (handler: (exitCode: number, activating: readonly string[]) => void) => () => void;

/** A read-only command's run (plan, diff, status): its id and events, as NDJSON on `out` with --json (then the
 *  command prints nothing else), every line flushed before it returns; a forced quit still ends it with a summary. */
export async function withEventOutput<T>(out: NodeJS.WritableStream, asJson: boolean, use: (run: { runId: string; emit: EmitEvent; json: boolean }) => Promise<T>, onQuit?: OnQuit): Promise<T> {
  const runId = newRunId();
  const json = asJson ? createJsonRenderer(out) : undefined;
  const emit = createEventStream(runId, (e) => json?.onEvent(e));
  const stopQuit = json && onQuit ? onQuit((code, activating) => {
    const summary = quitSummary(json.view, code, activating);
    if (summary) emit(summary);
  }) : () => {};
  try {
    return await use({ runId, emit, json: asJson });
  } finally {
    stopQuit();
    await json?.finish();
  }
}
