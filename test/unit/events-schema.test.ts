// schema/events.schema.json is the NDJSON contract: it must accept what fleet emits, refuse anything else,
// and say exactly what src/events.ts says. The records below are typed so that `npm run typecheck` fails when
// src/events.ts gains or loses an event type or field; the tests then fail until the schema says the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { Phase } from '../../src/errors.js';
import { EVENTS_VERSION, readEventLines, type BodyOf, type Command, type CopyDoneRoute, type EvalChunkEnd, type EventBody, type EventOf, type ExecGroup, type ExecOutcome, type ExecResult, type FleetEvent, type Outcome, type OutputStream, type PauseReason, type ReviewState, type WaveVerdict } from '../../src/events.js';
import { GOALS } from '../../src/goal.js';
import { NODE_STATES, type LastDeploy, type NodeState } from '../../src/status/classify.js';
import type { PackageChange } from '../../src/diff/closure.js';
import type { BuildJob, BuildLocation, CopyRoute, NodePlan, Plan, Wave } from '../../src/plan/types.js';
import type { LockHolder, SystemState, TargetLock } from '../../src/target/state.js';
import { assertValidEvents, eventProblems, eventsSchemaPath } from '../events-validate.js';
import { CHECK_NAMES, CHECK_STATUSES, type CheckName, type CheckStatus, type DoctorHost, type DoctorRole } from '../../src/doctor/types.js';
import { record, recordedCacheRun, recordedDiffRun, recordedDoctorRun, recordedEvalRun, recordedExecRun, recordedKeysRun, recordedRun, recordedStatusRun, rolloutRun, storePath } from './ui-fixture.js';
import type { KeysStatus } from '../../src/keys/protocol.js';

type Json = Record<string, unknown>;
interface SchemaNode { properties?: Record<string, Json>; required?: string[]; enum?: unknown[]; oneOf?: SchemaNode[]; $ref?: string }
const schema = JSON.parse(readFileSync(eventsSchemaPath, 'utf8')) as SchemaNode & { $defs: Record<string, SchemaNode>; allOf: { if: SchemaNode; then: SchemaNode }[] };
const envelope = ['v', 'run', 'seq', 'time'];
const sorted = (keys: Iterable<string>) => [...keys].sort();

/** The keys an object type must have (optional ones left out). */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

