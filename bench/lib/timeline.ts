// Where fleet's own time goes, from its NDJSON event stamps: the first evidence when a target is missed.

import { readEventLines, type FleetEvent } from '../../src/events.js';

export interface Timeline {
  /** ms from run-start to the first event of each kind (and to the last node-done / summary). */
  firstQuery?: number;
  buildStart?: number;
  buildDone?: number;
  firstCopy?: number;
  lastCopy?: number;
  firstActivate?: number;
  lastActivate?: number;
  lastNodeDone?: number;
  summary?: number;
}

export function readTimeline(stdout: string): Timeline {
  const events = readEventLines(stdout);
  const start = Date.parse(events.find((e) => e.type === 'run-start')?.time ?? '');
  if (Number.isNaN(start)) return {};
  const at = (pick: (e: FleetEvent) => boolean, last = false): number | undefined => {
    const hits = events.filter(pick);
    const e = last ? hits.at(-1) : hits[0];
    return e ? Date.parse(e.time) - start : undefined;
  };
  const phase = (p: string) => (e: FleetEvent) => e.type === 'node-phase' && e.phase === p;
  const entries: [keyof Timeline, number | undefined][] = [
    ['firstQuery', at(phase('query'))],
    ['buildStart', at((e) => e.type === 'build-start')],
    ['buildDone', at((e) => e.type === 'build-done', true)],
    ['firstCopy', at(phase('copy'))],
    ['lastCopy', at(phase('copy'), true)],
    ['firstActivate', at(phase('activate'))],
    ['lastActivate', at(phase('activate'), true)],
    ['lastNodeDone', at((e) => e.type === 'node-done', true)],
    ['summary', at((e) => e.type === 'summary')],
  ];
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as Timeline;
}
