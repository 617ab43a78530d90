// A recorded run for the renderer tests: 5 nodes, a plan, 2 builds (one fails), every kind of outcome and event.
import { PassThrough } from 'node:stream';
import { createEventStream, type EventBody, type FleetEvent } from '../../src/events.js';
import { createPlainRenderer, type Renderer } from '../../src/ui/index.js';

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

/** What the plain renderer prints for these events, line by line. */
export async function renderPlain(events: FleetEvent[]): Promise<string[]> {
  const { out, text } = capture();
  await drive(createPlainRenderer(out), events);
  return text().split('\n');
}

export const runId = '20250102T120000Z-0badc0de';
export const at = (s: number) => new Date(Date.UTC(2025, 0, 2, 12, 0, s));

/** Events with real envelopes (v, run, seq, time) from the one place that makes them; `[second, body]` each. */
export function record(steps: [number, EventBody][], run = runId): FleetEvent[] {
  const events: FleetEvent[] = [];
  let second = 0;
  const emit = createEventStream(run, (e) => events.push(e), () => at(second));
  for (const [s, body] of steps) {
    second = s;
    emit(body);
  }
  return events;
}

/** A store path whose hash starts with `hash` (7 characters shown by the renderers). */
export const storePath = (hash: string, name: string) => `/nix/store/${hash.padEnd(32, '0')}-${name}`;
const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} line ${i + 1}`);

export const nodes = ['web-1', 'web-2', 'web-3', 'db-1', 'cache-1'];
export const buildLog = lines('big build', 30);
export const rollbackLog = lines('web-3 switch', 25);
const old = (n: string) => storePath('0ld0000', `nixos-system-${n}`);
const neu = (n: string) => storePath('9e70000', `nixos-system-${n}`);
const drv = (n: string) => storePath('d7v0000', `nixos-system-${n}.drv`);

export const recordedRun: FleetEvent[] = record([
  [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes, fleetVersion: '0.1.0' }],
  ...nodes.map((node): [number, EventBody] => [1, { type: 'node-phase', node, phase: 'evaluate', detail: 'hive.nix' }]),
  [1, {
    type: 'plan',
    plan: {
      goal: 'switch',
      builds: [
        { id: 'local', location: { kind: 'local' }, drvPaths: [drv('web-1'), drv('web-3')], nodes: ['web-1', 'web-3'] },
        { id: 'builder:big', location: { kind: 'builder', builder: 'big' }, drvPaths: [drv('db-1')], nodes: ['db-1'] },
      ],
      nodes: [
        {
          name: 'web-1', drvPath: drv('web-1'), outPath: neu('web-1'), to: { system: neu('web-1') }, buildJob: 'local',
          from: { generation: 41, profileLink: 'system-41-link', profileTarget: old('web-1'), currentSystem: old('web-1') },
          copy: { kind: 'from-local' }, activate: true, reason: 'switch needed',
        },
        {
          name: 'web-2', drvPath: drv('web-2'), outPath: neu('web-2'), to: { system: neu('web-2') },
          from: { generation: 7, profileTarget: neu('web-2'), currentSystem: neu('web-2') },
          copy: { kind: 'none', reason: 'not-needed' }, activate: false, reason: 'up to date',
        },
        {
          name: 'web-3', drvPath: drv('web-3'), outPath: neu('web-3'), to: { system: neu('web-3') }, buildJob: 'local',
          from: { generation: 41, profileTarget: neu('web-3'), currentSystem: old('web-3') },
          copy: { kind: 'from-local' }, activate: true, reason: 'switch needed',
        },
        {
          name: 'db-1', drvPath: drv('db-1'), outPath: neu('db-1'), to: { system: neu('db-1') }, buildJob: 'builder:big',
          from: {}, copy: { kind: 'from-build-host', buildJob: 'builder:big' }, activate: true, reason: 'switch needed',
        },
      ],
    },
  }],
  [2, { type: 'build-start', build: 'local', drvPaths: [drv('web-1'), drv('web-3')], nodes: ['web-1', 'web-3'] }],
  [2, { type: 'build-start', build: 'builder:big', drvPaths: [drv('db-1')], nodes: ['db-1'] }],
  [2, { type: 'node-done', node: 'web-2', outcome: 'unchanged' }],
  [2, { type: 'node-done', node: 'cache-1', outcome: 'skipped', error: 'unreachable: connection refused' }],
  [3, { type: 'log', build: 'local', line: 'building /nix/store/d7v-nixos-system-web-1.drv...' }],
  [4, { type: 'build-done', build: 'local', ok: true }],
  [5, { type: 'build-done', build: 'builder:big', ok: false, error: 'builder for c.drv failed with exit code 1', log: buildLog }],
  [5, { type: 'node-done', node: 'db-1', outcome: 'failed', error: 'build on builder:big failed\nsecond line' }],
  [6, { type: 'node-phase', node: 'web-1', phase: 'copy', detail: 'from local' }],
  [6, { type: 'node-phase', node: 'web-3', phase: 'copy', detail: 'from local' }],
  [7, { type: 'copy-done', node: 'web-1', route: 'from-local', paths: 3, bytes: 125_952 }],
  [7, { type: 'copy-done', node: 'web-3', route: 'from-local', paths: 0, bytes: 0 }],
  [7, { type: 'node-phase', node: 'web-1', phase: 'activate', detail: 'switch' }],
  [7, { type: 'node-phase', node: 'web-3', phase: 'activate', detail: 'switch' }],
  [7, { type: 'log', node: 'web-1', line: 'starting the following units: nginx.service' }],
  [8, { type: 'node-phase', node: 'web-1', phase: 'verify', detail: '/run/current-system' }],
  [8, { type: 'node-phase', node: 'web-3', phase: 'rollback', detail: 'to generation 41' }],
  [9, { type: 'node-done', node: 'web-1', outcome: 'activated' }],
  [9, { type: 'node-done', node: 'web-3', outcome: 'rolled-back', error: 'switch-to-configuration exited with 4', log: rollbackLog }],
  [10, {
    type: 'summary',
    command: 'apply',
    goal: 'switch',
    exitCode: 1,
    durationMs: 10_250,
    interrupted: false,
    nodes: {
      'web-1': { outcome: 'activated' },
      'web-2': { outcome: 'unchanged' },
      'web-3': { outcome: 'rolled-back', error: 'switch-to-configuration exited with 4' },
      'db-1': { outcome: 'failed', error: 'build on builder:big failed\nsecond line' },
      'cache-1': { outcome: 'skipped', error: 'unreachable: connection refused' },
    },
  }],
]);

/** A staged rollout: waves [1, 2, 100%], maxFailures 0; wave 2 fails on a health check, wave 3 is held. */
export const rolloutNodes = ['canary-1', 'web-1', 'web-2', 'web-3'];
export const rolloutRun: FleetEvent[] = record([
  [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: rolloutNodes, fleetVersion: '0.1.0' }],
  [1, {
    type: 'plan',
    plan: {
      goal: 'switch',
      builds: [{ id: 'local', location: { kind: 'local' }, drvPaths: rolloutNodes.map(drv), nodes: rolloutNodes }],
      nodes: rolloutNodes.map((name) => ({
        name, drvPath: drv(name), outPath: neu(name), to: { system: neu(name) }, buildJob: 'local',
        from: { generation: 3, profileTarget: old(name), currentSystem: old(name) }, copy: { kind: 'from-local' as const }, activate: true, reason: 'switch needed',
      })),
      waves: [{ nodes: ['canary-1'], maxFailures: 0 }, { nodes: ['web-1', 'web-2'], maxFailures: 0 }, { nodes: ['web-3'], maxFailures: 0 }],
    },
  }],
  [2, { type: 'wave-start', wave: 1, nodes: ['canary-1'] }],
  [2, { type: 'node-phase', node: 'canary-1', phase: 'activate', detail: 'switch' }],
  [3, { type: 'health', node: 'canary-1', check: 'nginx', attempt: 1, attempts: 4, ok: false, detail: 'exit 3: inactive' }],
  [4, { type: 'health', node: 'canary-1', check: 'nginx', attempt: 2, attempts: 4, ok: true, detail: 'exit 0' }],
  [4, { type: 'node-done', node: 'canary-1', outcome: 'activated' }],
  [4, { type: 'wave-done', wave: 1, failures: 0, verdict: 'passed' }],
  [5, { type: 'wave-start', wave: 2, nodes: ['web-1', 'web-2'] }],
  [5, { type: 'node-phase', node: 'web-1', phase: 'activate', detail: 'switch' }],
  [5, { type: 'node-phase', node: 'web-2', phase: 'activate', detail: 'switch' }],
  [6, { type: 'health', node: 'web-1', check: 'web', attempt: 1, attempts: 2, ok: true, detail: 'HTTP 200' }],
  [6, { type: 'health', node: 'web-2', check: 'web', attempt: 1, attempts: 2, ok: false, detail: 'HTTP 503, expected 200: starting' }],
  [7, { type: 'health', node: 'web-2', check: 'web', attempt: 2, attempts: 2, ok: false, detail: 'HTTP 503, expected 200: starting' }],
  [7, { type: 'node-phase', node: 'web-2', phase: 'rollback', detail: 'to generation 3' }],
  [8, { type: 'node-done', node: 'web-2', outcome: 'rolled-back', error: 'health check `web` failed: HTTP 503, expected 200: starting' }],
  [8, { type: 'wave-done', wave: 2, failures: 1, verdict: 'failed' }],
  [8, { type: 'node-phase', node: 'web-1', phase: 'rollback', detail: 'to generation 3' }],
  [9, { type: 'node-done', node: 'web-1', outcome: 'rolled-back', error: 'rolled back with wave 2 (1 failure, 0 allowed)' }],
  [9, { type: 'node-done', node: 'web-3', outcome: 'held', error: 'not started: wave 2 failed' }],
  [10, {
    type: 'summary',
    command: 'apply',
    goal: 'switch',
    exitCode: 1,
    durationMs: 9_000,
    interrupted: false,
    nodes: {
      'canary-1': { outcome: 'activated' },
      'web-1': { outcome: 'rolled-back', error: 'rolled back with wave 2 (1 failure, 0 allowed)' },
      'web-2': { outcome: 'rolled-back', error: 'health check `web` failed: HTTP 503, expected 200: starting' },
      'web-3': { outcome: 'held', error: 'not started: wave 2 failed' },
    },
  }],
]);

/** A recorded `fleet diff`: two nodes alike, one unreachable; the events only `diff` emits. */
export const recordedDiffRun: FleetEvent[] = record([
  [0, { type: 'run-start', command: 'diff', goal: 'switch', nodes: ['web-1', 'web-2', 'db-1'], fleetVersion: '0.1.0' }],
  [1, { type: 'node-phase', node: 'web-1', phase: 'query', detail: 'reading closures' }],
  [2, {
    type: 'diff', nodes: ['web-1', 'web-2'],
    added: [{ name: 'libfoo', before: [], after: ['1.0'], sizeDelta: 4096 }],
    removed: [],
    changed: [{ name: 'hello', before: ['2.10'], after: ['2.12'], sizeDelta: 120 }],
    systems: {
      'web-1': { from: old('web-1'), to: neu('web-1'), sizeBefore: 10_000, sizeAfter: 14_216, sizeDelta: 4216 },
      'web-2': { to: neu('web-2'), sizeBefore: 0, sizeAfter: 14_216, sizeDelta: 14_216 },
    },
  }],
  [2, { type: 'node-done', node: 'db-1', outcome: 'failed', error: 'db-1: connect: unreachable' }],
  [3, { type: 'summary', command: 'diff', goal: 'switch', exitCode: 1, durationMs: 3000, interrupted: false, nodes: { 'db-1': { outcome: 'failed', error: 'db-1: connect: unreachable' } } }],
]);

/** A recorded `fleet status`: one node of each state the table shows most, one unreachable. */
export const recordedStatusRun: FleetEvent[] = record([
  [0, { type: 'run-start', command: 'status', goal: 'switch', nodes: ['web-1', 'web-2', 'db-1'], fleetVersion: '0.1.0' }],
  [1, {
    type: 'status', node: 'web-1', state: 'in-sync', reason: 'runs the desired system', desired: neu('web-1'),
    system: { profileLink: 'system-5-link', generation: 5, profileTarget: neu('web-1'), currentSystem: neu('web-1'), bootedSystem: old('web-1') },
    lastDeploy: { kind: 'deploy', run: runId, time: '2025-01-02T11:00:00.000Z', goal: 'switch', toplevel: neu('web-1'), generation: 5, rev: '3f2a1b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a', dirty: false, by: 'alice@laptop', on: 'tag:web', message: 'hotfix' },
  }],
  [1, {
    type: 'status', node: 'web-2', state: 'locked', reason: 'another run is deploying it', desired: neu('web-2'), system: { currentSystem: old('web-2') },
    lock: { state: 'held', holder: { run: runId, by: 'bob@ci', pid: 7, since: 1735819200, expires: 1735819500 } },
  }],
  [2, { type: 'status', node: 'db-1', state: 'unreachable', reason: 'db-1: connect: unreachable', desired: neu('db-1') }],
  [2, { type: 'summary', command: 'status', goal: 'switch', exitCode: 1, durationMs: 2000, interrupted: false, nodes: { 'db-1': { outcome: 'failed', error: 'db-1: connect: unreachable' } } }],
]);

/** `fleet apply build` of 4 nodes evaluated in 3 chunks on 2 workers: web-3 fails under tryEval and is evaluated
 *  again alone for Nix's message; db-1 alone needs more than the budget. */
export const evalNodes = ['web-1', 'web-2', 'web-3', 'db-1'];
export const recordedEvalRun: FleetEvent[] = record([
  [0, { type: 'run-start', command: 'apply', goal: 'build', nodes: evalNodes, fleetVersion: '0.1.0' }],
  ...evalNodes.map((node): [number, EventBody] => [0, { type: 'node-phase', node, phase: 'evaluate', detail: 'evaluating' }]),
  [1, { type: 'eval-chunk', chunk: 1, worker: 1, nodes: ['web-1'], failed: [], retried: [], wallMs: 900, peakRss: 180 * 2 ** 20, ended: 'done' }],
  [3, { type: 'eval-chunk', chunk: 2, worker: 2, nodes: ['web-2', 'web-3'], failed: [], retried: ['web-3'], wallMs: 2300, peakRss: 400 * 2 ** 20, ended: 'done' }],
  [4, { type: 'eval-chunk', chunk: 3, worker: 1, nodes: ['web-3'], failed: ['web-3'], retried: [], wallMs: 400, peakRss: 60 * 2 ** 20, ended: 'failed' }],
  [7, { type: 'eval-chunk', chunk: 4, worker: 1, nodes: ['db-1'], failed: [], retried: [], wallMs: 3000, peakRss: 1700 * 2 ** 20, ended: 'done' }],
  [7, { type: 'eval-done', nodes: 3, failed: 1, chunks: 4, workers: 2, peakRss: 1700 * 2 ** 20, wallMs: 7100, budget: 1536 * 2 ** 20, alone: ['db-1'] }],
  [7, { type: 'node-done', node: 'web-3', outcome: 'failed', error: "web-3: evaluate: error: attribute 'nginx' missing" }],
  [9, { type: 'summary', command: 'apply', goal: 'build', exitCode: 1, durationMs: 9000, interrupted: false, nodes: {
    'web-1': { outcome: 'built' }, 'web-2': { outcome: 'built' }, 'db-1': { outcome: 'built' }, 'web-3': { outcome: 'failed', error: "web-3: evaluate: error: attribute 'nginx' missing" },
  } }],
]);

/** A `fleet doctor --json` run: the deployer, a healthy node, a node whose nix-store is off the PATH, a builder not reached. */
export const recordedDoctorRun: FleetEvent[] = record([
  [0, { type: 'doctor-start', hosts: [{ name: 'deployer', role: 'deployer', address: 'local' }, { name: 'web-1', role: 'node', address: 'root@web-1' }, { name: 'big', role: 'builder', address: 'nix@big:2222' }], fleetVersion: '0.1.0' }],
  [0, { type: 'doctor-check', host: 'deployer', role: 'deployer', check: 'nix', status: 'ok', detail: 'nix-store (Nix) 2.8.0; nix-instantiate, nix-store, nix-copy-closure, ssh on the PATH' }],
  [1, { type: 'doctor-check', host: 'web-1', role: 'node', check: 'rtt', status: 'ok', detail: 'TCP handshake 0.3 ms, a command over the SSH connection 41 ms', value: 0.3 }],
  [1, {
    type: 'doctor-check', host: 'web-1', role: 'node', check: 'nix-path', status: 'fail',
    detail: 'nix-store is in /nix/var/nix/profiles/default/bin, which is not on the PATH of non-interactive SSH sessions (PATH=/usr/bin:/bin)',
    fix: 'on web-1, add `SetEnv PATH=/usr/bin:/bin:/nix/var/nix/profiles/default/bin` to /etc/ssh/sshd_config and reload sshd (systemctl reload sshd)',
  }],
  [1, { type: 'doctor-check', host: 'web-1', role: 'node', check: 'clock', status: 'warn', detail: 'the clock of web-1 is 42.0 s ahead of the deployer\'s', fix: 'sync the clocks', value: 42000 }],
  [2, { type: 'doctor-check', host: 'big', role: 'builder', check: 'reach', status: 'fail', detail: '10.0.0.9:2222: connection refused', fix: 'nothing listens there' }],
  [2, { type: 'doctor-check', host: 'big', role: 'builder', check: 'auth', status: 'skip', detail: 'the machine did not answer' }],
  [2, { type: 'doctor-summary', exitCode: 1, durationMs: 2100, interrupted: false, checks: { ok: 2, warn: 1, fail: 2, skip: 1 } }],
]);

/** A `fleet exec --json` of `uname -r` on three nodes in two waves: one prints, one fails, one is unreachable. */
export const recordedExecRun: FleetEvent[] = record([
  [0, { type: 'exec-start', command: ['uname', '-r'], sudo: false, nodes: ['web-1', 'web-2', 'web-3'], fleetVersion: '0.1.0' }],
  [0, { type: 'wave-start', wave: 1, nodes: ['web-1'] }],
  [1, { type: 'exec-output', node: 'web-1', stream: 'stdout', line: '6.6.52' }],
  [1, { type: 'exec-done', node: 'web-1', outcome: 'ok', exitCode: 0, durationMs: 310 }],
  [1, { type: 'wave-done', wave: 1, failures: 0, verdict: 'passed' }],
  [1, { type: 'wave-start', wave: 2, nodes: ['web-2', 'web-3'] }],
  [2, { type: 'exec-output', node: 'web-2', stream: 'stderr', line: 'uname: cannot get system name' }],
  [2, { type: 'exec-done', node: 'web-2', outcome: 'failed', exitCode: 1, durationMs: 290, error: 'exit 1' }],
  [3, { type: 'exec-done', node: 'web-3', outcome: 'unreachable', error: 'cannot connect to web-3 (root@10.0.0.3): Connection refused' }],
  [3, { type: 'wave-done', wave: 2, failures: 2, verdict: 'failed' }],
  [3, {
    type: 'exec-summary', exitCode: 1, durationMs: 3100, interrupted: false,
    nodes: {
      'web-1': { outcome: 'ok', exitCode: 0, durationMs: 310 },
      'web-2': { outcome: 'failed', exitCode: 1, durationMs: 290, error: 'exit 1' },
      'web-3': { outcome: 'unreachable', error: 'cannot connect to web-3 (root@10.0.0.3): Connection refused' },
    },
    groups: [{ outcome: 'ok', exitCode: 0, nodes: ['web-1'] }, { outcome: 'failed', exitCode: 1, nodes: ['web-2'] }, { outcome: 'unreachable', nodes: ['web-3'] }],
  }],
]);

/** A `fleet keys` run: web-1 gets 2 of its 3 keys and loses one fleet wrote earlier, web-2 is current, db-1 lacks a user. */
export const recordedKeysRun: FleetEvent[] = record([
  [0, { type: 'run-start', command: 'keys', goal: 'switch', nodes: ['web-1', 'web-2', 'db-1'], fleetVersion: '0.1.0' }],
  [1, { type: 'keys', node: 'web-1', changed: ['tls.key', 'wg'], unchanged: 1, removed: ['/run/keys/old'] }],
  [1, { type: 'node-phase', node: 'web-1', phase: 'keys', detail: 'uploading 2 keys (tls.key, wg), removing 1' }],
  [1, { type: 'keys', node: 'web-2', changed: [], unchanged: 3, removed: [] }],
  [1, { type: 'node-done', node: 'web-2', outcome: 'unchanged' }],
  [1, { type: 'keys', node: 'db-1', changed: ['pg.pass'], unchanged: 0, removed: [] }],
  [1, { type: 'node-done', node: 'db-1', outcome: 'failed', error: 'key `pg.pass`: user `postgres` does not exist on db-1' }],
  [2, { type: 'node-done', node: 'web-1', outcome: 'pushed' }],
  [2, { type: 'summary', command: 'keys', goal: 'switch', exitCode: 1, durationMs: 2000, interrupted: false, nodes: { 'web-1': { outcome: 'pushed' }, 'web-2': { outcome: 'unchanged' }, 'db-1': { outcome: 'failed', error: 'key `pg.pass`: user `postgres` does not exist on db-1' } } }],
]);

// The cache route (copy: cache): one upload, two nodes fetch, one cannot and is pushed to.
const KEY = 'cache.lan-1:hoHSp5kMGYB3aBAfoXXGzez4oiydAsFQnIsNvu/BRCg=';
const cached = { kind: 'cache', strict: false, substituter: 'http://cache.lan:8080', publicKey: KEY } as const;
export const recordedCacheRun: FleetEvent[] = record([
  [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: ['web-1', 'web-2'], fleetVersion: '0.1.0' }],
  [1, {
    type: 'plan',
    plan: {
      goal: 'switch', builds: [],
      nodes: ['web-1', 'web-2'].map((n) => ({ name: n, drvPath: drv('web'), outPath: neu('web'), to: { system: neu('web') }, copy: cached, activate: true, reason: 'switch needed' })),
      upload: { url: 'file:///srv/nix-cache', closures: [neu('web')] },
    },
  }],
  [2, { type: 'cache-upload', url: 'file:///srv/nix-cache', closures: 1, ok: true, paths: 12, skipped: 3, bytes: 31_457_280 }],
  [3, { type: 'copy-done', node: 'web-1', route: 'cache', paths: 12, bytes: 31_457_280 }],
  [3, { type: 'cache-fallback', node: 'web-2', reason: 'cannot reach the cache at http://cache.lan:8080 (Couldn\'t connect to server (7))' }],
  [4, { type: 'copy-done', node: 'web-2', route: 'from-local', paths: 12, bytes: 31_457_280 }],
  [5, { type: 'node-done', node: 'web-1', outcome: 'activated' }],
  [5, { type: 'node-done', node: 'web-2', outcome: 'activated' }],
  [5, { type: 'summary', command: 'apply', goal: 'switch', exitCode: 0, durationMs: 5000, interrupted: false, nodes: { 'web-1': { outcome: 'activated' }, 'web-2': { outcome: 'activated' } } }],
]);