// One event of each type with EVERY field: a new type or field in src/events.ts is a type error here.
const path = storePath('9e70000', 'nixos-system-web-1');
const plan: Required<Plan> = {
  goal: 'switch',
  builds: [{ id: 'local', location: { kind: 'local' }, drvPaths: [`${path}.drv`], nodes: ['web-1'] }],
  nodes: [{
    name: 'web-1', drvPath: `${path}.drv`, outPath: path, to: { system: path }, buildJob: 'local', copy: { kind: 'from-local' },
    activate: true, reason: 'switch needed', from: { profileLink: 'system-4-link', generation: 4, profileTarget: path, currentSystem: path, bootedSystem: path },
    lock: { state: 'taken', expired: true, holder: { run: '20250102T120000Z-0a1b2c3d', by: 'ci@runner-1', pid: 42, since: 1735819200, expires: 1735819500 } },
  }],
  waves: [{ nodes: ['web-1'], maxFailures: 0 }],
  upload: { url: 'file:///srv/nix-cache', closures: [path] },
};
const change: Required<PackageChange> = { name: 'hello', before: ['2.10'], after: ['2.12'], sizeDelta: -3 };
const everyField: { [K in EventBody['type']]: Required<BodyOf<K>> } = {
  'run-start': { type: 'run-start', command: 'apply', goal: 'switch', nodes: ['web-1'], fleetVersion: '0.1.0' },
  plan: { type: 'plan', plan },
  'build-start': { type: 'build-start', build: 'local', drvPaths: [`${path}.drv`], nodes: ['web-1'] },
  'build-done': { type: 'build-done', build: 'local', ok: false, error: 'failed', log: ['a'] },
  'node-phase': { type: 'node-phase', node: 'web-1', phase: 'copy', detail: 'from local' },
  'copy-done': { type: 'copy-done', node: 'web-1', route: 'direct', paths: 12, bytes: 4096 },
  'cache-upload': { type: 'cache-upload', url: 'file:///srv/nix-cache', closures: 1, ok: false, paths: 3, skipped: 9, bytes: 4096, error: 'x' },
  'cache-fallback': { type: 'cache-fallback', node: 'web-1', reason: 'cannot reach http://cache.lan' },
  keys: { type: 'keys', node: 'web-1', changed: ['tls.key'], unchanged: 28, removed: ['/run/keys/old'], uploadAt: 'pre-activation' },
  log: { type: 'log', node: 'web-1', build: 'local', line: 'x' },
  'node-done': { type: 'node-done', node: 'web-1', outcome: 'failed', error: 'x', log: ['a'], cause: 'deployer-overloaded' },
  'wave-start': { type: 'wave-start', wave: 1, nodes: ['web-1'] },
  'wave-done': { type: 'wave-done', wave: 1, failures: 1, verdict: 'failed' },
  health: { type: 'health', node: 'web-1', check: 'nginx', attempt: 1, attempts: 4, ok: false, detail: 'exit 3' },
  review: { type: 'review', state: 'declined' },
  paused: { type: 'paused', wave: 2, reason: 'requested' },
  resumed: { type: 'resumed', wave: 2 },
  diff: {
    type: 'diff', nodes: ['web-1'], added: [change], removed: [change], changed: [change],
    systems: { 'web-1': { from: path, to: path, sizeBefore: 1, sizeAfter: 2, sizeDelta: 1 } },
  },
  status: {
    type: 'status', node: 'web-1', state: 'outdated', reason: 'runs an earlier deploy', desired: path, system: plan.nodes[0]!.from!,
    lastDeploy: { kind: 'deploy', run: 'r', time: '2025-01-02T12:00:00.000Z', goal: 'switch', toplevel: path, generation: 4, rev: 'unknown', dirty: true, by: 'ci@runner-1', on: 'all', message: 'm' },
    lock: plan.nodes[0]!.lock!,
    keys: { current: 2, missing: ['wg'], outdated: ['tls.key'], stale: ['/run/keys/old'], error: 'x' },
  },
  'eval-chunk': { type: 'eval-chunk', chunk: 1, worker: 1, nodes: ['web-1', 'web-2'], failed: ['web-2'], retried: [], wallMs: 1200, peakRss: 650_000_000, ended: 'failed' },
  'eval-done': { type: 'eval-done', nodes: 1, failed: 1, chunks: 1, workers: 1, peakRss: 650_000_000, wallMs: 1300, budget: 1_610_612_736, alone: ['web-1'] },
  'doctor-start': { type: 'doctor-start', hosts: [{ name: 'web-1', role: 'node', address: 'root@web-1:22' }], fleetVersion: '0.1.0' },
  'doctor-check': { type: 'doctor-check', host: 'web-1', role: 'node', check: 'disk-nix', status: 'fail', detail: 'full', fix: 'free space', value: 1024 },
  'doctor-summary': { type: 'doctor-summary', exitCode: 1, durationMs: 10, interrupted: false, checks: { ok: 1, warn: 0, fail: 1, skip: 0 } },
  'exec-start': { type: 'exec-start', command: ['systemctl', 'restart', 'nginx'], sudo: true, timeoutMs: 30000, nodes: ['web-1'], fleetVersion: '0.1.0' },
  'exec-output': { type: 'exec-output', node: 'web-1', stream: 'stderr', line: 'Job for nginx.service failed' },
  'exec-done': { type: 'exec-done', node: 'web-1', outcome: 'failed', exitCode: 1, durationMs: 120, error: 'exit 1' },
  'exec-summary': {
    type: 'exec-summary', exitCode: 1, durationMs: 130, interrupted: false,
    nodes: { 'web-1': { outcome: 'failed', exitCode: 1, durationMs: 120, error: 'exit 1' } }, groups: [{ outcome: 'failed', exitCode: 1, nodes: ['web-1'] }],
  },
  summary: {
    type: 'summary', command: 'apply', goal: 'switch', exitCode: 1, durationMs: 10, interrupted: false,
    nodes: { 'web-1': { outcome: 'failed', error: 'x' } },
  },
};
// Which fields each type requires: a field turning optional (or required) in src/events.ts is a type error here.
const requiredFields: { [K in EventBody['type']]: Record<RequiredKeys<BodyOf<K>>, true> } = {
  'run-start': { type: true, command: true, goal: true, nodes: true, fleetVersion: true },
  plan: { type: true, plan: true },
  'build-start': { type: true, build: true, drvPaths: true, nodes: true },
  'build-done': { type: true, build: true, ok: true },
  'node-phase': { type: true, node: true, phase: true, detail: true },
  'copy-done': { type: true, node: true, route: true, paths: true },
  'cache-upload': { type: true, url: true, closures: true, ok: true, paths: true, skipped: true },
  'cache-fallback': { type: true, node: true, reason: true },
  keys: { type: true, node: true, changed: true, unchanged: true, removed: true },
  log: { type: true, line: true },
  'node-done': { type: true, node: true, outcome: true },
  'wave-start': { type: true, wave: true, nodes: true },
  'wave-done': { type: true, wave: true, failures: true, verdict: true },
  health: { type: true, node: true, check: true, attempt: true, attempts: true, ok: true, detail: true },
  review: { type: true, state: true },
  paused: { type: true, wave: true, reason: true },
  resumed: { type: true, wave: true },
  diff: { type: true, nodes: true, added: true, removed: true, changed: true, systems: true },
  status: { type: true, node: true, state: true, reason: true, desired: true },
  'eval-chunk': { type: true, chunk: true, worker: true, nodes: true, failed: true, retried: true, wallMs: true, peakRss: true, ended: true },
  'eval-done': { type: true, nodes: true, failed: true, chunks: true, workers: true, peakRss: true, wallMs: true, alone: true },
  'doctor-start': { type: true, hosts: true, fleetVersion: true },
  'doctor-check': { type: true, host: true, role: true, check: true, status: true, detail: true },
  'doctor-summary': { type: true, exitCode: true, durationMs: true, interrupted: true, checks: true },
  'exec-start': { type: true, command: true, sudo: true, nodes: true, fleetVersion: true },
  'exec-output': { type: true, node: true, stream: true, line: true },
  'exec-done': { type: true, node: true, outcome: true },
  'exec-summary': { type: true, exitCode: true, durationMs: true, interrupted: true, nodes: true, groups: true },
  summary: { type: true, command: true, goal: true, exitCode: true, durationMs: true, interrupted: true, nodes: true },
};
const phases: Record<Phase, true> = { connect: true, evaluate: true, query: true, build: true, copy: true, activate: true, verify: true, confirm: true, health: true, rollback: true, ready: true, keys: true, reboot: true };
const outcomes: Record<Outcome, true> = {
  unchanged: true, activated: true, built: true, pushed: true, 'rolled-back': true, 'rollback-failed': true, failed: true, skipped: true, locked: true, held: true,
  rebooted: true, 'unreachable-after-reboot': true,
};
const verdicts: Record<WaveVerdict, true> = { passed: true, failed: true, interrupted: true };
const reviewStates: Record<ReviewState, true> = { waiting: true, approved: true, declined: true };
const pauseReasons: Record<PauseReason, true> = { requested: true, confirm: true };
const copyDoneRoutes: Record<CopyDoneRoute, true> = { 'from-local': true, direct: true, relay: true, cache: true };
const chunkEnds: Record<EvalChunkEnd, true> = { done: true, failed: true, 'over-budget': true, interrupted: true };
const commands: Record<Command, true> = { apply: true, plan: true, diff: true, status: true, rollback: true, keys: true, reboot: true };
const locations: { [K in BuildLocation['kind']]: Required<Extract<BuildLocation, { kind: K }>> } = {
  local: { kind: 'local' }, builders: { kind: 'builders' }, node: { kind: 'node', node: 'a' }, builder: { kind: 'builder', builder: 'b' }, host: { kind: 'host', user: 'u', host: 'h', port: 22 },
};
const copies: { [K in CopyRoute['kind']]: Required<Extract<CopyRoute, { kind: K }>> } = {
  none: { kind: 'none', reason: 'present' }, 'from-local': { kind: 'from-local' }, 'from-build-host': { kind: 'from-build-host', buildJob: 'x' },
  cache: { kind: 'cache', strict: true, substituter: 'http://cache.lan', publicKey: 'k:x', buildJob: 'builder:big' },
};
const copyNoneReasons: Record<Extract<CopyRoute, { kind: 'none' }>['reason'], true> = { present: true, 'built-on-target': true, 'not-needed': true };

