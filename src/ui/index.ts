// Renderers for deployment events: NDJSON, plain lines, listr2; all read one run view.
export type { Renderer } from './renderer.js';
export { chooseRenderer, type RendererChoice } from './choose.js';
export { createJsonRenderer } from './json.js';
export { createPlainRenderer } from './plain.js';
export { createListrRenderer, type ListrRendererOptions } from './listr.js';
export { buildOf, foldEvents, initialView, LOG_CAP, nodeOf, reduceRun, type BuildView, type Counts, type NodeView, type RunView } from './view.js';
export { formatReport } from './report.js';
export { forTerminal } from '../util/terminal-text.js';
