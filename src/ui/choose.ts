// Pick the renderer: NDJSON when asked, listr2 on an interactive terminal, plain lines otherwise.
import { createJsonRenderer } from './json.js';
import { createListrRenderer } from './listr.js';
import { createPlainRenderer } from './plain.js';
import type { Renderer } from './renderer.js';

export interface RendererChoice {
  json: boolean;
  tty: boolean; // out.isTTY
  ci: boolean; // isCi(env)
  /** --verbose: output lines go with the plain renderer, which prints them (listr2 would hide them). */
  verbose?: boolean;
  out: NodeJS.WritableStream;
}

/** CI as every CI system sets it: `CI` present and not "false"/"0". */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
}

export function chooseRenderer({ json, tty, ci, verbose, out }: RendererChoice): Renderer {
  if (json) return createJsonRenderer(out);
  if (tty && !ci && !verbose) return createListrRenderer(out);
  return createPlainRenderer(out);
}