function resolve(node: SchemaNode): SchemaNode {
  return node.$ref ? resolve(schema.$defs[node.$ref.replace('#/$defs/', '')]!) : node;
}
/** The definition the schema applies to events of `type`. */
function definitionOf(type: string): SchemaNode {
  const branch = schema.allOf.find((b) => (b.if.properties?.type as { const?: string } | undefined)?.const === type);
  assert.ok(branch, `no definition for ${type}`);
  return resolve(branch.then);
}
const stamp = (body: EventBody, seq = 1): FleetEvent => ({ ...body, v: EVENTS_VERSION, run: 'r', seq, time: '2025-01-02T12:00:00.000Z' }) as FleetEvent;

// Streams recorded from real lab runs by scripts/record-ui-fixtures.ts (the ink UI's tests replay them).
const fixturesDir = new URL('../fixtures/ui/', import.meta.url);
const labRecordings = Object.fromEntries(readdirSync(fixturesDir).filter((f) => f.endsWith('.ndjson')).sort().map((f) => [f, readFileSync(new URL(f, fixturesDir), 'utf8')]));

void test('schema: every event of the recorded runs (apply, rollout, diff, status, doctor, evaluation, and the lab recordings) is valid, and together they have every event type', () => {
  assertValidEvents(recordedRun);
  assertValidEvents(rolloutRun);
  assertValidEvents(recordedDiffRun);
  assertValidEvents(recordedStatusRun);
  assertValidEvents(recordedDoctorRun);
  assertValidEvents(recordedEvalRun);
  assertValidEvents(recordedKeysRun);
  assertValidEvents(recordedExecRun);
  assertValidEvents(recordedCacheRun);
  const recorded = Object.values(labRecordings).map((text) => readEventLines(text));
  for (const events of recorded) assertValidEvents(events);
  assert.deepEqual(sorted(new Set([...recordedRun, ...rolloutRun, ...recordedDiffRun, ...recordedStatusRun, ...recordedDoctorRun, ...recordedEvalRun, ...recordedKeysRun, ...recordedExecRun, ...recordedCacheRun, ...recorded.flat()].map((e) => e.type))), sorted(Object.keys(everyField)));
});

