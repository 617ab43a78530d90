// Renderers for deployment events: NDJSON, plain lines, listr2.
export type { Renderer } from './renderer.js';
export { chooseRenderer, type RendererChoice } from './choose.js';
export { createJsonRenderer } from './json.js';
export { createPlainRenderer } from './plain.js';
export { createListrRenderer, type ListrRendererOptions } from './listr.js';
