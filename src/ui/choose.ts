// Pick the renderer: NDJSON when asked, listr2 on an interactive terminal, plain lines otherwise.
import { createJsonRenderer } from './json.js';
import { createListrRenderer } from './listr.js';
import { createPlainRenderer } from './plain.js';
import type { Renderer } from './renderer.js';

export interface RendererChoice {
  json: boolean;
  tty: boolean; // out.isTTY
  ci: boolean; // env CI is set and not "false"/"0"
  out: NodeJS.WritableStream;
}

export function chooseRenderer({ json, tty, ci, out }: RendererChoice): Renderer {
  if (json) return createJsonRenderer(out);
  if (tty && !ci) return createListrRenderer(out);
  return createPlainRenderer(out);
}