void test('the lab recordings: each is one whole run as fleet wrote it (one event per line, one run id, seq 1..n, run-start first, summary last)', () => {
  assert.deepEqual(Object.keys(labRecordings), ['declined.ndjson', 'locked.ndjson', 'review-waves.ndjson', 'rollback-failed.ndjson', 'status.ndjson', 'wave-rollback.ndjson']);
  for (const [file, text] of Object.entries(labRecordings)) {
    const lines = text.split('\n');
    assert.equal(lines.pop(), '', `${file} ends with a newline`);
    const events = readEventLines(text);
    assert.equal(events.length, lines.length, `${file}: every line is an event`);
    assert.equal(new Set(events.map((e) => e.run)).size, 1, file);
    assert.deepEqual(events.map((e) => e.seq), events.map((_e, i) => i + 1), file);
    assert.deepEqual([events[0]!.type, events.at(-1)!.type], ['run-start', 'summary'], file);
  }
});

void test('schema: a status event has the fields of src/status (NodeState, LastDeploy) and refuses others', () => {
  const def = schema.$defs;
  const states: Record<NodeState, true> = { 'in-sync': true, outdated: true, drifted: true, 'pending-reboot': true, 'keys-missing': true, 'keys-outdated': true, unreachable: true, locked: true };
  assert.deepEqual(sorted(def.NodeState!.enum as string[]), sorted(Object.keys(states)));
  assert.deepEqual(sorted(NODE_STATES), sorted(Object.keys(states)));
  const last: Required<LastDeploy> = everyField.status.lastDeploy as Required<LastDeploy>;
  assert.deepEqual(sorted(Object.keys(def.LastDeploy!.properties!)), sorted(Object.keys(last)));
  const lastRequired: Record<RequiredKeys<LastDeploy>, true> = { kind: true, run: true, time: true, goal: true, toplevel: true, rev: true, by: true, on: true };
  assert.deepEqual(sorted(def.LastDeploy!.required!), sorted(Object.keys(lastRequired)));
  const status = recordedStatusRun.find((e) => e.type === 'status')!;
  assert.match(eventProblems({ ...status, state: 'fine' }).join('\n'), /\/state must be equal to one of the allowed values/);
  assert.match(eventProblems({ ...status, lastDeploy: { ...last, extra: 1 } }).join('\n'), /must NOT have additional properties "extra"/);
  assert.match(eventProblems({ ...status, lastDeploy: { ...last, kind: 'undo' } }).join('\n'), /\/lastDeploy\/kind must be equal to one of the allowed values/);
  const keys: Required<KeysStatus> = everyField.status.keys as Required<KeysStatus>;
  assert.deepEqual(sorted(Object.keys(def.KeysStatus!.properties!)), sorted(Object.keys(keys)));
  const keysRequired: Record<RequiredKeys<KeysStatus>, true> = { current: true, missing: true, outdated: true, stale: true };
  assert.deepEqual(sorted(def.KeysStatus!.required!), sorted(Object.keys(keysRequired)));
  assert.match(eventProblems({ ...status, keys: { ...keys, secret: 'x' } }).join('\n'), /must NOT have additional properties "secret"/);
  const { desired: _desired, ...noDesired } = status as EventOf<'status'>;
  assert.match(eventProblems(noDesired).join('\n'), /must have required property 'desired'/);
});

