// The fleet file: load, validate (schema + semantic checks, with file:line:col diagnostics), resolve.
export { parseFleet, analyseFleet } from './parse.js';
export { loadFleet, checkFleetFile } from './load.js';
export { parseHostSpec } from './hostspec.js';
export { parseDuration } from './duration.js';
export type * from './types.js';
export type { FleetFile } from './schema-types.js';
