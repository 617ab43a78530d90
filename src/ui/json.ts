// `--json`: one JSON object per event per line on stdout, and nothing else.
import type { FleetEvent } from '../events.js';
import type { Renderer } from './renderer.js';
import { writeText } from './write.js';

export function createJsonRenderer(out: NodeJS.WritableStream): Renderer {
  let last = Promise.resolve();
  return {
    onEvent(e: FleetEvent) {
      last = writeText(out, `${JSON.stringify(e)}\n`); // stream writes complete in order
    },
    finish: () => last,
  };
}