void test('schema: a diff event has the fields of src/diff (PackageChange, systems) and refuses others', () => {
  const def = schema.$defs;
  assert.deepEqual(sorted(Object.keys(def.PackageChange!.properties!)), sorted(Object.keys(change)));
  assert.deepEqual(sorted(def.PackageChange!.required!), sorted(Object.keys(change)));
  const systems = (def.DiffEvent!.properties!.systems as { additionalProperties: SchemaNode }).additionalProperties;
  assert.deepEqual(sorted(Object.keys(systems.properties!)), sorted(Object.keys(everyField.diff.systems['web-1']!)));
  const diff = recordedDiffRun.find((e) => e.type === 'diff')!;
  assert.match(eventProblems({ ...diff, changed: [{ ...change, extra: 1 }] }).join('\n'), /must NOT have additional properties "extra"/);
  assert.match(eventProblems({ ...diff, added: [{ ...change, sizeDelta: 1.5 }] }).join('\n'), /sizeDelta must be integer/);
  assert.match(eventProblems({ ...diff, nodes: [] }).join('\n'), /\/nodes must NOT have fewer than 1 items/);
  const { systems: _systems, ...noSystems } = diff as EventOf<'diff'>;
  assert.match(eventProblems(noSystems).join('\n'), /must have required property 'systems'/);
});

void test('schema: doctor events have the fields of src/doctor/types.ts; check names, statuses and roles equal its unions', () => {
  const def = schema.$defs;
  const enumOf = (name: string) => sorted(def[name]!.enum as string[]);
  const names: Record<CheckName, true> = Object.fromEntries(CHECK_NAMES.map((n) => [n, true])) as Record<CheckName, true>;
  const statuses: Record<CheckStatus, true> = { ok: true, warn: true, fail: true, skip: true };
  const roles: Record<DoctorRole, true> = { deployer: true, node: true, builder: true };
  assert.deepEqual(enumOf('CheckName'), sorted(Object.keys(names)));
  assert.deepEqual(enumOf('CheckStatus'), sorted(Object.keys(statuses)));
  assert.deepEqual(sorted(CHECK_STATUSES), sorted(Object.keys(statuses)));
  assert.deepEqual(enumOf('DoctorRole'), sorted(Object.keys(roles)));
  const host: Required<DoctorHost> = everyField['doctor-start'].hosts[0]!;
  assert.deepEqual(sorted(Object.keys(def.DoctorHost!.properties!)), sorted(Object.keys(host)));
  const counts = (def.DoctorSummaryEvent!.properties!.checks as SchemaNode).properties!;
  assert.deepEqual(sorted(Object.keys(counts)), sorted(Object.keys(statuses)));
  const check = recordedDoctorRun.find((e) => e.type === 'doctor-check')!;
  assert.match(eventProblems({ ...check, status: 'fine' }).join('\n'), /\/status must be equal to one of the allowed values/);
  assert.match(eventProblems({ ...check, check: 'vibes' }).join('\n'), /\/check must be equal to one of the allowed values/);
  const { detail: _detail, ...noDetail } = check as EventOf<'doctor-check'>;
  assert.match(eventProblems(noDetail).join('\n'), /must have required property 'detail'/);
  const summary = recordedDoctorRun.at(-1)!;
  assert.match(eventProblems({ ...summary, checks: { ok: 1, warn: 0, fail: 0 } }).join('\n'), /must have required property 'skip'/);
});

