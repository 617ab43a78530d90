// A recorded run for the renderer tests: 5 nodes, 2 builds (one fails), every kind of outcome.
import { PassThrough } from 'node:stream';
import type { FleetEvent } from '../../src/events.js';
import type { Renderer } from '../../src/ui/index.js';

/** A stream to render into, and what has been written to it so far. */
export function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out, text: () => text };
}

/** Drive a renderer; `pause` lets listr2 run between events as it would in a real deployment. */
export async function drive(renderer: Renderer, events: FleetEvent[], pause = false): Promise<void> {
  for (const e of events) {
    renderer.onEvent(e);
    if (pause) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await renderer.finish();
}

const at = (s: number) => new Date(Date.UTC(2025, 0, 2, 12, 0, s)).toISOString();
const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} line ${i + 1}`);

export const nodes = ['web-1', 'web-2', 'web-3', 'db-1', 'cache-1'];
export const buildLog = lines('big build', 30);
export const rollbackLog = lines('web-3 switch', 25);

export const recordedRun: FleetEvent[] = [
  { type: 'run-start', time: at(0), goal: 'switch', nodes },
  ...nodes.map((node): FleetEvent => ({ type: 'node-phase', time: at(1), node, phase: 'evaluate', detail: 'hive.nix' })),
  { type: 'build-start', time: at(2), buildHost: 'local', drvPaths: ['/nix/store/a.drv', '/nix/store/b.drv'], nodes: ['web-1', 'web-3'] },
  { type: 'build-start', time: at(2), buildHost: 'big', drvPaths: ['/nix/store/c.drv'], nodes: ['db-1'] },
  { type: 'node-done', time: at(2), node: 'web-2', outcome: 'unchanged' },
  { type: 'node-done', time: at(2), node: 'cache-1', outcome: 'skipped', error: 'unreachable: connection refused' },
  { type: 'build-done', time: at(4), buildHost: 'local', ok: true },
  { type: 'build-done', time: at(5), buildHost: 'big', ok: false, error: 'builder for c.drv failed with exit code 1', log: buildLog },
  { type: 'node-done', time: at(5), node: 'db-1', outcome: 'failed', error: 'build on big failed\nsecond line' },
  { type: 'node-phase', time: at(6), node: 'web-1', phase: 'copy', detail: 'from local' },
  { type: 'node-phase', time: at(6), node: 'web-3', phase: 'copy', detail: 'from local' },
  { type: 'node-phase', time: at(7), node: 'web-1', phase: 'activate', detail: 'switch' },
  { type: 'node-phase', time: at(7), node: 'web-3', phase: 'activate', detail: 'switch' },
  { type: 'node-phase', time: at(8), node: 'web-1', phase: 'verify', detail: '/run/current-system' },
  { type: 'node-phase', time: at(8), node: 'web-3', phase: 'rollback', detail: 'to generation 41' },
  { type: 'node-done', time: at(9), node: 'web-1', outcome: 'activated' },
  { type: 'node-done', time: at(9), node: 'web-3', outcome: 'rolled-back', error: 'switch-to-configuration exited with 4', log: rollbackLog },
  {
    type: 'summary',
    time: at(10),
    goal: 'switch',
    exitCode: 1,
    durationMs: 10_250,
    interrupted: false,
    nodes: {
      'web-1': { outcome: 'activated' },
      'web-2': { outcome: 'unchanged' },
      'web-3': { outcome: 'rolled-back', error: 'switch-to-configuration exited with 4' },
      'db-1': { outcome: 'failed', error: 'build on big failed\nsecond line' },
      'cache-1': { outcome: 'skipped', error: 'unreachable: connection refused' },
    },
  },
];
