// What the final report needs, gathered from events by whichever renderer is active.
import type { FleetEvent, Outcome } from '../events.js';
import type { Goal } from '../goal.js';

export interface NodeRecord {
  outcome?: Outcome; // undefined: the run ended without saying (interrupted, crashed)
  error?: string;
  log: string[];
}

export interface BuildRecord {
  buildHost: string;
  nodes: string[];
  drvCount: number;
  ok?: boolean;
  error?: string;
  log: string[];
}

export interface RunRecord {
  goal?: Goal;
  nodes: Map<string, NodeRecord>; // run-start order
  builds: BuildRecord[];
  summary?: Extract<FleetEvent, { type: 'summary' }>;
}

export function createRunRecord(): RunRecord {
  return { nodes: new Map(), builds: [] };
}

/** Fold one event into the record; the summary event wins over earlier node-done events. */
export function recordEvent(record: RunRecord, e: FleetEvent): void {
  switch (e.type) {
    case 'run-start':
      record.goal = e.goal;
      for (const node of e.nodes) if (!record.nodes.has(node)) record.nodes.set(node, { log: [] });
      break;
    case 'build-start':
      record.builds.push({ buildHost: e.buildHost, nodes: e.nodes, drvCount: e.drvPaths.length, log: [] });
      break;
    case 'build-done': {
      const build = record.builds.find((b) => b.buildHost === e.buildHost && b.ok === undefined);
      if (build) Object.assign(build, { ok: e.ok, error: e.error, log: e.log ?? [] });
      break;
    }
    case 'node-done':
      record.nodes.set(e.node, { outcome: e.outcome, error: e.error, log: e.log ?? [] });
      break;
    case 'summary':
      record.summary = e;
      for (const [node, result] of Object.entries(e.nodes)) {
        const known = record.nodes.get(node);
        record.nodes.set(node, { ...result, log: known?.log ?? [] });
      }
      break;
    case 'node-phase':
      break;
  }
}