void test('schema: exec events have the fields of src/events.ts (ExecResult, ExecGroup); outcomes and streams equal its unions', () => {
  const def = schema.$defs;
  const execOutcomes: Record<ExecOutcome, true> = { ok: true, failed: true, 'timed-out': true, unreachable: true, interrupted: true, skipped: true, held: true };
  assert.deepEqual(sorted(def.ExecOutcome!.enum as string[]), sorted(Object.keys(execOutcomes)));
  const result: Required<ExecResult> = everyField['exec-summary'].nodes['web-1'] as Required<ExecResult>;
  assert.deepEqual(sorted(Object.keys(def.ExecResult!.properties!)), sorted(Object.keys(result)));
  const group: Required<ExecGroup> = everyField['exec-summary'].groups[0] as Required<ExecGroup>;
  const groups = (def.ExecSummaryEvent!.properties!.groups as { items: SchemaNode }).items;
  assert.deepEqual(sorted(Object.keys(groups.properties!)), sorted(Object.keys(group)));
  const streams: Record<OutputStream, true> = { stdout: true, stderr: true };
  assert.deepEqual(sorted((def.ExecOutputEvent!.properties!.stream as SchemaNode).enum as string[]), sorted(Object.keys(streams)));
  const done = recordedExecRun.find((e) => e.type === 'exec-done')!;
  assert.match(eventProblems({ ...done, outcome: 'meh' }).join('\n'), /\/outcome must be equal to one of the allowed values/);
  assert.match(eventProblems({ ...done, exitCode: -1 }).join('\n'), /\/exitCode must be >= 0/);
  const summary = recordedExecRun.at(-1)!;
  assert.match(eventProblems({ ...summary, nodes: { 'web-1': { outcome: 'ok', extra: 1 } } }).join('\n'), /must NOT have additional properties "extra"/);
});

void test('schema: its event types are exactly those of src/events.ts', () => {
  assert.deepEqual(sorted(schema.properties!.type!.enum as string[]), sorted(Object.keys(everyField)));
  assert.equal(schema.allOf.length, Object.keys(everyField).length);
});

void test('schema: per event type, the same fields and the same required ones as src/events.ts', () => {
  for (const [type, sample] of Object.entries(everyField)) {
    const def = definitionOf(type);
    assert.deepEqual(sorted(Object.keys(def.properties!)), sorted([...envelope, ...Object.keys(sample)]), `${type}: fields`);
    assert.deepEqual(sorted(def.required!), sorted([...envelope, ...Object.keys(requiredFields[type as EventBody['type']])]), `${type}: required`);
    assert.equal((def as Json).additionalProperties, false, `${type}: additionalProperties`);
  }
});

void test('schema: every field of every type accepted (a log line names a node or a build)', () => {
  for (const [type, body] of Object.entries(everyField)) {
    if (type === 'log') continue;
    assert.deepEqual(eventProblems(stamp(body as EventBody)), [], type);
  }
  const { build: _build, ...nodeLog } = everyField.log;
  const { node: _node, ...buildLog } = everyField.log;
  assert.deepEqual(eventProblems(stamp(nodeLog)), []);
  assert.deepEqual(eventProblems(stamp(buildLog)), []);
  assert.notDeepEqual(eventProblems(stamp(everyField.log)), [], 'both node and build');
  assert.notDeepEqual(eventProblems(stamp({ type: 'log', line: 'x' })), [], 'neither node nor build');
});

