// The event streams recorded from real lab runs (test/fixtures/ui, made by scripts/record-ui-fixtures.ts) and cuts of them.
import { readFileSync } from 'node:fs';
import { readEventLines, type FleetEvent } from '../../src/events.js';

export const fixture = (name: string): FleetEvent[] => readEventLines(readFileSync(new URL(`../fixtures/ui/${name}.ndjson`, import.meta.url), 'utf8'));

export const lastIndex = (events: FleetEvent[], match: (e: FleetEvent) => boolean) => events.length - 1 - [...events].reverse().findIndex(match);

/** Up to the review, and every diff that came while it waited. */
export const atReview = (events: FleetEvent[]) => events.slice(0, lastIndex(events, (e) => e.type === 'diff') + 1);
