// The fleet file: load, validate (schema + semantic checks, with file:line:col diagnostics), resolve.
export { parseFleet, analyseFleet } from './parse.js';
export { loadFleet, checkFleetFile } from './load.js';
export { parseHostSpec } from './hostspec.js';
export { parseDuration, MAX_DURATION_MS, MIN_DURATION_MS } from './duration.js';
export { probePath, type PathKind, type PathProbe } from './paths.js';
export type * from './types.js';
export type { FleetFile } from './schema-types.js';
