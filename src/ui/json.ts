// `--json`: one JSON object per event per line on stdout, and nothing else; the text is as the events say.
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