void test('schema: enums equal the TypeScript unions (Goal, Command, Phase, Outcome)', () => {
  const enumOf = (name: string) => sorted(schema.$defs[name]!.enum as string[]);
  assert.deepEqual(enumOf('Goal'), sorted(GOALS));
  assert.deepEqual(enumOf('Command'), sorted(Object.keys(commands)));
  assert.deepEqual(enumOf('Phase'), sorted(Object.keys(phases)));
  assert.deepEqual(enumOf('Outcome'), sorted(Object.keys(outcomes)));
  assert.deepEqual(enumOf('WaveVerdict'), sorted(Object.keys(verdicts)));
  assert.deepEqual(enumOf('ReviewState'), sorted(Object.keys(reviewStates)));
  assert.deepEqual(enumOf('PauseReason'), sorted(Object.keys(pauseReasons)));
  assert.deepEqual(enumOf('CopyDoneRoute'), sorted(Object.keys(copyDoneRoutes)));
  assert.deepEqual(enumOf('EvalChunkEnd'), sorted(Object.keys(chunkEnds)));
});

void test('schema: the plan structures have the fields of src/plan/types.ts', () => {
  const fields = (name: string) => sorted(Object.keys(schema.$defs[name]!.properties!));
  const job: Required<BuildJob> = plan.builds[0]!;
  const node: Required<NodePlan> = plan.nodes[0]! as Required<NodePlan>;
  const state: Required<SystemState> = node.from as Required<SystemState>;
  const lock: Required<TargetLock> = node.lock as Required<TargetLock>;
  const holder: Required<LockHolder> = lock.holder;
  assert.deepEqual(fields('Plan'), sorted(Object.keys(plan)));
  assert.deepEqual(fields('BuildJob'), sorted(Object.keys(job)));
  assert.deepEqual(fields('NodePlan'), sorted(Object.keys(node)));
  assert.deepEqual(fields('SystemState'), sorted(Object.keys(state)));
  assert.deepEqual(fields('TargetLock'), sorted(Object.keys(lock)));
  assert.deepEqual(fields('LockHolder'), sorted(Object.keys(holder)));
  const lockStates: Record<TargetLock['state'], true> = { held: true, taken: true };
  assert.deepEqual(sorted(schema.$defs.TargetLock!.properties!.state!.enum as string[]), sorted(Object.keys(lockStates)));
  const wave: Required<Wave> = plan.waves[0]!;
  assert.deepEqual(fields('Wave'), sorted(Object.keys(wave)));
  assert.deepEqual(sorted(schema.$defs.Wave!.required!), sorted(Object.keys(wave)));
  const { waves: _waves, ...unstaged } = plan;
  assert.deepEqual(eventProblems(stamp({ type: 'plan', plan: unstaged })), [], 'a plan without waves');
  assert.notDeepEqual(eventProblems(stamp({ type: 'plan', plan: { ...plan, waves: [{ nodes: [], maxFailures: 0 }] } })), [], 'an empty wave');
  const branches = (name: string) => Object.fromEntries(schema.$defs[name]!.oneOf!.map((b) => [(b.properties!.kind as { const: string }).const, sorted(Object.keys(b.properties!))]));
  assert.deepEqual(branches('BuildLocation'), Object.fromEntries(Object.entries(locations).map(([k, v]) => [k, sorted(Object.keys(v))])));
  assert.deepEqual(branches('CopyRoute'), Object.fromEntries(Object.entries(copies).map(([k, v]) => [k, sorted(Object.keys(v))])));
  assert.deepEqual(sorted(schema.$defs.CopyRoute!.oneOf![0]!.properties!.reason!.enum as string[]), sorted(Object.keys(copyNoneReasons)));
  for (const location of Object.values(locations)) {
    assert.deepEqual(eventProblems(stamp({ type: 'plan', plan: { ...plan, builds: [{ ...job, location }] } })), [], location.kind);
  }
  for (const copy of Object.values(copies)) {
    assert.deepEqual(eventProblems(stamp({ type: 'plan', plan: { ...plan, nodes: [{ ...node, copy }] } })), [], copy.kind);
  }
});

void test('schema: refuses a missing field, an extra field, a wrong version, an unknown type', () => {
  for (const e of recordedRun) {
    assert.notDeepEqual(eventProblems({ ...e, extra: 1 }), [], `${e.type} with an extra field`);
    for (const key of envelope) {
      const { [key as keyof FleetEvent]: _gone, ...without } = e;
      assert.notDeepEqual(eventProblems(without), [], `${e.type} without ${key}`);
    }
    for (const v of [1, 3, '2', null]) assert.notDeepEqual(eventProblems({ ...e, v }), [], `${e.type} with v ${String(v)}`);
  }
  const done = recordedRun.find((e) => e.type === 'node-done')!;
  const { outcome: _outcome, ...noOutcome } = done as Extract<FleetEvent, { type: 'node-done' }>;
  assert.match(eventProblems(noOutcome).join('\n'), /must have required property 'outcome'/);
  assert.match(eventProblems({ ...done, extra: 1 }).join('\n'), /must NOT have additional properties "extra"/);
  assert.match(eventProblems({ ...done, v: 1 }).join('\n'), /\/v must be equal to constant/);
  assert.match(eventProblems({ ...done, outcome: 'ok' }).join('\n'), /\/outcome must be equal to one of the allowed values/);
  assert.match(eventProblems({ ...done, type: 'node-started' }).join('\n'), /\/type must be equal to one of the allowed values/);
  assert.notDeepEqual(eventProblems({ ...done, seq: 0 }), []);
  assert.notDeepEqual(eventProblems({ ...done, time: 'yesterday' }), []);
  // Deep in the plan: an extra field on a node's plan entry.
  const planEvent = recordedRun.find((e) => e.type === 'plan')!;
  const p = (planEvent as Extract<FleetEvent, { type: 'plan' }>).plan;
  assert.notDeepEqual(eventProblems({ ...planEvent, plan: { ...p, nodes: [{ ...p.nodes[0]!, from: { generation: 'x' } }] } }), []);
  assert.notDeepEqual(eventProblems({ ...planEvent, plan: { ...p, nodes: [{ ...p.nodes[0]!, extra: true }] } }), []);
});

void test('docs/events.md: its example run is valid, in order, and every event type it names exists', () => {
  const doc = readFileSync(new URL('../../docs/events.md', import.meta.url), 'utf8');
  const block = /```ndjson\n([^]*?)```/.exec(doc);
  assert.ok(block, 'an ndjson example');
  const events = block[1]!.trim().split('\n').map((l) => JSON.parse(l) as FleetEvent);
  assertValidEvents(events);
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
  assert.deepEqual([events[0]!.type, events.at(-1)!.type], ['run-start', 'summary']);
  const section = doc.slice(doc.indexOf('## Event types'), doc.indexOf('## The plan'));
  const documented = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]!).slice(1); // the header is `type`
  assert.deepEqual(sorted(documented), sorted(Object.keys(everyField)));
});

void test('assertValidEvents: one error listing every invalid event with its problems', () => {
  const events = record([
    [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: ['a'], fleetVersion: '0' }],
    [1, { type: 'node-phase', node: 'a', phase: 'copy', detail: 'x' }],
    [2, { type: 'node-done', node: 'a', outcome: 'activated' }],
  ]);
  assert.doesNotThrow(() => assertValidEvents(events));
  const bad = [events[0], { ...events[1]!, phase: 'teleport' }, events[2], { ...events[2]!, v: 1, extra: 'x' }];
  assert.throws(() => assertValidEvents(bad), (err: Error) => {
    assert.match(err.message, /^2 of 4 events do not match schema\/events\.schema\.json:/);
    assert.match(err.message, /event #1 \(type "node-phase", seq 2\).*\n {2}- \/phase must be equal to one of the allowed values/);
    assert.match(err.message, /event #3 \(type "node-done", seq 3\)/);
    assert.match(err.message, /- \(event\) must NOT have additional properties "extra"/);
    assert.match(err.message, /- \/v must be equal to constant/);
    assert.doesNotMatch(err.message, /event #0|event #2/);
    return true;
  });
});
